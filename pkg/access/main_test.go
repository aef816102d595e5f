package access

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// Check starts goroutines of its own (the shared calls); none may outlive
// the tests, and neither may the servers and connections the tests start.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	view       = progresspeerv1.Permission_PERMISSION_VIEW
	contribute = progresspeerv1.Permission_PERMISSION_CONTRIBUTE
)

// newClock is a test clock at a fixed time.
func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func user(id string) auth.Principal { return auth.Principal{Subject: id, Issuer: auth.Issuer} }
func admin(id string) auth.Principal {
	return auth.Principal{Subject: id, Admin: true, Issuer: auth.Issuer}
}

// countingClient counts the calls that reach the client it wraps, so tests
// can tell a cached answer from one progress gave.
type countingClient struct {
	progresspeerv1.AccessServiceClient
	n atomic.Int64
}

func (c *countingClient) CheckAccess(ctx context.Context, req *progresspeerv1.CheckAccessRequest, opts ...grpc.CallOption) (*progresspeerv1.CheckAccessResponse, error) {
	c.n.Add(1)
	return c.AccessServiceClient.CheckAccess(ctx, req, opts...)
}

func (c *countingClient) calls() int64 { return c.n.Load() }

// wantCode fails the test unless err has code want (codes.OK for nil).
func wantCode(t *testing.T, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("got %v (%v), want %v", got, err, want)
	}
}

// wantCalls fails the test unless progress has been called want times.
func wantCalls(t *testing.T, c interface{ calls() int64 }, want int64) {
	t.Helper()
	if got := c.calls(); got != want {
		t.Fatalf("progress was called %d times, want %d", got, want)
	}
}
