package ratelimit_test

import (
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// slow refills so slowly (one request per 1000 s) that no test ever sees
// a refill: what a bucket allows is its burst.
func slow(burst int) ratelimit.Limit { return ratelimit.Limit{Rate: 0.001, Burst: burst} }

// stores are every Store implementation, each new for the test.
var stores = map[string]func(t *testing.T) ratelimit.Store{
	"local": func(*testing.T) ratelimit.Store { return ratelimit.NewLocal(0) },
	"redis": func(t *testing.T) ratelimit.Store {
		return ratelimit.NewRedis(redisClient(t, testenv.Redis(t)), ratelimit.RedisOptions{Prefix: testenv.RedisPrefix(t), Secret: secret()})
	},
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	c, err := ratelimit.NewRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func secret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

func allow(t *testing.T, s ratelimit.Store, key string, l ratelimit.Limit) ratelimit.Result {
	t.Helper()
	res, err := s.Allow(t.Context(), key, l)
	if err != nil {
		t.Fatalf("Allow(%q): %v", key, err)
	}
	return res
}

// spend takes n requests from key's bucket, each of which must be allowed.
func spend(t *testing.T, s ratelimit.Store, key string, l ratelimit.Limit, n int) {
	t.Helper()
	for i := range n {
		if res := allow(t, s, key, l); !res.Allowed {
			t.Fatalf("request %d of a burst of %d to %q was refused", i+1, l.Burst, key)
		}
	}
}

// TestStoreContract runs the same checks on every store.
func TestStoreContract(t *testing.T) {
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Run("a burst is allowed, then refused with a retry delay", func(t *testing.T) {
				s, l := newStore(t), slow(3)
				spend(t, s, "k", l, 3)
				res := allow(t, s, "k", l)
				if res.Allowed {
					t.Fatal("the request after the burst was allowed")
				}
				// The next request is due one refill (1000 s) after the first.
				if res.RetryAfter <= 0 || res.RetryAfter > 1000*time.Second+time.Millisecond { // Redis computes in float seconds
					t.Fatalf("RetryAfter = %v, want within (0, 1000s]", res.RetryAfter)
				}
			})
			t.Run("keys have buckets of their own", func(t *testing.T) {
				s, l := newStore(t), slow(2)
				spend(t, s, "a", l, 2)
				if allow(t, s, "a", l).Allowed {
					t.Fatal("a was not limited")
				}
				spend(t, s, "b", l, 2)
			})
			t.Run("a refusal takes nothing from the bucket", func(t *testing.T) {
				s, l := newStore(t), ratelimit.Limit{Rate: 10, Burst: 1}
				spend(t, s, "k", l, 1)
				for range 50 {
					// One request is due within 100 ms; were refusals counted,
					// the wait would grow by 100 ms with each, past 1 s soon.
					if res := allow(t, s, "k", l); !res.Allowed && res.RetryAfter > time.Second {
						t.Fatalf("RetryAfter grew to %v after refusals; one request is due within 100ms", res.RetryAfter)
					}
				}
			})
			t.Run("the bucket refills at the rate", func(t *testing.T) {
				s, l := newStore(t), ratelimit.Limit{Rate: 20, Burst: 1}
				spend(t, s, "k", l, 1)
				deadline := time.Now().Add(10 * time.Second)
				for !allow(t, s, "k", l).Allowed {
					if time.Now().After(deadline) {
						t.Fatal("a bucket refilling 20 times a second never allowed another request")
					}
					time.Sleep(10 * time.Millisecond)
				}
			})
			t.Run("requests at once take exactly the burst", func(t *testing.T) {
				s, l := newStore(t), slow(20)
				var allowed atomic.Int32
				var wg sync.WaitGroup
				for range 30 {
					wg.Go(func() {
						if res, err := s.Allow(t.Context(), "k", l); err == nil && res.Allowed {
							allowed.Add(1)
						}
					})
				}
				wg.Wait()
				if n := allowed.Load(); n != 20 {
					t.Fatalf("%d of 30 concurrent requests were allowed, want the burst, 20", n)
				}
			})
		})
	}
}

// TestRedisBucketsAreShared is what Redis is for: two instances draw on one
// bucket, so the second is refused once the first spent the burst.
func TestRedisBucketsAreShared(t *testing.T) {
	url, prefix, key := testenv.Redis(t), testenv.RedisPrefix(t), secret()
	one := ratelimit.NewRedis(redisClient(t, url), ratelimit.RedisOptions{Prefix: prefix, Secret: key})
	two := ratelimit.NewRedis(redisClient(t, url), ratelimit.RedisOptions{Prefix: prefix, Secret: key})
	l := slow(3)
	spend(t, one, "user/maria", l, 3)
	if allow(t, two, "user/maria", l).Allowed {
		t.Fatal("the second instance was allowed after the first spent the burst")
	}
	// Another deployment (another secret) on the same server has its own.
	other := ratelimit.NewRedis(redisClient(t, url), ratelimit.RedisOptions{Prefix: prefix, Secret: secret()})
	spend(t, other, "user/maria", l, 3)
}

// TestRedisKeysNameNoOne: a key in Redis tells neither the user nor the
// address it counts.
func TestRedisKeysNameNoOne(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	client := redisClient(t, url)
	s := ratelimit.NewRedis(client, ratelimit.RedisOptions{Prefix: prefix, Secret: secret()})
	allow(t, s, "gateway/user/maria@example.com", slow(5))
	allow(t, s, "gateway/address/192.0.2.7", slow(5))
	keys, err := client.Keys(t.Context(), "*"+prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys %q, want two", keys)
	}
	for _, k := range keys {
		if strings.Contains(k, "maria") || strings.Contains(k, "192.0.2.7") || strings.Contains(k, "gateway") {
			t.Errorf("key %q names what it counts", k)
		}
	}
}

// TestLocalKeepsABoundedNumberOfBuckets: a stream of new keys (addresses)
// does not grow the store without bound.
func TestLocalKeepsABoundedNumberOfBuckets(t *testing.T) {
	s := ratelimit.NewLocal(100)
	for i := range 1000 {
		allow(t, s, fmt.Sprint("address/", i), slow(1))
	}
	if n := s.Len(); n != 100 {
		t.Fatalf("%d buckets kept, want at most 100", n)
	}
	// The most recent keys are still counted.
	if allow(t, s, "address/999", slow(1)).Allowed {
		t.Fatal("a recent bucket was forgotten")
	}
}

func TestNewRedisClientKeepsThePasswordOutOfErrors(t *testing.T) {
	_, err := ratelimit.NewRedisClient("redis://user:s3cret@host:6379/notadb")
	if err == nil {
		t.Fatal("a bad database number was accepted")
	}
	_, err2 := ratelimit.NewRedisClient("redis://user:s3cret@ho st:6379")
	for _, e := range []error{err, err2} {
		if e != nil && strings.Contains(e.Error(), "s3cret") {
			t.Errorf("error %q shows the password", e)
		}
	}
	if err2 == nil {
		t.Error("a URL that does not parse was accepted")
	}
}
