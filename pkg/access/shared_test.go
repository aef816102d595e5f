package access

// The shared cache against the real Redis (pkg/testenv: skipped without
// it, unless KINBRIDGE_TEST_REQUIRE names redis), each test under keys of
// its own.

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// redisClient returns a client of rawURL with short timeouts, closed when
// the test ends.
func redisClient(t *testing.T, rawURL string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	opts.DialTimeout, opts.ReadTimeout, opts.WriteTimeout, opts.MaxRetries = 300*time.Millisecond, 300*time.Millisecond, 300*time.Millisecond, -1
	client := redis.NewClient(opts)
	t.Cleanup(func() { client.Close() })
	return client
}

// sharedCache returns a shared cache on the test Redis, under a prefix of
// the test's own, with the given secret.
func sharedCache(t *testing.T, rawURL, prefix, secret string) *Shared {
	t.Helper()
	return NewShared(redisClient(t, rawURL), SharedOptions{Prefix: prefix, Secret: []byte(secret)})
}

// TestSharedCacheAcrossInstances: two instances share answers through
// Redis, so progress is asked once; a revocation's invalidation reaches
// both at once, though the answers would live an hour; and deployments
// with other secrets share nothing.
func TestSharedCacheAcrossInstances(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	client := e.peer(e.media())
	const ttl = time.Hour
	first := New(client, ttl, WithShared(sharedCache(t, url, prefix, "deployment")))
	second := New(client, ttl, WithShared(sharedCache(t, url, prefix, "deployment")))
	other := New(client, ttl, WithShared(sharedCache(t, url, prefix, "another deployment")))
	ctx := t.Context()

	wantCode(t, first.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 1)
	wantCode(t, second.Check(ctx, user("grace"), child, view), codes.OK)
	wantCode(t, second.Check(ctx, user("grace"), child, contribute), codes.PermissionDenied)
	wantCalls(t, client, 2)
	wantCode(t, first.Check(ctx, user("grace"), child, contribute), codes.PermissionDenied)
	wantCalls(t, client, 2)
	wantCode(t, other.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 3)

	e.revoke(child, "grace")
	wantCode(t, second.Check(ctx, user("grace"), child, view), codes.OK) // cached, not yet invalidated
	wantCalls(t, client, 3)
	if err := first.shared.Invalidate(ctx, child); err != nil {
		t.Fatal(err)
	}
	wantCode(t, second.Check(ctx, user("grace"), child, view), codes.NotFound)
	wantCalls(t, client, 4)
	wantCode(t, first.Check(ctx, user("grace"), child, view), codes.NotFound)
	wantCalls(t, client, 4)

	// Another child's answers stay.
	kid := e.child()
	e.grant(kid, "grace", progressv1.Role_ROLE_GUARDIAN)
	wantCode(t, first.Check(ctx, user("grace"), kid, view), codes.OK)
	wantCalls(t, client, 5)
	if err := first.shared.Invalidate(ctx, child); err != nil {
		t.Fatal(err)
	}
	wantCode(t, second.Check(ctx, user("grace"), kid, view), codes.OK)
	wantCalls(t, client, 5)
}

// TestSharedCacheExpires: a shared answer is served for ttl after the
// question was asked, by the Checker's clock, and no longer.
func TestSharedCacheExpires(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	fake := &fakeProgress{fn: everyoneContributes}
	const ttl = time.Minute
	c := New(fake, ttl, WithShared(sharedCache(t, url, prefix, "s")))
	clock := testenv.NewClock(time.Now()) // Redis keeps the hash for ttl of real time
	c.now = clock.Now
	ctx := t.Context()
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	clock.Advance(ttl - time.Millisecond)
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCalls(t, fake, 1)
	clock.Advance(time.Millisecond)
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCalls(t, fake, 2)
}

// TestSharedCacheKeepsNoAnswerFromBeforeAnInvalidation: an answer progress
// gave before a revocation, arriving after the revocation's invalidation,
// is returned to its caller but never stored, so no later Check on any
// instance is served it.
func TestSharedCacheKeepsNoAnswerFromBeforeAnInvalidation(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	asked, release := make(chan struct{}), make(chan struct{})
	fake := &fakeProgress{fn: func(ctx context.Context, n int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		if n == 1 {
			close(asked)
			<-release
			return everyoneContributes(ctx, n, req) // what progress said before the revocation
		}
		return &progresspeerv1.CheckAccessResponse{ChildExists: true}, nil // after it: no role
	}}
	shared := sharedCache(t, url, prefix, "s")
	c := New(fake, time.Hour, WithShared(shared))
	ctx := t.Context()
	done := make(chan error, 1)
	go func() { done <- c.Check(ctx, user("u"), "children/kid", view) }()
	<-asked
	if err := shared.Invalidate(ctx, "children/kid"); err != nil {
		t.Fatal(err)
	}
	close(release)
	wantCode(t, <-done, codes.OK)
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.NotFound)
	wantCalls(t, fake, 2)
}

