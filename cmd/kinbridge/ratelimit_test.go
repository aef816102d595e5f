package main

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// TestRateLimitsOfServeAll: the flags reach every surface. Over REST a
// user's fourth request is a 429 with Retry-After; over gRPC, straight to
// a service, a user is refused too, and a service identity draws on a
// budget of its own.
func TestRateLimitsOfServeAll(t *testing.T) {
	s := startSuite(t,
		"--rate-limit-user", "0.001", "--rate-limit-user-burst", "3",
		"--rate-limit-service", "0.001", "--rate-limit-service-burst", "5")
	maria := s.userToken(t, "maria", false)
	for range 3 {
		if r := s.call(t, "GET", "/v1/children", maria, ""); r.status != http.StatusOK {
			t.Fatalf("within the burst: %d %s", r.status, r.body)
		}
	}
	r := s.call(t, "GET", "/v1/children", maria, "")
	if secs, err := strconv.Atoi(r.header.Get("Retry-After")); r.status != http.StatusTooManyRequests || err != nil || secs < 1 {
		t.Fatalf("past the burst: %d, Retry-After %q; want 429 and whole seconds", r.status, r.header.Get("Retry-After"))
	}
	if !strings.Contains(string(r.body), `"reason":"RATE_LIMITED"`) || r.json(t)["code"] != float64(codes.ResourceExhausted) {
		t.Fatalf("429 body %s", r.body)
	}

	conn, err := grpc.NewClient(s.progress, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	as := func(token string) context.Context {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		t.Cleanup(cancel)
		return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	}
	olga := s.userToken(t, "olga", false)
	progress := progressv1.NewProgressServiceClient(conn)
	for range 3 {
		if _, err := progress.ListChildren(as(olga), &progressv1.ListChildrenRequest{}); err != nil {
			t.Fatalf("gRPC within the burst: %v", err)
		}
	}
	_, err = progress.ListChildren(as(olga), &progressv1.ListChildrenRequest{})
	if delay, ok := ratelimit.RetryDelay(err); status.Code(err) != codes.ResourceExhausted || !ok || delay < time.Second {
		t.Fatalf("gRPC past the burst: %v, want RESOURCE_EXHAUSTED with RetryInfo", err)
	}

	// The service's own budget: 5, however spent the users' are.
	access := progresspeerv1.NewAccessServiceClient(conn)
	media := s.serviceToken(t, "media")
	ask := func() error {
		_, err := access.CheckAccess(as(media), &progresspeerv1.CheckAccessRequest{
			Child: "children/none", User: "maria", Permission: progresspeerv1.Permission_PERMISSION_VIEW})
		return err
	}
	for i := range 5 {
		if err := ask(); status.Code(err) == codes.ResourceExhausted {
			t.Fatalf("service call %d of a burst of 5: %v", i+1, err)
		}
	}
	if err := ask(); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("service past its burst: %v, want RESOURCE_EXHAUSTED", err)
	}
}

func TestRateLimitSettingsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.internal"}, "--trusted-proxies"},
		{[]string{"--rate-limit-user", "-1"}, "--rate-limit-user"},
		{[]string{"--rate-limit-address", "NaN"}, "--rate-limit-address"},
		{[]string{"--rate-limit-service-burst", "0"}, "--rate-limit-service-burst"},
		{[]string{"--redis-url", "http://user:s3cret@cache:6379"}, "--redis-url"},
	} {
		err := run(t.Context(), append([]string{"serve", "all", "--data-dir", t.TempDir()}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want an error naming %s", tc.args, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: the error shows the password: %v", tc.args, err)
		}
	}
}
