package ratelimit_test

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// meter returns a meter provider read on demand.
func meter(t *testing.T) (*sdkmetric.MeterProvider, *sdkmetric.ManualReader) {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(t.Context()) })
	return mp, reader
}

// value returns the int64 metric name with attrs (0 if it has none).
func value(t *testing.T, reader *sdkmetric.ManualReader, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			var points []metricdata.DataPoint[int64]
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				points = d.DataPoints
			case metricdata.Gauge[int64]:
				points = d.DataPoints
			}
			for _, p := range points {
				if p.Attributes.Equals(&want) {
					return p.Value
				}
			}
		}
	}
	return 0
}

// logBuffer is a logger's output, safe to read while it is written.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) count(s string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Count(b.buf.String(), s)
}

// TestFallbackLimitsInProcessWhileRedisIsAway cuts Redis off through a
// proxy (never stopping the shared server): requests are still limited, in
// process; the log and the metrics say so, once; when Redis answers again
// the buckets are Redis's again.
func TestFallbackLimitsInProcessWhileRedisIsAway(t *testing.T) {
	for _, how := range []string{"refused", "black-holed"} {
		t.Run(how, func(t *testing.T) {
			proxy, url := testenv.RedisProxy(t)
			mp, reader := meter(t)
			logs := &logBuffer{}
			f := ratelimit.NewFallback(
				ratelimit.NewRedis(redisClient(t, url), ratelimit.RedisOptions{Prefix: testenv.RedisPrefix(t), Secret: secret()}),
				ratelimit.FallbackOptions{Retry: 20 * time.Millisecond, MeterProvider: mp, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			backend := func(b string) int64 {
				return value(t, reader, "kinbridge.ratelimit.backend", attribute.String("backend", b))
			}
			l := slow(2)

			spend(t, f, "maria", l, 2)
			if allow(t, f, "maria", l).Allowed {
				t.Fatal("not limited on Redis")
			}
			if f.Backend() != ratelimit.BackendRedis || backend("redis") != 1 || backend("local") != 0 {
				t.Fatalf("backend %s, gauge redis=%d local=%d, want redis", f.Backend(), backend("redis"), backend("local"))
			}

			if how == "refused" {
				proxy.Cut()
			} else {
				proxy.Hang()
			}
			// Without Redis the bucket is this process's, and starts full:
			// the burst again, then refusals, however many are asked.
			spend(t, f, "maria", l, 2)
			for range 20 {
				if allow(t, f, "maria", l).Allowed {
					t.Fatal("not limited while Redis is away")
				}
			}
			if f.Backend() != ratelimit.BackendLocal || backend("local") != 1 || backend("redis") != 0 {
				t.Fatalf("backend %s, gauge redis=%d local=%d, want local", f.Backend(), backend("redis"), backend("local"))
			}
			if n := value(t, reader, "kinbridge.ratelimit.fallbacks"); n != 1 {
				t.Fatalf("kinbridge.ratelimit.fallbacks = %d, want 1", n)
			}
			if n := logs.count("Redis does not answer"); n != 1 {
				t.Fatalf("the switch to local buckets was logged %d times, want once:\n%s", n, logs.buf.String())
			}

			proxy.Restore()
			deadline := time.Now().Add(10 * time.Second)
			for f.Backend() != ratelimit.BackendRedis {
				if time.Now().After(deadline) {
					t.Fatal("never went back to Redis after it answered again")
				}
				allow(t, f, "someone-else", l)
				time.Sleep(10 * time.Millisecond)
			}
			// maria's bucket is Redis's again: the one she emptied before.
			if allow(t, f, "maria", l).Allowed {
				t.Fatal("back on Redis, maria's emptied bucket allowed a request")
			}
			if backend("redis") != 1 || backend("local") != 0 {
				t.Fatalf("gauge redis=%d local=%d after Redis came back", backend("redis"), backend("local"))
			}
			if n := logs.count("Redis answers again"); n != 1 {
				t.Fatalf("the switch back was logged %d times, want once:\n%s", n, logs.buf.String())
			}
		})
	}
}

// TestOpenWithoutRedisIsLocal: no --redis-url, buckets in process, and the
// gauge says so.
func TestOpenWithoutRedisIsLocal(t *testing.T) {
	mp, reader := meter(t)
	s, closeStore, err := ratelimit.Open(ratelimit.Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore()
	if _, ok := s.(*ratelimit.Local); !ok {
		t.Fatalf("store is %T, want *ratelimit.Local", s)
	}
	if v := value(t, reader, "kinbridge.ratelimit.backend", attribute.String("backend", "local")); v != 1 {
		t.Fatalf("backend{local} = %d, want 1", v)
	}
}

// TestOpenSharesBucketsWithinADeployment: with a Redis URL, the instances
// of one deployment (one secret, the service key's seed) share buckets
// under a prefix of their own; another deployment on the same server does
// not. (A fresh secret is a fresh key prefix, so this test has its own.)
func TestOpenSharesBucketsWithinADeployment(t *testing.T) {
	url := testenv.Redis(t)
	deployment := secret()
	open := func(s []byte) ratelimit.Store {
		store, closeStore, err := ratelimit.Open(ratelimit.Config{RedisURL: url, Secret: s})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { closeStore() })
		return store
	}
	one, two, other := open(deployment), open(deployment), open(secret())
	l := slow(2)
	spend(t, one, "gateway/user/maria", l, 2)
	if allow(t, two, "gateway/user/maria", l).Allowed {
		t.Fatal("an instance of the same deployment was allowed past the shared burst")
	}
	spend(t, other, "gateway/user/maria", l, 2)

}
