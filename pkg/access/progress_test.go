package access

// These tests ask a real progress service, on a real gRPC server with the
// suite's interceptors, over loopback, as media and notification will.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/services/progress"
)

// progressEnv is a progress service with its own database and keys.
type progressEnv struct {
	t          *testing.T
	dsn        string
	verifier   *auth.Verifier
	userKey    ed25519.PrivateKey
	serviceKey ed25519.PrivateKey

	// accessCache is the shared cache progress drops answers from (nil:
	// none).
	accessCache *Shared

	addr  string                           // where the server listens
	stop  func()                           // stops the running server
	admin progressv1.ProgressServiceClient // calls with an administrator's token
}

func startProgress(t *testing.T) *progressEnv {
	t.Helper()
	return startProgressWith(t, nil)
}

// startProgressWith starts progress dropping the answers about a child
// from accessCache when who may see it changes.
func startProgressWith(t *testing.T, accessCache *Shared) *progressEnv {
	t.Helper()
	userPub, userKey := newKey(t)
	servicePub, serviceKey := newKey(t)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	e := &progressEnv{
		t:           t,
		dsn:         "sqlite:" + filepath.Join(t.TempDir(), "progress.db"),
		verifier:    v,
		userKey:     userKey,
		serviceKey:  serviceKey,
		accessCache: accessCache,
	}
	e.serve("127.0.0.1:0")
	tok, err := auth.NewUserIssuer(userKey).Issue("root", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.admin = progressv1.NewProgressServiceClient(dial(t, e.addr, bearer(tok)))
	return e
}

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// serve starts progress on addr ("127.0.0.1:0" for any port), over the
// database of any earlier run.
func (e *progressEnv) serve(addr string) {
	t := e.t
	t.Helper()
	cfg := progress.Config{DSN: e.dsn}
	if e.accessCache != nil {
		cfg.AccessCache = e.accessCache
	}
	svc, err := progress.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := grpcserver.New(grpcserver.Options{Verifier: e.verifier, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(srv)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, lis, 5*time.Second) }()
	stop := sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("progress server: %v", err)
		}
		if err := svc.Close(); err != nil {
			t.Errorf("progress close: %v", err)
		}
	})
	t.Cleanup(stop)
	e.addr, e.stop = lis.Addr().String(), stop
}

