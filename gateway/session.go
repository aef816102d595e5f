package gateway

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoSession is what a SessionStore answers for a key it does not hold
// (never stored, deleted, taken or expired).
var ErrNoSession = errors.New("gateway: no such session")

// SessionStore keeps what browser sign-in remembers between requests:
// sessions, sign-ins under way (state, nonce, PKCE verifier) and one-time
// sign-in links, each an opaque value under a key, until its ttl ends.
// Gateways that share a store share their browsers' sessions. Keys are
// hashes of what the browser holds (signin.go), never the cookie itself.
type SessionStore interface {
	// Put stores value under key for ttl, replacing what was there.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Get returns the value under key, or ErrNoSession.
	Get(ctx context.Context, key string) ([]byte, error)
	// Take returns the value under key and deletes it, atomically: of two
	// callers taking one key, one gets ErrNoSession. One-time things
	// (sign-in links, login state) are taken.
	Take(ctx context.Context, key string) ([]byte, error)
	// Delete removes key; deleting what is not there is no error.
	Delete(ctx context.Context, key string) error
}

// MemorySessions is a SessionStore in process: sessions end with it, and
// other gateways do not see them.
type MemorySessions struct {
	now func() time.Time

	mu      sync.Mutex
	entries map[string]memoryEntry
	puts    int
}

type memoryEntry struct {
	value   []byte
	expires time.Time
}

// NewMemorySessions returns an empty in-process store.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{now: time.Now, entries: map[string]memoryEntry{}}
}

// memorySweepEvery is how many Puts pass between sweeps of expired entries,
// so abandoned sign-ins do not pile up, at a cost spread thin.
const memorySweepEvery = 256

func (m *MemorySessions) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if m.puts++; m.puts%memorySweepEvery == 0 {
		for k, e := range m.entries {
			if !now.Before(e.expires) {
				delete(m.entries, k)
			}
		}
	}
	m.entries[key] = memoryEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

func (m *MemorySessions) Get(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lookup(key)
}

// lookup returns key's live value; m.mu must be held.
func (m *MemorySessions) lookup(key string) ([]byte, error) {
	e, ok := m.entries[key]
	if !ok {
		return nil, ErrNoSession
	}
	if !m.now().Before(e.expires) {
		delete(m.entries, key)
		return nil, ErrNoSession
	}
	return append([]byte(nil), e.value...), nil
}

func (m *MemorySessions) Take(_ context.Context, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, err := m.lookup(key)
	delete(m.entries, key)
	return v, err
}

func (m *MemorySessions) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.entries, key)
	return nil
}

// RedisSessions is a SessionStore in Redis, shared by every gateway using
// the same server and prefix. Redis expires entries itself.
type RedisSessions struct {
	client *redis.Client
	prefix string
}

// NewRedisSessions stores under prefix in client's database. Deployments
// sharing a server use different prefixes.
func NewRedisSessions(client *redis.Client, prefix string) *RedisSessions {
	return &RedisSessions{client: client, prefix: prefix}
}

func (s *RedisSessions) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.client.Set(ctx, s.prefix+key, value, ttl).Err()
}

func (s *RedisSessions) Get(ctx context.Context, key string) ([]byte, error) {
	return redisValue(s.client.Get(ctx, s.prefix+key).Bytes())
}

func (s *RedisSessions) Take(ctx context.Context, key string) ([]byte, error) {
	return redisValue(s.client.GetDel(ctx, s.prefix+key).Bytes())
}

func (s *RedisSessions) Delete(ctx context.Context, key string) error {
	return s.client.Del(ctx, s.prefix+key).Err()
}

func redisValue(v []byte, err error) ([]byte, error) {
	if errors.Is(err, redis.Nil) {
		return nil, ErrNoSession
	}
	return v, err
}
