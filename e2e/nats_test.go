//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
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
// closes when the stream ends.
func feed(t *testing.T, ctx context.Context, client notificationv1.NotificationServiceClient, token, resume string) <-chan *notificationv1.StreamNotificationsResponse {
	t.Helper()
	stream, err := client.StreamNotifications(as(ctx, token), &notificationv1.StreamNotificationsRequest{Parent: "users/me", ResumeToken: resume})
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *notificationv1.StreamNotificationsResponse, 100)
	go func() {
		defer close(out)
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
			}
		}
	}()
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
	for _, addr := range []string{addrA, addrB} {
		start(t, "notification", dataDir, nil, "--notification-listen", addr, "--progress-addr", progressAddr,
			"--nats-url", proxy.url(), "--metrics-listen", "")
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
	time.Sleep(300 * time.Millisecond) // let the grants settle before the first event
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
	proxy.setCut(false)
	time.Sleep(3 * time.Second) // reconnect wait of the NATS clients
	resumed := feed(t, ctx, clientB, maria, last.GetResumeToken())
	if waitFor(t, resumed, "while cut") == nil {
		t.Fatal("the resumed stream did not replay what was missed")
	}
	record("after")
	if waitFor(t, resumed, "after") == nil {
		t.Fatal("live delivery across instances did not recover")
	}
}