// dial connects the way services do, retrying the idempotent CheckAccess
// on UNAVAILABLE.
func dial(t *testing.T, addr string, creds credentials.PerRPCCredentials) *grpc.ClientConn {
	t.Helper()
	conn, err := grpcclient.New(addr, grpcclient.Options{
		Credentials: creds,
		Services: []protoreflect.ServiceDescriptor{
			progresspeerv1.File_kinbridge_progress_peer_v1_access_proto.Services().ByName("AccessService"),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// peer returns a counting AccessService client calling with creds.
func (e *progressEnv) peer(creds credentials.PerRPCCredentials) *countingClient {
	return &countingClient{AccessServiceClient: progresspeerv1.NewAccessServiceClient(dial(e.t, e.addr, creds))}
}

// media is the identity media will call progress with.
func (e *progressEnv) media() *auth.ServiceIdentity {
	return auth.NewServiceIdentity(e.serviceKey, "media")
}

// child creates a child and returns its name.
func (e *progressEnv) child() string {
	e.t.Helper()
	c, err := e.admin.CreateChild(e.t.Context(), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.GetName()
}

func (e *progressEnv) grant(child, user string, role progressv1.Role) {
	e.t.Helper()
	_, err := e.admin.CreateGuardianship(e.t.Context(), &progressv1.CreateGuardianshipRequest{
		Parent:       child,
		Guardianship: &progressv1.Guardianship{User: user, Role: role},
	})
	if err != nil {
		e.t.Fatal(err)
	}
}

func (e *progressEnv) revoke(child, user string) {
	e.t.Helper()
	if _, err := e.admin.DeleteGuardianship(e.t.Context(), &progressv1.DeleteGuardianshipRequest{Name: child + "/guardians/" + user}); err != nil {
		e.t.Fatal(err)
	}
}

// bearer sends a fixed user token, as the gateway forwards one.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

func TestCheckPolicy(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	other := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	e.grant(child, "carl", progressv1.Role_ROLE_CONTRIBUTOR)
	e.grant(other, "mallory", progressv1.Role_ROLE_CONTRIBUTOR)
	const missing = "children/doesnotexist"
	c := New(e.peer(e.media()), 0)

	tests := []struct {
		name  string
		p     auth.Principal
		child string
		perm  progresspeerv1.Permission
		want  codes.Code
	}{
		{"guardian views", user("grace"), child, view, codes.OK},
		{"guardian contributes", user("grace"), child, contribute, codes.PermissionDenied},
		{"contributor views", user("carl"), child, view, codes.OK},
		{"contributor contributes", user("carl"), child, contribute, codes.OK},
		{"stranger views", user("stranger"), child, view, codes.NotFound},
		{"stranger contributes", user("stranger"), child, contribute, codes.NotFound},
		{"contributor of another child views", user("mallory"), child, view, codes.NotFound},
		{"guardian views missing child", user("grace"), missing, view, codes.NotFound},
		{"admin views", admin("root"), child, view, codes.OK},
		{"admin contributes", admin("root"), child, contribute, codes.OK},
		{"admin who is a guardian contributes", admin("grace"), child, contribute, codes.OK},
		{"admin views missing child", admin("root"), missing, view, codes.NotFound},
		{"admin contributes to missing child", admin("root"), missing, contribute, codes.NotFound},
		{"service holds no role", auth.Principal{Subject: "service:media", Service: "media"}, child, view, codes.NotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := c.Check(t.Context(), tc.p, tc.child, tc.perm)
			wantCode(t, err, tc.want)
			if tc.want == codes.NotFound {
				// The same words whether the child is missing or hidden, so
				// the answer reveals nothing about which children exist.
				if got, want := status.Convert(err).Message(), tc.child+" not found"; got != want {
					t.Errorf("message %q, want %q", got, want)
				}
			}
		})
	}
}

func TestCheckServesCachedAnswers(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	client := e.peer(e.media())
	const ttl = time.Minute
	c := New(client, ttl)
	clock := newClock()
	c.now = clock.Now
	ctx := t.Context()

	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 1)
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 1)

	// Refusals are answers too, and cached like the rest.
	wantCode(t, c.Check(ctx, user("grace"), child, contribute), codes.PermissionDenied)
	wantCode(t, c.Check(ctx, user("grace"), child, contribute), codes.PermissionDenied)
	wantCalls(t, client, 2)
	wantCode(t, c.Check(ctx, user("stranger"), child, view), codes.NotFound)
	wantCode(t, c.Check(ctx, user("stranger"), child, view), codes.NotFound)
	wantCalls(t, client, 3)

	// The admin flag travels in the token, not in progress's answer: the
	// cached answer about the same user still lets them in as an admin.
	wantCode(t, c.Check(ctx, admin("stranger"), child, view), codes.OK)
	wantCalls(t, client, 3)

	// A revocation is seen only once the cached answer expires.
	e.revoke(child, "grace")
	clock.Advance(ttl - time.Nanosecond)
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 3)
	clock.Advance(time.Nanosecond)
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.NotFound)
	wantCalls(t, client, 4)
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.NotFound)
	wantCalls(t, client, 4)
}

func TestCheckWithoutCacheAsksEveryTime(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_CONTRIBUTOR)
	client := e.peer(e.media())
	c := New(client, 0)
	ctx := t.Context()

	for i := range 5 {
		wantCode(t, c.Check(ctx, user("grace"), child, contribute), codes.OK)
		wantCalls(t, client, int64(i+1))
	}
	if n := len(c.entries); n != 0 {
		t.Errorf("cache holds %d entries with ttl 0", n)
	}
	// A revocation takes effect at once.
	e.revoke(child, "grace")
	wantCode(t, c.Check(ctx, user("grace"), child, contribute), codes.NotFound)
	wantCalls(t, client, 6)
}

