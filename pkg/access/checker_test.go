package access

// These tests stand a fake in for progress where a real one cannot be made
// to misbehave on cue: blocked calls, odd errors, thousands of answers.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// fakeProgress answers CheckAccess with fn and records what it was asked.
type fakeProgress struct {
	n  atomic.Int64
	fn func(ctx context.Context, n int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error)

	mu   sync.Mutex
	reqs []*progresspeerv1.CheckAccessRequest
}

func (f *fakeProgress) CheckAccess(ctx context.Context, req *progresspeerv1.CheckAccessRequest, _ ...grpc.CallOption) (*progresspeerv1.CheckAccessResponse, error) {
	n := f.n.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return f.fn(ctx, n, req)
}

// ListGuardians is not what the checker asks.
func (f *fakeProgress) ListGuardians(context.Context, *progresspeerv1.ListGuardiansRequest, ...grpc.CallOption) (*progresspeerv1.ListGuardiansResponse, error) {
	return nil, status.Error(codes.Unimplemented, "not used by the checker")
}

func (f *fakeProgress) calls() int64 { return f.n.Load() }

func (f *fakeProgress) lastRequest() *progresspeerv1.CheckAccessRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

// everyoneContributes is a progress where every child exists and every
// user is its contributor.
func everyoneContributes(context.Context, int64, *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
	return &progresspeerv1.CheckAccessResponse{Allowed: true, ChildExists: true, Role: progressv1.Role_ROLE_CONTRIBUTOR}, nil
}

func (c *Checker) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

func TestCheckRejectsBadInput(t *testing.T) {
	f := &fakeProgress{fn: everyoneContributes}
	c := New(f, time.Minute)
	tests := []struct {
		name  string
		child string
		perm  progresspeerv1.Permission
		sub   string
		want  codes.Code
	}{
		{"empty child", "", view, "grace", codes.InvalidArgument},
		{"bare id", "abc", view, "grace", codes.InvalidArgument},
		{"no id", "children/", view, "grace", codes.InvalidArgument},
		{"upper case", "children/ABC", view, "grace", codes.InvalidArgument},
		{"nested", "children/abc/assessments/x", view, "grace", codes.InvalidArgument},
		{"id too long", "children/" + strings.Repeat("a", 64), view, "grace", codes.InvalidArgument},
		{"unspecified permission", "children/abc", progresspeerv1.Permission_PERMISSION_UNSPECIFIED, "grace", codes.InvalidArgument},
		{"unknown permission", "children/abc", progresspeerv1.Permission(7), "grace", codes.InvalidArgument},
		{"no subject", "children/abc", view, "", codes.Unauthenticated},
		{"longest id", "children/" + strings.Repeat("a", 63), view, "grace", codes.OK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := f.calls()
			wantCode(t, c.Check(t.Context(), user(tc.sub), tc.child, tc.perm), tc.want)
			if tc.want != codes.OK && f.calls() != before {
				t.Error("a malformed question reached progress")
			}
		})
	}
}

// Progress accepts user ids of up to 128 characters, as long as any
// guardianship's; a longer id holds no role anywhere.
func TestCheckLongSubject(t *testing.T) {
	f := &fakeProgress{fn: func(_ context.Context, _ int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		return &progresspeerv1.CheckAccessResponse{ChildExists: req.GetChild() == "children/abc"}, nil
	}}
	c := New(f, 0)
	long := strings.Repeat("é", maxUserLen+1)

	wantCode(t, c.Check(t.Context(), user(long), "children/abc", view), codes.NotFound)
	wantCalls(t, f, 0)
	wantCode(t, c.Check(t.Context(), admin(long), "children/abc", contribute), codes.OK)
	wantCode(t, c.Check(t.Context(), admin(long), "children/zzz", contribute), codes.NotFound)
	if got := f.lastRequest().GetUser(); utf8Len(got) > maxUserLen {
		t.Errorf("progress was asked about a user id of %d characters", utf8Len(got))
	}
	// At the limit, the id goes to progress as it is.
	exact := strings.Repeat("é", maxUserLen)
	wantCode(t, c.Check(t.Context(), user(exact), "children/abc", view), codes.NotFound)
	if got := f.lastRequest().GetUser(); got != exact {
		t.Errorf("progress was asked about %q, want %q", got, exact)
	}
}

