package notification

// These tests run the real service (SQLite in t.TempDir) behind a real
// grpcserver with a real auth.Verifier, called over loopback gRPC with real
// user tokens. Only progress is stood in for: fakeProgress answers from a
// table of children and their guardians, as progress's AccessService does.

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
)

// fakeProgress is progress's AccessService: roles[child][user]; a child
// in the table exists even with no one on it.
type fakeProgress struct {
	roles map[string]map[string]progressv1.Role
}

func (f fakeProgress) CheckAccess(_ context.Context, in *progresspeerv1.CheckAccessRequest, _ ...grpc.CallOption) (*progresspeerv1.CheckAccessResponse, error) {
	users, exists := f.roles[in.GetChild()]
	role := users[in.GetUser()]
	allowed := role != progressv1.Role_ROLE_UNSPECIFIED &&
		(in.GetPermission() == progresspeerv1.Permission_PERMISSION_VIEW || role == progressv1.Role_ROLE_CONTRIBUTOR)
	return &progresspeerv1.CheckAccessResponse{ChildExists: exists, Allowed: allowed, Role: role}, nil
}

func (f fakeProgress) ListGuardians(_ context.Context, in *progresspeerv1.ListGuardiansRequest, _ ...grpc.CallOption) (*progresspeerv1.ListGuardiansResponse, error) {
	users, exists := f.roles[in.GetChild()]
	resp := &progresspeerv1.ListGuardiansResponse{ChildExists: exists}
	for u, r := range users {
		resp.Guardians = append(resp.Guardians, &progresspeerv1.Guardian{User: u, Role: r})
	}
	return resp, nil
}

type env struct {
	client notificationv1.NotificationServiceClient
	issuer *auth.UserIssuer
}

func newEnv(t *testing.T, progress progresspeerv1.AccessServiceClient) *env {
	t.Helper()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := New(ctx, Config{
		DSN:      "sqlite:" + filepath.Join(t.TempDir(), "notification.db"),
		Progress: progress,
		Logger:   logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	gs, err := grpcserver.New(grpcserver.Options{Logger: logger, Verifier: verifier})
	if err != nil {
		t.Fatal(err)
	}
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served, ran := make(chan struct{}), make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(ctx, lis, time.Second) }()
	go func() { defer close(ran); _ = svc.Run(ctx) }()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		cancel()
		<-served
		<-ran
		svc.Close()
	})
	return &env{client: notificationv1.NewNotificationServiceClient(conn), issuer: auth.NewUserIssuer(userKey)}
}

