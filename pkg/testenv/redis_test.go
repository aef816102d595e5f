package testenv_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestRedisUnreachable(t *testing.T) {
	url := "redis://:hunter2@" + testenv.FreeAddr(t)
	for _, tc := range []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"redis", false},
	} {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(testenv.RedisEnv, url)
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			if got := testenv.Redis(r); got != "" {
				t.Errorf("Redis() = %q on an unreachable server", got)
			}
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") == tc.wantSkip {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			msg := r.skipped + r.failed
			if strings.Contains(msg, "hunter2") {
				t.Errorf("message shows the password: %s", msg)
			}
			if !strings.Contains(msg, testenv.RedisEnv) {
				t.Errorf("message %q does not say how to point at a server", msg)
			}
		})
	}
}

func ping(t *testing.T, url string) error {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opts.MaxRetries, opts.DialTimeout, opts.ReadTimeout = -1, time.Second, time.Second
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	return c.Ping(ctx).Err()
}

// TestRedisProxy: a test cuts Redis off through its own proxy, and the
// shared server goes on answering everyone else.
func TestRedisProxy(t *testing.T) {
	direct := testenv.Redis(t)
	proxy, url := testenv.RedisProxy(t)
	if err := ping(t, url); err != nil {
		t.Fatalf("through the proxy: %v", err)
	}
	proxy.Cut()
	if err := ping(t, url); err == nil {
		t.Fatal("Redis answered through a cut proxy")
	}
	if err := ping(t, direct); err != nil {
		t.Fatalf("the shared server stopped answering: %v", err)
	}
	proxy.Restore()
	if err := ping(t, url); err != nil {
		t.Fatalf("through the restored proxy: %v", err)
	}
	if a, b := testenv.RedisPrefix(t), testenv.RedisPrefix(t); a == b || !strings.HasPrefix(a, "kbtest:") {
		t.Fatalf("prefixes %q and %q, want two of their own", a, b)
	}
}
