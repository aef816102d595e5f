package ratelimit

import (
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// DefaultLocalKeys is how many buckets a [Local] store keeps by default.
const DefaultLocalKeys = 100_000

// Local keeps buckets in this process (golang.org/x/time/rate), for one
// instance or while Redis is away. It keeps at most a fixed number of
// buckets, forgetting the least recently used, so that a stream of new
// addresses cannot grow it without bound; a forgotten bucket was idle the
// longest, and comes back full.
type Local struct {
	mu      sync.Mutex // makes get-or-create one step
	buckets *lru.Cache[string, *rate.Limiter]
	now     func() time.Time
}

// NewLocal returns an in-process store of at most maxKeys buckets
// ([DefaultLocalKeys] if maxKeys <= 0).
func NewLocal(maxKeys int) *Local {
	if maxKeys <= 0 {
		maxKeys = DefaultLocalKeys
	}
	c, err := lru.New[string, *rate.Limiter](maxKeys)
	if err != nil {
		panic(err) // only for a size <= 0, excluded above
	}
	return &Local{buckets: c, now: time.Now}
}

// Allow implements [Store]; it never fails.
func (s *Local) Allow(_ context.Context, key string, l Limit) (Result, error) {
	now := s.now()
	s.mu.Lock()
	b, ok := s.buckets.Get(key)
	if !ok {
		b = rate.NewLimiter(rate.Limit(l.Rate), l.Burst)
		s.buckets.Add(key, b)
	}
	s.mu.Unlock()
	if b.Limit() != rate.Limit(l.Rate) || b.Burst() != l.Burst {
		b.SetLimitAt(now, rate.Limit(l.Rate))
		b.SetBurstAt(now, l.Burst)
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return Result{RetryAfter: time.Duration(float64(time.Second) / l.Rate)}, nil
	}
	if wait := r.DelayFrom(now); wait > 0 {
		r.CancelAt(now)
		return Result{RetryAfter: wait}, nil
	}
	return Result{Allowed: true}, nil
}

// Len returns how many buckets the store keeps.
func (s *Local) Len() int { return s.buckets.Len() }