// TestSharedCacheRedisDown: while Redis does not answer, every Check asks
// progress (nothing stale is served, nothing is refused for Redis's sake),
// the lookups count as errors, and once Redis is back answers are shared
// again.
func TestSharedCacheRedisDown(t *testing.T) {
	proxy, url := testenv.RedisProxy(t)
	prefix := testenv.RedisPrefix(t)
	fake := &fakeProgress{fn: everyoneContributes}
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	c := New(fake, time.Hour, WithShared(sharedCache(t, url, prefix, "s")), WithMetrics(mp, "media"))
	ctx := t.Context()

	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCalls(t, fake, 1)
	proxy.Cut()
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCode(t, c.Check(ctx, user("u"), "children/kid", view), codes.OK)
	wantCalls(t, fake, 3)
	if !c.sharedDown.Load() {
		t.Error("the Checker does not know Redis is down")
	}
	proxy.Restore()
	testenv.Eventually(t, "answers shared again", func() string {
		before := fake.calls()
		if err := c.Check(ctx, user("u"), "children/kid", view); err != nil {
			return err.Error()
		}
		if fake.calls() != before {
			return "progress was asked"
		}
		return ""
	})
	if c.sharedDown.Load() {
		t.Error("the Checker still thinks Redis is down")
	}

	got := lookups(t, reader)
	if got["shared/error"] != 2 || got["shared/miss"] != 1 || got["shared/hit"] < 2 {
		t.Errorf("lookups: %v, want 2 errors, 1 miss and at least 2 hits", got)
	}
}

// lookups reads MetricLookups as "cache/outcome" -> count.
func lookups(t *testing.T, reader *sdkmetric.ManualReader) map[string]int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != MetricLookups {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				cache, _ := dp.Attributes.Value(AttrCache)
				outcome, _ := dp.Attributes.Value(AttrOutcome)
				if svc, _ := dp.Attributes.Value(AttrService); svc != attribute.StringValue("media") {
					t.Errorf("a lookup counted for service %v", svc.Emit())
				}
				out[cache.AsString()+"/"+outcome.AsString()] += dp.Value
			}
		}
	}
	return out
}

// TestProgressDropsSharedAnswers: progress drops the shared answers about a
// child as soon as who may see it changes (a guardianship granted, its
// role changed, revoked, the child deleted), so the next Check on any
// instance asks again, though answers would live an hour.
func TestProgressDropsSharedAnswers(t *testing.T) {
	url, prefix := testenv.Redis(t), testenv.RedisPrefix(t)
	e := startProgressWith(t, sharedCache(t, url, prefix, "deployment"))
	client := e.peer(e.media())
	const ttl = time.Hour
	media := New(client, ttl, WithShared(sharedCache(t, url, prefix, "deployment")))
	notification := New(client, ttl, WithShared(sharedCache(t, url, prefix, "deployment")))
	ctx := t.Context()
	child := e.child()

	wantCode(t, media.Check(ctx, user("grace"), child, view), codes.NotFound)
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	wantCode(t, notification.Check(ctx, user("grace"), child, view), codes.OK)
	wantCode(t, media.Check(ctx, user("grace"), child, contribute), codes.PermissionDenied)

	if _, err := e.admin.UpdateGuardianship(ctx, &progressv1.UpdateGuardianshipRequest{
		Guardianship: &progressv1.Guardianship{Name: child + "/guardians/grace", Role: progressv1.Role_ROLE_CONTRIBUTOR},
		UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"role"}},
	}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, notification.Check(ctx, user("grace"), child, contribute), codes.OK)

	calls := client.calls()
	wantCode(t, media.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, calls+1)
	e.revoke(child, "grace")
	wantCode(t, notification.Check(ctx, user("grace"), child, view), codes.NotFound)
	wantCode(t, media.Check(ctx, user("grace"), child, contribute), codes.NotFound)

	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	wantCode(t, media.Check(ctx, admin("root"), child, view), codes.OK)
	if _, err := e.admin.DeleteChild(ctx, &progressv1.DeleteChildRequest{Name: child}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, notification.Check(ctx, admin("root"), child, view), codes.NotFound)
}