// as returns a context calling as user.
func (e *env) as(t *testing.T, user string, admin bool) context.Context {
	t.Helper()
	tok, err := e.issuer.Issue(user, admin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

func (e *env) subscribe(ctx context.Context, child string) (*notificationv1.Subscription, error) {
	return e.client.CreateSubscription(ctx, &notificationv1.CreateSubscriptionRequest{
		Parent:       "users/me",
		Subscription: &notificationv1.Subscription{Child: child, Muted: true},
	})
}

// TestSubscribingNeedsAChildYouMaySee: a subscription to a child the
// caller may not see, or to one that does not exist, answers NOT_FOUND in
// the same words, and nothing is kept.
func TestSubscribingNeedsAChildYouMaySee(t *testing.T) {
	const (
		ada   = "children/ada"   // maria's and the teacher's
		boris = "children/boris" // olga's
		ghost = "children/ghost" // does not exist
	)
	e := newEnv(t, fakeProgress{roles: map[string]map[string]progressv1.Role{
		ada:   {"maria": progressv1.Role_ROLE_GUARDIAN, "teacher": progressv1.Role_ROLE_CONTRIBUTOR},
		boris: {"olga": progressv1.Role_ROLE_GUARDIAN},
	}})
	maria := e.as(t, "maria", false)

	for _, tt := range []struct {
		name, child string
		ctx         context.Context
		want        codes.Code
	}{
		{"a guardian subscribes to her child", ada, maria, codes.OK},
		{"a contributor subscribes too", ada, e.as(t, "teacher", false), codes.OK},
		{"an admin may subscribe to any child that exists", boris, e.as(t, "root", true), codes.OK},
		{"another family's child", boris, maria, codes.NotFound},
		{"a child that does not exist", ghost, maria, codes.NotFound},
		{"a child that does not exist, even for an admin", ghost, e.as(t, "root", true), codes.NotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sub, err := e.subscribe(tt.ctx, tt.child)
			if status.Code(err) != tt.want {
				t.Fatalf("CreateSubscription(%s) = %v, %v; want %v", tt.child, sub, err, tt.want)
			}
			if tt.want == codes.NotFound {
				// The same words whether the child exists or not.
				if got, want := status.Convert(err).Message(), tt.child+" not found"; got != want {
					t.Errorf("message %q, want %q", got, want)
				}
			}
		})
	}
	// Nothing was kept of the refused ones.
	subs, err := e.client.ListSubscriptions(maria, &notificationv1.ListSubscriptionsRequest{Parent: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if len(subs.GetSubscriptions()) != 1 || subs.GetSubscriptions()[0].GetChild() != ada {
		t.Errorf("maria's subscriptions: %v, want only %s", subs.GetSubscriptions(), ada)
	}
}

// TestSubscribingWithProgressDown: when progress cannot be asked, the
// caller is told to retry, and not where progress is.
func TestSubscribingWithProgressDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close() // nothing listens there now
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	e := newEnv(t, progresspeerv1.NewAccessServiceClient(conn))

	_, err = e.subscribe(e.as(t, "maria", false), "children/ada")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("with progress down: %v, want Unavailable", err)
	}
	_, port, _ := net.SplitHostPort(addr)
	if msg := status.Convert(err).Message(); strings.Contains(msg, port) || strings.Contains(msg, "dial") {
		t.Errorf("the caller is told %q", msg)
	}
}

// TestNamesInTheInbox: names are read with pkg/names. Marking reads only
// the caller's notifications by canonical name (users/me or their own id);
// another user's inbox or subscription is NOT_FOUND, a malformed name
// INVALID_ARGUMENT on its field.
func TestNamesInTheInbox(t *testing.T) {
	e := newEnv(t, fakeProgress{roles: map[string]map[string]progressv1.Role{
		"children/ada": {"maria": progressv1.Role_ROLE_GUARDIAN},
	}})
	maria := e.as(t, "maria", false)
	if _, err := e.subscribe(maria, "children/ada"); err != nil {
		t.Fatal(err)
	}
	mark := func(names ...string) error {
		_, err := e.client.MarkNotificationsRead(maria, &notificationv1.MarkNotificationsReadRequest{Parent: "users/me", Names: names})
		return err
	}
	for _, ok := range []string{"users/me/notifications/1", "users/maria/notifications/9223372036854775807"} {
		if err := mark(ok); err != nil {
			t.Errorf("marking %s: %v", ok, err)
		}
	}
	for _, bad := range []string{"users/olga/notifications/1", "users/me/notifications/0", "users/me/notifications/007",
		"users/me/notifications/+1", "users/me/notifications/", "users/me/subscriptions/1", "notifications/1"} {
		if err := mark("users/me/notifications/2", bad); status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "names[1]") {
			t.Errorf("marking %s: %v, want INVALID_ARGUMENT on names[1]", bad, err)
		}
	}

	for _, tt := range []struct {
		name string
		want codes.Code
	}{
		{"users/me/subscriptions/ada", codes.OK},
		{"users/maria/subscriptions/ada", codes.OK},
		{"users/olga/subscriptions/ada", codes.NotFound},
	} {
		if _, err := e.client.GetSubscription(maria, &notificationv1.GetSubscriptionRequest{Name: tt.name}); status.Code(err) != tt.want {
			t.Errorf("GetSubscription(%s): %v, want %v", tt.name, err, tt.want)
		}
	}
	_, err := e.client.CreateSubscription(maria, &notificationv1.CreateSubscriptionRequest{Parent: "users/me", Subscription: &notificationv1.Subscription{}})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "subscription.child") {
		t.Errorf("a subscription to no child: %v, want INVALID_ARGUMENT on subscription.child", err)
	}
}