func utf8Len(s string) int { return len([]rune(s)) }

func TestCheckCallErrors(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"unavailable", status.Error(codes.Unavailable, `connection error: desc = "transport: Error while dialing: dial tcp 127.0.0.1:9101: connect: connection refused"`), codes.Unavailable},
		{"deadline while connecting", status.Error(codes.DeadlineExceeded, "context deadline exceeded; latest balancer error: dial tcp 127.0.0.1:9101"), codes.DeadlineExceeded},
		{"permission denied", status.Error(codes.PermissionDenied, "method is for Kinbridge services only"), codes.Unavailable},
		{"unauthenticated", status.Error(codes.Unauthenticated, "bad signature"), codes.Unavailable},
		{"not found", status.Error(codes.NotFound, "unknown service"), codes.Unavailable},
		{"invalid argument", status.Error(codes.InvalidArgument, "bad request"), codes.Unavailable},
		{"internal", status.Error(codes.Internal, "storage error"), codes.Unavailable},
		{"canceled by the server", status.Error(codes.Canceled, "server shutting down"), codes.Unavailable},
		{"call deadline", status.Error(codes.DeadlineExceeded, "deadline exceeded"), codes.DeadlineExceeded},
		{"not a status", errors.New("boom"), codes.Unavailable},
	}
	for _, tc := range tests {
		for _, ttl := range []time.Duration{0, time.Minute} {
			t.Run(fmt.Sprintf("%s/ttl=%s", tc.name, ttl), func(t *testing.T) {
				f := &fakeProgress{fn: func(context.Context, int64, *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
					return nil, tc.err
				}}
				c := New(f, ttl)
				for range 2 {
					err := c.Check(t.Context(), user("grace"), "children/abc", view)
					wantCode(t, err, tc.want)
					// What progress (or the connection to it) said stays
					// out: it may name addresses inside the suite.
					if msg := status.Convert(err).Message(); strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, status.Convert(tc.err).Message()) {
						t.Errorf("the caller is told %q", msg)
					}
				}
				wantCalls(t, f, 2)
				if n := c.size(); n != 0 {
					t.Errorf("cache holds %d entries after failures", n)
				}
			})
		}
	}
}

func TestCheckSharesConcurrentMisses(t *testing.T) {
	release := make(chan struct{})
	f := &fakeProgress{fn: func(ctx context.Context, n int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		<-release
		return everyoneContributes(ctx, n, req)
	}}
	c := New(f, time.Minute)
	const workers = 50
	errs := make(chan error, workers)
	for range workers {
		go func() { errs <- c.Check(context.Background(), user("grace"), "children/abc", contribute) }()
	}
	time.Sleep(20 * time.Millisecond) // let most of them join the first call
	close(release)
	for range workers {
		wantCode(t, <-errs, codes.OK)
	}
	// Whoever came too late for the shared call found its answer cached.
	wantCalls(t, f, 1)
}

func TestCheckWaiterLeavesWithItsContext(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	f := &fakeProgress{fn: func(ctx context.Context, n int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		entered <- struct{}{}
		<-release
		return everyoneContributes(ctx, n, req)
	}}
	c := New(f, time.Minute)
	first := make(chan error, 1)
	go func() { first <- c.Check(context.Background(), user("grace"), "children/abc", view) }()
	<-entered

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	// Returns while the shared call is still blocked in progress.
	wantCode(t, c.Check(ctx, user("grace"), "children/abc", view), codes.DeadlineExceeded)

	close(release)
	wantCode(t, <-first, codes.OK)
	wantCode(t, c.Check(context.Background(), user("grace"), "children/abc", view), codes.OK)
	wantCalls(t, f, 1)
}

