package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

func TestLimiterRefusesWithRetryInfo(t *testing.T) {
	mp, reader := meter(t)
	store := ratelimit.NewLocal(0)
	gw := ratelimit.New(store, "gateway", ratelimit.Limits{User: slow(2), Address: slow(1)}, mp)
	ctx := t.Context()
	for range 2 {
		if err := gw.Allow(ctx, ratelimit.User, "maria"); err != nil {
			t.Fatalf("within the burst: %v", err)
		}
	}
	err := gw.Allow(ctx, ratelimit.User, "maria")
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted || !ratelimit.IsRateLimited(err) {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED, RATE_LIMITED", err)
	}
	var info *errdetails.ErrorInfo
	for _, d := range st.Details() {
		if i, ok := d.(*errdetails.ErrorInfo); ok {
			info = i
		}
	}
	if info.GetReason() != "RATE_LIMITED" || info.GetMetadata()["limit"] != "user" {
		t.Fatalf("ErrorInfo %v, want reason RATE_LIMITED, limit user", info)
	}
	// Retry-After counts whole seconds: the delay is rounded up, never 0.
	delay, ok := ratelimit.RetryDelay(err)
	if !ok || delay < time.Second || delay%time.Second != 0 || delay > 1001*time.Second { // 1000 s, and a hair of float
		t.Fatalf("RetryInfo delay %v (%v), want whole seconds within [1s, 1000s]", delay, ok)
	}
	if n := value(t, reader, "kinbridge.ratelimit.limited", attribute.String("surface", "gateway"), attribute.String("kind", "user")); n != 1 {
		t.Fatalf("limited{gateway,user} = %d, want 1", n)
	}

	// Kinds, ids and surfaces have buckets of their own.
	if err := gw.Allow(ctx, ratelimit.User, "olga"); err != nil {
		t.Fatalf("another user: %v", err)
	}
	if err := gw.Allow(ctx, ratelimit.Address, "maria"); err != nil {
		t.Fatalf("an address bucket with the same id: %v", err)
	}
	progress := ratelimit.New(store, "progress", ratelimit.Limits{User: slow(1)}, mp)
	if err := progress.Allow(ctx, ratelimit.User, "maria"); err != nil {
		t.Fatalf("the same user on another surface of the same store: %v", err)
	}
	// A limit that is off never refuses.
	for range 100 {
		if err := gw.Allow(ctx, ratelimit.Service, "media"); err != nil {
			t.Fatalf("service limit is off, yet: %v", err)
		}
	}
	var none *ratelimit.Limiter
	if err := none.Allow(ctx, ratelimit.User, "maria"); err != nil {
		t.Fatalf("a nil limiter refused: %v", err)
	}
}

// failing is a store that never answers.
type failing struct{}

func (failing) Allow(context.Context, string, ratelimit.Limit) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("down")
}

func TestLimiterLetsRequestsThroughWhenItsStoreFails(t *testing.T) {
	l := ratelimit.New(failing{}, "gateway", ratelimit.Limits{User: slow(1)}, nil)
	for range 3 {
		if err := l.Allow(t.Context(), ratelimit.User, "maria"); err != nil {
			t.Fatalf("a failing store refused: %v", err)
		}
	}
}

func TestLimitOff(t *testing.T) {
	for _, l := range []ratelimit.Limit{{}, {Rate: 0, Burst: 10}, {Rate: 5, Burst: 0}, {Rate: -1, Burst: 1}} {
		if !l.Off() {
			t.Errorf("%+v is not off", l)
		}
	}
	if (ratelimit.Limit{Rate: 0.5, Burst: 1}).Off() {
		t.Error("0.5/s, burst 1 is off")
	}
}