func TestCheckProgressDown(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	client := e.peer(e.media())
	c := New(client, time.Minute)
	c.now = newClock().Now
	ctx := t.Context()

	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 1)

	addr := e.addr
	e.stop()
	for i := range 2 {
		err := c.Check(ctx, user("grace"), child, contribute)
		wantCode(t, err, codes.Unavailable)
		if msg := status.Convert(err).Message(); !strings.Contains(msg, "progress") || strings.Contains(msg, addr) {
			t.Errorf("message %q does not say progress failed, or says where it is", msg)
		}
		// Every attempt went to progress: the failure was not cached.
		wantCalls(t, client, int64(2+i))
	}
	// Answers cached before the outage still serve.
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
	wantCalls(t, client, 3)

	// Once progress is back, the real answer comes through: no error was
	// cached in its place.
	e.serve(addr)
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := c.Check(ctx, user("grace"), child, contribute)
		if status.Code(err) != codes.Unavailable {
			wantCode(t, err, codes.PermissionDenied)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress never came back: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCheckProgressDownBehindABreaker: once media's breaker for progress is
// open, checks fail at once without calling progress, with UNAVAILABLE and
// the breaker's RetryInfo; answers cached before the outage still serve.
func TestCheckProgressDownBehindABreaker(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	breaker := grpcclient.NewBreaker(grpcclient.BreakerConfig{Caller: "media", Upstream: "progress", Failures: 2,
		CoolDown: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	conn, err := grpcclient.New(e.addr, grpcclient.Options{Credentials: e.media(), Breaker: breaker})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	c := New(progresspeerv1.NewAccessServiceClient(conn), time.Minute)
	c.now = newClock().Now
	ctx := t.Context()
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)

	e.stop()
	for range 2 {
		wantCode(t, c.Check(ctx, user("grace"), child, contribute), codes.Unavailable)
	}
	if s := breaker.State().String(); s != "open" {
		t.Fatalf("breaker %s after 2 checks progress did not answer, want open", s)
	}
	err = c.Check(ctx, user("grace"), child, contribute)
	wantCode(t, err, codes.Unavailable)
	var delay time.Duration
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay <= 0 || delay > time.Hour {
		t.Errorf("check refused by the breaker: RetryInfo %v, want the rest of its cool-down: %v", delay, err)
	}
	// What was cached before the outage still serves.
	wantCode(t, c.Check(ctx, user("grace"), child, view), codes.OK)
}

// A caller progress refuses to talk to is a configuration fault; the user
// asking must not read it as "no access".
func TestCheckCallRefusedIsUnavailable(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_CONTRIBUTOR)
	_, strangerKey := newKey(t)
	userTok, err := auth.NewUserIssuer(e.userKey).Issue("grace", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		creds credentials.PerRPCCredentials
	}{
		{"no credentials", nil}, // Unauthenticated from progress
		{"unknown service key", auth.NewServiceIdentity(strangerKey, "media")}, // Unauthenticated
		{"user token", bearer(userTok)},                                        // PermissionDenied
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			client := e.peer(tc.creds)
			c := New(client, time.Minute)
			for i := range 2 {
				wantCode(t, c.Check(t.Context(), user("grace"), child, view), codes.Unavailable)
				wantCalls(t, client, int64(i+1))
			}
		})
	}
}

func TestCheckContextEnds(t *testing.T) {
	e := startProgress(t)
	child := e.child()
	e.grant(child, "grace", progressv1.Role_ROLE_GUARDIAN)
	for _, ttl := range []time.Duration{0, time.Minute} {
		t.Run("ttl="+ttl.String(), func(t *testing.T) {
			client := e.peer(e.media())
			c := New(client, ttl)
			c.now = newClock().Now

			canceled, cancel := context.WithCancel(t.Context())
			cancel()
			wantCode(t, c.Check(canceled, user("grace"), child, view), codes.Canceled)

			expired, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
			defer cancel()
			wantCode(t, c.Check(expired, user("grace"), child, view), codes.DeadlineExceeded)

			// A caller that has given up costs progress nothing, and
			// nothing is cached for it: a live context gets a fresh answer.
			wantCalls(t, client, 0)
			wantCode(t, c.Check(t.Context(), user("grace"), child, view), codes.OK)
			wantCalls(t, client, 1)
		})
	}
}