func TestCheckWaiterOutlivesTheCallItJoined(t *testing.T) {
	entered := make(chan struct{}, 2)
	f := &fakeProgress{fn: func(ctx context.Context, n int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		entered <- struct{}{}
		if n == 1 {
			// The first caller gives up; gRPC would report it like this.
			<-ctx.Done()
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		return everyoneContributes(ctx, n, req)
	}}
	c := New(f, time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { first <- c.Check(ctx, user("grace"), "children/abc", view) }()
	<-entered

	second := make(chan error, 1)
	go func() { second <- c.Check(context.Background(), user("grace"), "children/abc", view) }()
	time.Sleep(20 * time.Millisecond) // let it join the first call; it must pass either way
	cancel()

	wantCode(t, <-first, codes.Canceled)
	wantCode(t, <-second, codes.OK)
	wantCalls(t, f, 2)
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	f := &fakeProgress{fn: everyoneContributes}
	const ttl = 10 * time.Second
	c := New(f, ttl)
	clock := newClock()
	c.now = clock.Now
	c.maxEntries = 4
	check := func(child string) {
		t.Helper()
		wantCode(t, c.Check(t.Context(), user("grace"), child, view), codes.OK)
	}

	check("children/a1")
	check("children/a2")
	clock.Advance(6 * time.Second)
	check("children/b1")
	check("children/b2")
	clock.Advance(5 * time.Second) // a1 and a2 have expired, b1 and b2 have not
	check("children/c1")
	if n := c.size(); n != 3 {
		t.Fatalf("cache holds %d entries, want 3 (b1, b2, c1)", n)
	}
	check("children/b1")
	wantCalls(t, f, 5) // b1 was still cached

	// Full of fresh answers: the cache starts over.
	check("children/c2")
	check("children/c3")
	if n := c.size(); n != 1 {
		t.Fatalf("cache holds %d entries, want 1 (c3)", n)
	}
	check("children/c3")
	wantCalls(t, f, 7)
}

func TestCacheIsBounded(t *testing.T) {
	f := &fakeProgress{fn: everyoneContributes}
	c := New(f, time.Hour)
	for i := range defaultMaxEntries + 100 {
		if err := c.Check(t.Context(), user(fmt.Sprint("user", i)), "children/abc", view); err != nil {
			t.Fatal(err)
		}
		if n := c.size(); n > defaultMaxEntries {
			t.Fatalf("cache holds %d entries, more than %d", n, defaultMaxEntries)
		}
	}
}

// Run with -race: many goroutines, overlapping keys, a tiny cache that
// is evicted all the time, and time moving underneath.
func TestCheckConcurrent(t *testing.T) {
	f := &fakeProgress{fn: func(_ context.Context, _ int64, req *progresspeerv1.CheckAccessRequest) (*progresspeerv1.CheckAccessResponse, error) {
		role := progressv1.Role_ROLE_GUARDIAN
		return &progresspeerv1.CheckAccessResponse{
			ChildExists: true,
			Role:        role,
			Allowed:     req.GetPermission() == view,
		}, nil
	}}
	c := New(f, time.Second)
	clock := newClock()
	c.now = clock.Now
	c.maxEntries = 8
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 200 {
				child := fmt.Sprintf("children/c%d", (w+i)%12)
				if err := c.Check(context.Background(), user("grace"), child, view); err != nil {
					t.Errorf("view: %v", err)
					return
				}
				if err := c.Check(context.Background(), user("grace"), child, contribute); status.Code(err) != codes.PermissionDenied {
					t.Errorf("contribute: %v", err)
					return
				}
				if i%50 == 0 {
					clock.Advance(300 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if n := c.size(); n > 8 {
		t.Errorf("cache holds %d entries, more than 8", n)
	}
}
