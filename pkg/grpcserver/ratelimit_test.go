package grpcserver

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// peerDesc is the test method in a service-only package: auth's default
// policy lets only service identities call it.
var peerDesc = unaryDesc("kinbridge.test.peer.v1.TestService")

func doPeer(ctx context.Context, conn *grpc.ClientConn) error {
	return conn.Invoke(ctx, "/kinbridge.test.peer.v1.TestService/Do", &emptypb.Empty{}, &emptypb.Empty{})
}

// limitedServer runs a server limited to burst 2 per user and burst 4 per
// service identity, refilling once in 1000 s (never, within a test). Users
// call do and watch, services doPeer.
func limitedServer(t *testing.T) (conn *grpc.ClientConn, user func(string) context.Context, service func(string) context.Context) {
	t.Helper()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	limiter := ratelimit.New(ratelimit.NewLocal(0), "progress", ratelimit.Limits{
		User:    ratelimit.Limit{Rate: 0.001, Burst: 2},
		Service: ratelimit.Limit{Rate: 0.001, Burst: 4},
	}, nil)
	conn, _ = startWith(t, Options{Verifier: v, RateLimiter: limiter}, func(context.Context) error { return nil }, time.Second, &peerDesc)
	user = func(name string) context.Context {
		tok, err := auth.NewUserIssuer(userKey).Issue(name, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	service = func(name string) context.Context {
		tok, err := auth.NewServiceIdentity(serviceKey, name).Token()
		if err != nil {
			t.Fatal(err)
		}
		return metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+tok)
	}
	return conn, user, service
}

func wantRateLimited(t *testing.T, err error) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			retry = ri
		}
	}
	if d := retry.GetRetryDelay().AsDuration(); d < time.Second {
		t.Fatalf("RetryInfo delay %v, want at least 1s (details %v)", d, st.Details())
	}
}

func TestRateLimitPerUser(t *testing.T) {
	conn, user, _ := limitedServer(t)
	maria := user("maria")
	if err := do(maria, conn); err != nil {
		t.Fatal(err)
	}
	if err := watch(maria, conn); err != nil { // a stream costs one request too
		t.Fatal(err)
	}
	wantRateLimited(t, do(maria, conn))
	wantRateLimited(t, watch(maria, conn))
	// Another user has a bucket of their own.
	if err := do(user("olga"), conn); err != nil {
		t.Fatalf("olga: %v", err)
	}
	// Health checks are never limited.
	for range 10 {
		if _, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
			t.Fatalf("health: %v", err)
		}
	}
}

// TestRateLimitPerServiceIdentity: a service has its own budget, apart
// from users', and each service its own bucket.
func TestRateLimitPerServiceIdentity(t *testing.T) {
	conn, user, service := limitedServer(t)
	maria := user("maria")
	for range 2 {
		if err := do(maria, conn); err != nil {
			t.Fatal(err)
		}
	}
	wantRateLimited(t, do(maria, conn))

	media := service("media")
	for i := range 4 {
		if err := doPeer(media, conn); err != nil {
			t.Fatalf("service call %d of a burst of 4: %v", i+1, err)
		}
	}
	wantRateLimited(t, doPeer(media, conn))
	if err := doPeer(service("notification"), conn); err != nil {
		t.Fatalf("another service: %v", err)
	}
	// A user named like a service does not draw on the service's bucket.
	if err := do(user("media"), conn); err != nil {
		t.Fatalf("user media: %v", err)
	}
}
