package gateway

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// sessionStores are every SessionStore implementation, each new for the
// test; Redis when one is reachable (testenv.Redis).
var sessionStores = map[string]func(t *testing.T) SessionStore{
	"memory": func(*testing.T) SessionStore { return NewMemorySessions() },
	"redis": func(t *testing.T) SessionStore {
		client, err := ratelimit.NewRedisClient(testenv.Redis(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		return NewRedisSessions(client, testenv.RedisPrefix(t))
	},
}

func TestSessionStoreContract(t *testing.T) {
	for name, open := range sessionStores {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			ctx := t.Context()
			if _, err := s.Get(ctx, "missing"); !errors.Is(err, ErrNoSession) {
				t.Fatalf("Get(missing) = %v, want ErrNoSession", err)
			}
			if _, err := s.Take(ctx, "missing"); !errors.Is(err, ErrNoSession) {
				t.Fatalf("Take(missing) = %v, want ErrNoSession", err)
			}
			if err := s.Delete(ctx, "missing"); err != nil {
				t.Fatalf("Delete(missing) = %v", err)
			}
			if err := s.Put(ctx, "a", []byte("one"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if err := s.Put(ctx, "a", []byte("two"), time.Hour); err != nil {
				t.Fatal(err)
			}
			if v, err := s.Get(ctx, "a"); err != nil || string(v) != "two" {
				t.Fatalf("Get(a) = %q, %v; want the value put last", v, err)
			}
			if err := s.Delete(ctx, "a"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Get(ctx, "a"); !errors.Is(err, ErrNoSession) {
				t.Fatalf("Get after Delete = %v", err)
			}

			// Take is atomic: of many takers of one key, one gets it.
			if err := s.Put(ctx, "once", []byte("x"), time.Hour); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := 0
			for range 16 {
				wg.Go(func() {
					if v, err := s.Take(ctx, "once"); err == nil && string(v) == "x" {
						mu.Lock()
						got++
						mu.Unlock()
					} else if !errors.Is(err, ErrNoSession) {
						t.Errorf("Take: %v", err)
					}
				})
			}
			wg.Wait()
			if got != 1 {
				t.Fatalf("%d takers got the value, want 1", got)
			}

			// Entries end with their ttl.
			if err := s.Put(ctx, "short", []byte("x"), 20*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Millisecond)
			if _, err := s.Get(ctx, "short"); !errors.Is(err, ErrNoSession) {
				t.Fatalf("Get after the ttl = %v, want ErrNoSession", err)
			}
			if _, err := s.Take(ctx, "short"); !errors.Is(err, ErrNoSession) {
				t.Fatalf("Take after the ttl = %v, want ErrNoSession", err)
			}
		})
	}
}

// A full in-process store refuses new entries and keeps those it has;
// once some expire, it takes new ones again.
func TestMemorySessionsBounded(t *testing.T) {
	m := NewMemorySessions()
	m.limit = 3
	now := time.Now()
	m.now = func() time.Time { return now }
	ctx := t.Context()
	for i, ttl := range []time.Duration{time.Minute, time.Hour, time.Hour} {
		if err := m.Put(ctx, fmt.Sprint("k", i), []byte("v"), ttl); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Put(ctx, "k3", []byte("v"), time.Hour); !errors.Is(err, errSessionsFull) {
		t.Fatalf("a Put into a full store: %v", err)
	}
	if err := m.Put(ctx, "k1", []byte("w"), time.Hour); err != nil {
		t.Fatalf("replacing an entry of a full store: %v", err)
	}
	for _, k := range []string{"k0", "k1", "k2"} {
		if _, err := m.Get(ctx, k); err != nil {
			t.Fatalf("%s lost: %v", k, err)
		}
	}
	now = now.Add(2 * time.Minute) // k0 expires
	if err := m.Put(ctx, "k3", []byte("v"), time.Hour); err != nil {
		t.Fatalf("a Put once an entry expired: %v", err)
	}
}
