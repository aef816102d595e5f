package client

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff is capped exponential backoff with jitter: the n-th wait since
// the last success is a random duration between half and all of
// min(Max, Base·2ⁿ), so clients that lost the service together do not come
// back together.
type Backoff struct {
	Base, Max time.Duration
}

// backoff is a Backoff in use.
type backoff struct {
	Backoff
	attempt int
}

func (b Backoff) start(base, max time.Duration) *backoff {
	if b.Base <= 0 {
		b.Base = base
	}
	if b.Max <= 0 {
		b.Max = max
	}
	b.Max = maxDuration(b.Max, b.Base)
	return &backoff{Backoff: b}
}

func maxDuration(a, b time.Duration) time.Duration {
	if a > b {
		return a
	}
	return b
}

func (b *backoff) next() time.Duration {
	d := b.Max
	if b.attempt < 32 {
		if e := b.Base << b.attempt; e > 0 && e < b.Max {
			d = e
		}
	}
	b.attempt++
	return d/2 + rand.N(d/2+1)
}

func (b *backoff) reset() { b.attempt = 0 }

// sleep waits d, or until ctx is done (then it returns false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
