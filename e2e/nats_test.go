//go:build e2e

package e2e

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// cutProxy forwards TCP to a target and can cut every connection and
// refuse new ones, then allow them again: a network failure under the
// test's control, without touching any shared server.
type cutProxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{lis: lis, target: target}
	t.Cleanup(func() { lis.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) url() string { return "nats://" + p.lis.Addr().String() }

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// feed reads a user's notification stream into a channel; the channel
// closes when the stream ends. It returns once the stream is live: the
// server sends its first heartbeat after subscribing to the bus and
// replaying what the client missed.
func feed(t *testing.T, ctx context.Context, client notificationv1.NotificationServiceClient, token, resume string) <-chan *notificationv1.StreamNotificationsResponse {
	t.Helper()
	stream, err := client.StreamNotifications(as(ctx, token), &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: resume})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *notificationv1.StreamNotificationsResponse, 100)
	live := make(chan struct{})
	go func() {
		defer close(out)
		beat := sync.OnceFunc(func() { close(live) })
		defer beat()
		for {
			resp, err := stream.Recv()
			if err != nil {
				if status.Code(err) != codes.Canceled {
					t.Logf("stream ended: %v", err)
				}
				return
			}
			if resp.GetNotification() != nil {
				out <- resp
			} else {
				beat()
			}
		}
	}()
	select {
	case <-live:
	case <-time.After(20 * time.Second):
		t.Fatal("the stream sent no heartbeat")
	}
	return out
}

func waitFor(t *testing.T, ch <-chan *notificationv1.StreamNotificationsResponse, body string) *notificationv1.StreamNotificationsResponse {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case resp, ok := <-ch:
			if !ok {
				return nil
			}
			if strings.Contains(resp.GetNotification().GetBody(), body) {
				return resp
			}
		case <-timeout:
			t.Fatalf("%q never arrived", body)
		}
	}
}

