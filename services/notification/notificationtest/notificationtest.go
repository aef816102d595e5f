// Package notificationtest runs the real notification service for tests, of
// the service itself and of its clients (the gateway): on SQLite or
// PostgreSQL, over gRPC on a loopback port, with progress stood in by a
// table of guardians the test edits, and events published the way
// progress's outbox publishes them.
package notificationtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/notification"
)

// WaitLimit bounds every wait of a test, so that a broken feed fails it
// instead of hanging it. It is not a timing assertion: what is waited for
// normally takes milliseconds.
const WaitLimit = 20 * time.Second

// Backend is a database the service runs on.
type Backend struct {
	Name string
	DSN  func(t *testing.T) string
}

// Backends are SQLite, always, and PostgreSQL through pkg/testenv (skipped
// when unreachable, or failed when KINBRIDGE_TEST_REQUIRE names it).
var Backends = []Backend{
	{Name: "sqlite", DSN: func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "notification.db") }},
	{Name: "postgres", DSN: func(t *testing.T) string { return testenv.Postgres(t) }},
}

// Env is a running notification service.
type Env struct {
	// Addr is the service's gRPC address.
	Addr string
	// Verifier accepts the env's user tokens and its service identity, for
	// a gateway put in front of the service.
	Verifier *auth.Verifier
	// Identity is a service identity the service accepts.
	Identity *auth.ServiceIdentity
	// Notifications is the public API; its calls need a user (see As).
	Notifications notificationv1.NotificationServiceClient
	// Live is the service-only LiveService, called with Identity.
	Live notificationpeerv1.LiveServiceClient

	publish notificationpeerv1.PublishServiceClient
	users   *auth.UserIssuer
	access  *guardianTable
	events  atomic.Int64
}

// Start runs the service on b until the test ends; configure, when not
// nil, adjusts its Config (heartbeat, stream buffer) first.
func Start(t *testing.T, b Backend, configure func(*notification.Config)) *Env {
	t.Helper()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	verifier, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	access := &guardianTable{guardians: map[string][]string{}}
	cfg := notification.Config{DSN: b.DSN(t), Progress: access, Logger: logger}
	if configure != nil {
		configure(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := notification.New(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	gs, err := grpcserver.New(grpcserver.Options{Logger: logger, Verifier: verifier})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	svc.Register(gs)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	served, ran := make(chan struct{}), make(chan struct{})
	go func() { defer close(served); _ = gs.Serve(ctx, lis, time.Second) }()
	go func() { defer close(ran); _ = svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-served
		<-ran
		svc.Close()
	})
	identity := auth.NewServiceIdentity(serviceKey, "progress")
	dial := func(opts ...grpc.DialOption) *grpc.ClientConn {
		conn, err := grpc.NewClient(lis.Addr().String(), append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() }) // before the server stops
		return conn
	}
	userConn, serviceConn := dial(), dial(grpc.WithPerRPCCredentials(identity))
	return &Env{
		Addr:          lis.Addr().String(),
		Verifier:      verifier,
		Identity:      identity,
		Notifications: notificationv1.NewNotificationServiceClient(userConn),
		Live:          notificationpeerv1.NewLiveServiceClient(serviceConn),
		publish:       notificationpeerv1.NewPublishServiceClient(serviceConn),
		users:         auth.NewUserIssuer(userKey),
		access:        access,
	}
}

// Token returns a bearer token of user.
func (e *Env) Token(t *testing.T, user string) string {
	t.Helper()
	tok, err := e.users.Issue(user, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// As returns ctx calling as user.
func (e *Env) As(ctx context.Context, t *testing.T, user string) context.Context {
	t.Helper()
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+e.Token(t, user))
}

// Grant makes user a guardian of child and publishes the event, as
// progress does.
func (e *Env) Grant(t *testing.T, child, user string) {
	t.Helper()
	e.access.set(child, user, true)
	e.Publish(t, &notificationpeerv1.Event{Type: notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_GRANTED, Child: child,
		Title: "New guardian", Body: user + " may now follow", User: user})
}

// Revoke ends user's guardianship of child and publishes the event.
func (e *Env) Revoke(t *testing.T, child, user string) {
	t.Helper()
	e.access.set(child, user, false)
	e.Publish(t, &notificationpeerv1.Event{Type: notificationv1.EventType_EVENT_TYPE_GUARDIANSHIP_REVOKED, Child: child,
		Title: "Access revoked", Body: user + " no longer follows", User: user})
}

// Record publishes an event of the given type about child with body.
func (e *Env) Record(t *testing.T, child string, typ notificationv1.EventType, body string) {
	t.Helper()
	e.Publish(t, &notificationpeerv1.Event{Type: typ, Child: child, Title: typ.String(), Body: body})
}

// Publish publishes ev, giving it an id and a time when it has none, and
// returns the answer.
func (e *Env) Publish(t *testing.T, ev *notificationpeerv1.Event) *notificationpeerv1.PublishResponse {
	t.Helper()
	if ev.GetId() == "" {
		ev.Id = "event-" + strconv.FormatInt(e.events.Add(1), 10)
	}
	if ev.GetOccurTime() == nil {
		ev.OccurTime = timestamppb.Now()
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	resp, err := e.publish.Publish(ctx, &notificationpeerv1.PublishRequest{Event: ev})
	if err != nil {
		t.Fatalf("publish %v: %v", ev.GetType(), err)
	}
	return resp
}

// PublishBatch publishes evs in one PublishBatch call, giving each an id
// and a time when it has none, and returns the results.
func (e *Env) PublishBatch(t *testing.T, evs []*notificationpeerv1.Event) []*notificationpeerv1.PublishResponse {
	t.Helper()
	for _, ev := range evs {
		if ev.GetId() == "" {
			ev.Id = "event-" + strconv.FormatInt(e.events.Add(1), 10)
		}
		if ev.GetOccurTime() == nil {
			ev.OccurTime = timestamppb.Now()
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitLimit)
	defer cancel()
	resp, err := e.publish.PublishBatch(ctx, &notificationpeerv1.PublishBatchRequest{Events: evs})
	if err != nil {
		t.Fatalf("publish a batch of %d: %v", len(evs), err)
	}
	return resp.GetResults()
}

// SetGuardian changes whether user may see child, without publishing
// anything: what progress answers when notification asks.
func (e *Env) SetGuardian(child, user string, on bool) { e.access.set(child, user, on) }

// SetContributor makes a guardian of child listed as a contributor (or,
// with on false, as a guardian again) in ListGuardians' answers.
func (e *Env) SetContributor(child, user string, on bool) { e.access.setContributor(child, user, on) }

// InboxOf returns user's whole inbox, oldest first.
func (e *Env) InboxOf(t *testing.T, user string) []*notificationv1.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.As(context.Background(), t, user), WaitLimit)
	defer cancel()
	var all []*notificationv1.Notification
	for page := ""; ; {
		resp, err := e.Notifications.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1000, PageToken: page})
		if err != nil {
			t.Fatalf("inbox of %s: %v", user, err)
		}
		all = append(all, resp.GetNotifications()...)
		if page = resp.GetNextPageToken(); page == "" {
			break
		}
	}
	slices.Reverse(all)
	return all
}

