package testenv

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisEnv names the variable holding the address of the Redis server
// tests use: host:port, or a redis:// URL.
const RedisEnv = "KINBRIDGE_TEST_REDIS_URL"

// DefaultRedisURL is used when RedisEnv is unset: a local server, as a
// developer's machine or CI has.
const DefaultRedisURL = "127.0.0.1:6379"

// redisDialTimeout bounds the reachability check, so a machine without
// Redis skips quickly.
const redisDialTimeout = 2 * time.Second

// redisUnreachable remembers URLs that did not answer, so that a test
// binary with many Redis tests pays the timeout once.
var redisUnreachable sync.Map // URL -> error

// Redis returns the redis:// URL of the Redis server named by
// KINBRIDGE_TEST_REDIS_URL (default [DefaultRedisURL]) after checking that
// it answers PING.
//
// The server is shared by every test and every test binary running at the
// time: keep keys under [RedisPrefix] and never flush or stop it. A test
// that must cut Redis off puts a [Proxy] in front of it.
//
// If the server cannot be reached the test is skipped, or fails when
// KINBRIDGE_TEST_REQUIRE names "redis"; see [SkipOrFail].
func Redis(t testing.TB) string {
	t.Helper()
	u := os.Getenv(RedisEnv)
	if u == "" {
		u = DefaultRedisURL
	}
	if !strings.Contains(u, "://") {
		u = "redis://" + u
	}
	howTo := fmt.Sprintf("set %s to the address of a Redis server (default %s)", RedisEnv, DefaultRedisURL)
	if err, ok := redisUnreachable.Load(u); ok {
		SkipOrFail(t, "redis", fmt.Sprintf("cannot reach %s: %v; %s", redactRedis(u), err, howTo))
		return ""
	}
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("testenv: %s does not parse as a Redis address", RedisEnv)
		return ""
	}
	opts.DialTimeout, opts.ReadTimeout, opts.MaxRetries = redisDialTimeout, redisDialTimeout, -1
	client := redis.NewClient(opts)
	defer client.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*redisDialTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		redisUnreachable.Store(u, err)
		SkipOrFail(t, "redis", fmt.Sprintf("cannot reach %s: %v; %s", redactRedis(u), err, howTo))
		return ""
	}
	return u
}

// RedisProxy puts a [Proxy] in front of the server [Redis] returns and
// returns it with the URL that reaches the server through it (same
// credentials and database), for a test that cuts Redis off.
func RedisProxy(t testing.TB) (*Proxy, string) {
	t.Helper()
	u := Redis(t)
	p, err := url.Parse(u)
	if err != nil || p.Scheme == "unix" {
		t.Fatalf("testenv: a proxy needs a TCP address in %s", RedisEnv)
	}
	host, port := p.Hostname(), p.Port()
	if port == "" {
		port = "6379"
	}
	proxy := NewProxy(t, net.JoinHostPort(host, port))
	p.Host = proxy.Addr()
	return proxy, p.String()
}

// RedisPrefix returns a key prefix no other test uses, such as
// "kbtest:3f9c0a12d4e5b6a7:", so that tests sharing a server never touch
// each other's keys.
func RedisPrefix(t testing.TB) string {
	t.Helper()
	return "kbtest:" + randomHex(8) + ":"
}

// redactRedis masks the password of a Redis URL shown in a test message.
func redactRedis(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "(a URL that does not parse, not shown)"
	}
	if _, ok := p.User.Password(); ok {
		p.User = url.UserPassword(p.User.Username(), "xxxxx")
	}
	return p.String()
}
