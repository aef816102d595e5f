package gateway

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
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
	limit   int // entries held at most (memorySessionLimit)
	// swept is when a full store last looked for expired entries: at
	// most once a second, so a flood does not scan it on every Put.
	swept time.Time
}

// memorySessionLimit bounds an in-process store: anyone may start a
// sign-in (each a 10-minute entry), so without a bound a flood of them
// from many addresses would grow the gateway until it fell over. A full
// store refuses new entries (503) and keeps the sessions it has.
const memorySessionLimit = 200_000

// errSessionsFull is a Put into a full MemorySessions.
var errSessionsFull = errors.New("gateway: the in-process session store is full")

type memoryEntry struct {
	value   []byte
	expires time.Time
}

// NewMemorySessions returns an empty in-process store.
func NewMemorySessions() *MemorySessions {
	return &MemorySessions{now: time.Now, entries: map[string]memoryEntry{}, limit: memorySessionLimit}
}

// memorySweepEvery is how many Puts pass between sweeps of expired entries,
// so abandoned sign-ins do not pile up, at a cost spread thin.
const memorySweepEvery = 256

func (m *MemorySessions) Put(_ context.Context, key string, value []byte, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	_, replacing := m.entries[key]
	full := !replacing && len(m.entries) >= m.limit
	if m.puts++; m.puts%memorySweepEvery == 0 || (full && now.Sub(m.swept) >= time.Second) {
		m.sweep(now)
	}
	if !replacing && len(m.entries) >= m.limit {
		return errSessionsFull
	}
	m.entries[key] = memoryEntry{value: append([]byte(nil), value...), expires: now.Add(ttl)}
	return nil
}

// sweep drops the expired entries; m.mu must be held.
func (m *MemorySessions) sweep(now time.Time) {
	m.swept = now
	for k, e := range m.entries {
		if !now.Before(e.expires) {
			delete(m.entries, k)
		}
	}
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

// sealedStore seals every value it puts in a SessionStore with AES-256-GCM
// under a key only the gateways hold, the value's store key as additional
// data: a dump of the store (a Redis backup, a read-only account) holds no
// ID token, refresh token, CSRF token or PKCE verifier, and write access
// to it cannot forge a session or a sign-in link, nor move a sealed value
// under another key. A value that does not open is as good as absent.
type sealedStore struct {
	inner SessionStore
	aead  cipher.AEAD
}

// sessionSealInfo is the HKDF info of the sealing key: a new version
// leaves every stored value unreadable, which ends every session.
const sessionSealInfo = "kinbridge gateway: session values v1"

// newSealedStore derives the sealing key from secret (SignIn.SessionKey);
// an empty secret gets a random one, so the values live as long as this
// process can read them.
func newSealedStore(inner SessionStore, secret []byte) (*sealedStore, error) {
	if len(secret) == 0 {
		secret = make([]byte, 32)
		_, _ = rand.Read(secret)
	}
	key, err := hkdf.Key(sha256.New, secret, nil, sessionSealInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealedStore{inner: inner, aead: aead}, nil
}

func (s *sealedStore) seal(key string, value []byte) []byte {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(value)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, value, []byte(key))
}

func (s *sealedStore) open(key string, sealed []byte, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return nil, ErrNoSession
	}
	value, err := s.aead.Open(nil, sealed[:n], sealed[n:], []byte(key))
	if err != nil {
		return nil, ErrNoSession
	}
	return value, nil
}

func (s *sealedStore) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return s.inner.Put(ctx, key, s.seal(key, value), ttl)
}

func (s *sealedStore) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := s.inner.Get(ctx, key)
	return s.open(key, v, err)
}

func (s *sealedStore) Take(ctx context.Context, key string) ([]byte, error) {
	v, err := s.inner.Take(ctx, key)
	return s.open(key, v, err)
}

func (s *sealedStore) Delete(ctx context.Context, key string) error {
	return s.inner.Delete(ctx, key)
}