// Position returns where a feed of user opened now starts: the last
// sequence the inbox has reached (removed notifications included). It is
// the resume token of the first heartbeat of a stream with none.
func (e *Env) Position(t *testing.T, user string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.As(context.Background(), t, user), WaitLimit)
	defer cancel()
	stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("position of %s: %v", user, err)
		}
		if resp.GetHeartbeat() != nil {
			pos, err := strconv.ParseInt(resp.GetResumeToken(), 10, 64)
			if err != nil {
				t.Fatalf("heartbeat resume token %q", resp.GetResumeToken())
			}
			return pos
		}
	}
}

// Eventually polls cond until it holds, failing the test after WaitLimit.
func Eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitLimit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// guardianTable stands in for progress's AccessService: who may see which
// child, as the test sets it.
type guardianTable struct {
	mu        sync.Mutex
	guardians map[string][]string // child -> users
	// contributors are the guardians listed with ROLE_CONTRIBUTOR, by
	// child then user.
	contributors map[string]map[string]bool
}

// setContributor lists user (a guardian of child) as a contributor or not.
func (g *guardianTable) setContributor(child, user string, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.contributors == nil {
		g.contributors = map[string]map[string]bool{}
	}
	if g.contributors[child] == nil {
		g.contributors[child] = map[string]bool{}
	}
	g.contributors[child][user] = on
}

func (g *guardianTable) set(child, user string, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	users := slices.DeleteFunc(g.guardians[child], func(u string) bool { return u == user })
	if on {
		users = append(users, user)
	}
	g.guardians[child] = users
}

func (g *guardianTable) has(child, user string) (exists, guardian bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	users, exists := g.guardians[child]
	return exists, slices.Contains(users, user)
}

// ListGuardians implements progresspeerv1.AccessServiceClient.
func (g *guardianTable) ListGuardians(_ context.Context, in *progresspeerv1.ListGuardiansRequest, _ ...grpc.CallOption) (*progresspeerv1.ListGuardiansResponse, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	users, exists := g.guardians[in.GetChild()]
	resp := &progresspeerv1.ListGuardiansResponse{ChildExists: exists}
	for _, u := range users {
		role := progressv1.Role_ROLE_GUARDIAN
		if g.contributors[in.GetChild()][u] {
			role = progressv1.Role_ROLE_CONTRIBUTOR
		}
		resp.Guardians = append(resp.Guardians, &progresspeerv1.Guardian{User: u, Role: role})
	}
	return resp, nil
}

// CheckAccess implements progresspeerv1.AccessServiceClient: a guardian
// may view the child, nobody may contribute.
func (g *guardianTable) CheckAccess(_ context.Context, in *progresspeerv1.CheckAccessRequest, _ ...grpc.CallOption) (*progresspeerv1.CheckAccessResponse, error) {
	exists, guardian := g.has(in.GetChild(), in.GetUser())
	resp := &progresspeerv1.CheckAccessResponse{ChildExists: exists}
	if guardian {
		resp.Role = progressv1.Role_ROLE_GUARDIAN
		resp.Allowed = in.GetPermission() == progresspeerv1.Permission_PERMISSION_VIEW
	}
	return resp, nil
}

// String describes a notification briefly, for failure messages.
func String(n *notificationv1.Notification) string {
	return fmt.Sprintf("#%d %s %s %q", n.GetSequence(), n.GetChild(), n.GetType(), n.GetBody())
}