// TestTwoInstancesShareLiveDeliveryThroughNATS runs two notification
// instances on one database and a throwaway NATS server reached through a
// proxy the test can cut. Events enter through instance A; maria watches
// instance B.
func TestTwoInstancesShareLiveDeliveryThroughNATS(t *testing.T) {
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server did not start")
	}
	proxy := newCutProxy(t, ns.Addr().String())

	dataDir := t.TempDir()
	progressAddr, addrA, addrB := freePort(t), freePort(t), freePort(t)
	start(t, "progress", dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", addrA, "--metrics-listen", "")
	var instances []*process
	for _, addr := range []string{addrA, addrB} {
		instances = append(instances, start(t, "notification", dataDir, nil, "--notification-listen", addr, "--progress-addr", progressAddr,
			"--nats-url", proxy.url(), "--metrics-listen", "127.0.0.1:0"))
	}

	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(user string, admin bool) string {
		tok, _ := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
		return tok
	}
	admin, teacher, maria := issue("admin", true), issue("teacher", false), issue("maria", false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	progressClient := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	child, err := progressClient.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	for user, role := range map[string]progressv1.Role{"maria": progressv1.Role_ROLE_GUARDIAN, "teacher": progressv1.Role_ROLE_CONTRIBUTOR} {
		if _, err := progressClient.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name,
			Guardianship: &progressv1.Guardianship{User: user, Role: role}}); err != nil {
			t.Fatal(err)
		}
	}
	record := func(title string) {
		t.Helper()
		if _, err := progressClient.CreateAssessment(as(ctx, teacher), &progressv1.CreateAssessmentRequest{Parent: child.Name,
			Assessment: &progressv1.Assessment{Subject: "Math", Title: title, Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01"}}); err != nil {
			t.Fatal(err)
		}
	}
	clientB := notificationv1.NewNotificationServiceClient(dialGRPC(t, addrB))

	// Across instances: published on A, received live on B.
	live := feed(t, ctx, clientB, maria, "")
	record("across")
	last := waitFor(t, live, "across")
	if last == nil {
		t.Fatal("the stream on B ended before the event crossed from A")
	}

	// NATS cut: inboxes still fill.
	proxy.setCut(true)
	record("while cut")
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx2, cancel2 := context.WithTimeout(as(ctx, maria), 5*time.Second)
		resp, err := clientB.ListNotifications(ctx2, &notificationv1.ListNotificationsRequest{Parent: "users/me"})
		cancel2()
		if err == nil && strings.Contains(fmt.Sprint(resp.GetNotifications()), "while cut") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the inbox did not fill while NATS was cut: %v %v", resp, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// NATS back: the live path recovers. The old stream may have ended
	// (told to resume); a client resumes from its last token and gets the
	// missed notification, then live ones again.
	for _, p := range instances {
		waitNATSConnected(t, p, false)
	}
	proxy.setCut(false)
	for _, p := range instances {
		waitNATSConnected(t, p, true)
	}
	resumed := feed(t, ctx, clientB, maria, last.GetResumeToken())
	if waitFor(t, resumed, "while cut") == nil {
		t.Fatal("the resumed stream did not replay what was missed")
	}
	record("after")
	if waitFor(t, resumed, "after") == nil {
		t.Fatal("live delivery across instances did not recover")
	}
}

// natsConnectedGauge reads whether the fan-out bus is connected to NATS.
var natsConnectedGauge = regexp.MustCompile(`(?m)^kinbridge_notification_nats_connected_ratio(?:\{[^}]*\})? ([01])$`)

// waitNATSConnected polls p's metrics until its fan-out bus is connected to
// NATS, or is not.
func waitNATSConnected(t *testing.T, p *process, connected bool) {
	t.Helper()
	want := "0"
	if connected {
		want = "1"
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + p.metrics + "/metrics")
		if err == nil {
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if m := natsConnectedGauge.FindSubmatch(page); m != nil && string(m[1]) == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the notification instance at %s: nats_connected never became %s", p.notification, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// splitDeployment is one Kinbridge deployment of its own: progress and two
// notification instances on one data directory (so one service key and one
// set of databases), sharing live delivery over a NATS server that other
// deployments use too.
type splitDeployment struct {
	progress      progressv1.ProgressServiceClient
	notifications [2]notificationv1.NotificationServiceClient
	key           ed25519.PrivateKey // the user token issuer's
	child         string
}

// startSplitDeployment starts a deployment whose notification instances use
// the NATS at natsURL with their default settings: the deployment name and
// the key that authenticates its messages come from its own service key.
// Events enter through the first notification instance.
func startSplitDeployment(t *testing.T, natsURL string) *splitDeployment {
	t.Helper()
	dataDir := t.TempDir()
	progressAddr, addr0, addr1 := freePort(t), freePort(t), freePort(t)
	start(t, "progress", dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", addr0, "--metrics-listen", "")
	for _, addr := range []string{addr0, addr1} {
		start(t, "notification", dataDir, nil, "--notification-listen", addr, "--progress-addr", progressAddr,
			"--nats-url", natsURL, "--metrics-listen", "")
	}
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	return &splitDeployment{
		progress: progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr)),
		notifications: [2]notificationv1.NotificationServiceClient{
			notificationv1.NewNotificationServiceClient(dialGRPC(t, addr0)),
			notificationv1.NewNotificationServiceClient(dialGRPC(t, addr1)),
		},
		key: key,
	}
}

func (d *splitDeployment) token(t *testing.T, user string, admin bool) string {
	t.Helper()
	tok, err := auth.NewUserIssuer(d.key).Issue(user, admin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// family creates a child that user follows and "teacher" records for, and
// waits until both grants are in user's inbox, so that the user's inbox
// holds exactly two notifications.
func (d *splitDeployment) family(t *testing.T, ctx context.Context, user string) {
	t.Helper()
	admin := d.token(t, "admin", true)
	child, err := d.progress.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	d.child = child.Name
	for _, g := range []*progressv1.Guardianship{
		{User: user, Role: progressv1.Role_ROLE_GUARDIAN},
		{User: "teacher", Role: progressv1.Role_ROLE_CONTRIBUTOR},
	} {
		if _, err := d.progress.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name, Guardianship: g}); err != nil {
			t.Fatal(err)
		}
	}
	// The outbox delivers a child's events in order: once the second grant
	// is in the inbox, so is the first.
	tok := d.token(t, user, false)
	deadline := time.Now().Add(20 * time.Second)
	for {
		lctx, cancel := context.WithTimeout(as(ctx, tok), 5*time.Second)
		resp, err := d.notifications[1].ListNotifications(lctx, &notificationv1.ListNotificationsRequest{Parent: "users/me"})
		cancel()
		if err == nil && len(resp.GetNotifications()) == 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the grants did not reach %s's inbox: %v %v", user, resp, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// record records an assessment titled title, which notifies the child's
// guardians.
func (d *splitDeployment) record(t *testing.T, ctx context.Context, title string) {
	t.Helper()
	if _, err := d.progress.CreateAssessment(as(ctx, d.token(t, "teacher", false)), &progressv1.CreateAssessmentRequest{Parent: d.child,
		Assessment: &progressv1.Assessment{Subject: "Math", Title: title, Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01"}}); err != nil {
		t.Fatal(err)
	}
}

// liveFeeds opens user's notification stream on both instances, from now
// on, and returns once both are live.
func (d *splitDeployment) liveFeeds(t *testing.T, ctx context.Context, user string) [2]<-chan *notificationv1.StreamNotificationsResponse {
	t.Helper()
	var feeds [2]<-chan *notificationv1.StreamNotificationsResponse
	for i, client := range d.notifications {
		feeds[i] = feed(t, ctx, client, d.token(t, user, false), "")
	}
	return feeds
}

// nextIs checks that the next notification on each feed is the one whose
// body holds want: anything before it is another deployment's, delivered
// where it must not be.
func nextIs(t *testing.T, feeds [2]<-chan *notificationv1.StreamNotificationsResponse, want string) {
	t.Helper()
	for i, f := range feeds {
		select {
		case resp, ok := <-f:
			if !ok {
				t.Fatalf("the stream on instance %d ended while %q was expected", i, want)
			}
			if n := resp.GetNotification(); !strings.Contains(n.GetBody(), want) {
				t.Fatalf("instance %d delivered %q (sequence %d) where %q was expected next", i, n.GetBody(), n.GetSequence(), want)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("%q never arrived on instance %d", want, i)
		}
	}
}

// TestNATSDeploymentsHearOnlyThemselves runs two deployments, each with its
// own service key and two notification instances, on the machine's NATS
// server, with the same user following a child in both. Each deployment's
// instances deliver each other's live notifications; neither deployment
// delivers the other's. A leak would be seen: the user's inbox is at the
// same sequence in both deployments when the other publishes, so a foreign
// notification would be the next one a stream sends.
func TestNATSDeploymentsHearOnlyThemselves(t *testing.T) {
	natsURL := testenv.NATS(t)
	// Other tests may share the server: a user id of this run's own.
	user := "maria-" + strings.ToLower(rand.Text()[:12])
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	x, y := startSplitDeployment(t, natsURL), startSplitDeployment(t, natsURL)
	x.family(t, ctx, user)
	y.family(t, ctx, user)
	xFeeds, yFeeds := x.liveFeeds(t, ctx, user), y.liveFeeds(t, ctx, user)

	// x's notification reaches both of x's instances (the second across
	// NATS). Then y records: y's feeds get y's notification, and x's never
	// came before it.
	x.record(t, ctx, "x private")
	nextIs(t, xFeeds, "x private")
	y.record(t, ctx, "y marker")
	nextIs(t, yFeeds, "y marker")

	// The other way round, both inboxes now one further.
	y.record(t, ctx, "y private")
	nextIs(t, yFeeds, "y private")
	x.record(t, ctx, "x marker")
	nextIs(t, xFeeds, "x marker")
}
