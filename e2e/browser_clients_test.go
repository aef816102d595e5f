//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// The browser clients: e2e/clients holds node scripts that follow a user's
// live feed with the npm packages browser-side code uses, `eventsource`
// (the EventSource API) and `ws` (WebSocket), at the versions pinned in its
// package-lock.json. Node.js is optional locally: without node and npm the
// test skips, unless KINBRIDGE_TEST_REQUIRE names "node".

// Each client's first connection starts from an explicit position
// (last_event_id=, resume=), not from "now": the notification service fixes
// "now" some time after the connection opens, and a test cannot order its
// writes after that. Reconnecting and resuming are the clients' own.

// clientTimeout bounds a node script's whole run; each script also stops
// by itself after the number of notifications it was asked for.
const clientTimeout = 90 * time.Second

// nodeClients installs e2e/clients with `npm ci` (once per test run; see
// testenv.NPM) and returns its directory.
func nodeClients(t *testing.T) string {
	t.Helper()
	return testenv.NPM(t, filepath.Join(repoRoot, "e2e", "clients"))
}

// clientLine is one JSON line a client script printed.
type clientLine struct {
	Kind        string `json:"kind"`
	ID          string `json:"id"`          // SSE: the event id
	ResumeToken string `json:"resumeToken"` // WebSocket: the frame's resume token
	Type        string `json:"type"`
	Title       string `json:"title"`
	Body        string `json:"body"`
	raw         string
}

// nodeScript is a running client script.
type nodeScript struct {
	name   string
	lines  chan clientLine // closed when stdout ends
	output *syncBuffer     // everything it printed, stdout and stderr
	done   chan error
}

// runNode starts `node script args...` in dir; it is killed when the test
// ends if it has not stopped by itself.
func runNode(t *testing.T, dir, script string, args ...string) *nodeScript {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout+30*time.Second)
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = dir
	s := &nodeScript{name: script, lines: make(chan clientLine, 1000), output: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.output.Write(append(sc.Bytes(), '\n'))
			var l clientLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = clientLine{Kind: "unparsable"}
			}
			l.raw = sc.Text()
			s.lines <- l
		}
		io.Copy(io.Discard, stdout)
		s.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cancel() // kills the script if it is still running
		<-s.done
	})
	return s
}

// next returns the script's next line, waiting a bounded time.
func (s *nodeScript) next(t *testing.T) clientLine {
	t.Helper()
	select {
	case l, ok := <-s.lines:
		if !ok {
			t.Fatalf("%s ended early; it printed:\n%s", s.name, s.output)
		}
		return l
	case <-time.After(30 * time.Second):
		t.Fatalf("%s printed nothing more for 30s; it printed:\n%s", s.name, s.output)
	}
	return clientLine{}
}

// expect reads the next line and requires its kind.
func (s *nodeScript) expect(t *testing.T, kind string) clientLine {
	t.Helper()
	l := s.next(t)
	if l.Kind != kind {
		t.Fatalf("%s: want a %q line, got %s; it printed:\n%s", s.name, kind, l.raw, s.output)
	}
	return l
}

// notifications reads the next n lines, which must be notifications.
func (s *nodeScript) notifications(t *testing.T, n int) []clientLine {
	t.Helper()
	var got []clientLine
	for range n {
		got = append(got, s.expect(t, "notification"))
	}
	return got
}

// finished requires that the script said done and exited 0.
func (s *nodeScript) finished(t *testing.T) {
	t.Helper()
	s.expect(t, "done")
	select {
	case l, ok := <-s.lines:
		if ok {
			t.Fatalf("%s printed %s after done", s.name, l.raw)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit after done; it printed:\n%s", s.name, s.output)
	}
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("%s: %v; it printed:\n%s", s.name, err, s.output)
		}
		t.Logf("%s printed:\n%s", s.name, s.output)
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit after done; it printed:\n%s", s.name, s.output)
	}
}

// dropProxy forwards TCP connections to target and can drop them all at
// once, as a lost network does. It notes the first HTTP request of every
// connection, to see what a reconnecting client sent.
type dropProxy struct {
	addr     string
	target   string
	lis      net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]bool
	requests []*http.Request
}

func newDropProxy(t *testing.T, target string) *dropProxy {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropProxy{addr: lis.Addr().String(), target: target, lis: lis, conns: map[net.Conn]bool{}}
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		p.drop()
		p.mu.Lock()
		p.conns = nil // connections still being set up are closed at once
		p.mu.Unlock()
	})
	return p
}

// track notes an open connection, or reports that the proxy is closed.
func (p *dropProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *dropProxy) forward(client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	if !p.track(client) || !p.track(upstream) {
		return
	}
	// Read the request head through a tee, note it, and pass on every
	// byte read so far; the rest is copied untouched.
	var head bytes.Buffer
	req, err := http.ReadRequest(bufio.NewReader(io.TeeReader(client, &head)))
	if err != nil {
		return
	}
	p.mu.Lock()
	p.requests = append(p.requests, req)
	p.mu.Unlock()
	if _, err := upstream.Write(head.Bytes()); err != nil {
		return
	}
	go func() {
		io.Copy(client, upstream)
		client.Close()
	}()
	io.Copy(upstream, client)
}

// drop closes every open connection, both sides.
func (p *dropProxy) drop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

// seen returns the requests forwarded so far.
func (p *dropProxy) seen() []*http.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*http.Request(nil), p.requests...)
}

// liveFamily is a child with maria as guardian and teacher as contributor.
type liveFamily struct {
	child    string
	maria    string // tokens
	teacher  string
	progress progressv1.ProgressServiceClient
	inbox    notificationv1.NotificationServiceClient
}

func newLiveFamily(t *testing.T, p *process) *liveFamily {
	t.Helper()
	key, err := auth.LoadKey(filepath.Join(p.dataDir, "keys", "user.pem"))
	if err != nil {
		t.Fatal(err)
	}
	token := func(user string, admin bool) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f := &liveFamily{maria: token("maria", false), teacher: token("teacher", false),
		progress: progressv1.NewProgressServiceClient(dialGRPC(t, p.progress)),
		inbox:    notificationv1.NewNotificationServiceClient(dialGRPC(t, p.notification))}
	admin := token("admin", true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	child, err := f.progress.CreateChild(as(ctx, admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	f.child = child.GetName()
	for _, g := range []struct {
		user string
		role progressv1.Role
	}{{"maria", progressv1.Role_ROLE_GUARDIAN}, {"teacher", progressv1.Role_ROLE_CONTRIBUTOR}} {
		if _, err := f.progress.CreateGuardianship(as(ctx, admin), &progressv1.CreateGuardianshipRequest{Parent: f.child,
			Guardianship: &progressv1.Guardianship{User: g.user, Role: g.role}}); err != nil {
			t.Fatal(err)
		}
	}
	// The setup's own notifications travel through the outbox: wait until
	// maria has the last one, so that positions taken later follow them.
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(fmt.Sprint(f.latest(t)), "teacher may now follow") {
		if time.Now().After(deadline) {
			t.Fatalf("maria's inbox never showed the teacher's guardianship: %v", f.latest(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return f
}

// latest returns maria's newest notification, or nil.
func (f *liveFamily) latest(t *testing.T) *notificationv1.Notification {
	t.Helper()
	ctx, cancel := context.WithTimeout(as(context.Background(), f.maria), 10*time.Second)
	defer cancel()
	resp, err := f.inbox.ListNotifications(ctx, &notificationv1.ListNotificationsRequest{Parent: "users/me", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetNotifications()) == 0 {
		return nil
	}
	return resp.GetNotifications()[0]
}

// position is maria's feed position now, as a resume token.
func (f *liveFamily) position(t *testing.T) string {
	t.Helper()
	return strconv.FormatInt(f.latest(t).GetSequence(), 10)
}

// record has the teacher record an assessment titled title.
func (f *liveFamily) record(t *testing.T, title string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(as(context.Background(), f.teacher), 30*time.Second)
	defer cancel()
	if _, err := f.progress.CreateAssessment(ctx, &progressv1.CreateAssessmentRequest{Parent: f.child, RequestId: title,
		Assessment: &progressv1.Assessment{Subject: "Math", Title: title,
			Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}}); err != nil {
		t.Fatalf("record %q: %v", title, err)
	}
}

// requireAssessments checks that got is exactly the assessments titled
// want, in order, with strictly increasing positions.
func requireAssessments(t *testing.T, what string, got []clientLine, want []string, position func(clientLine) string) {
	t.Helper()
	var bodies []string
	for _, l := range got {
		bodies = append(bodies, l.Body)
	}
	if strings.Join(bodies, "|") != strings.Join(want, "|") {
		t.Fatalf("%s received %q, want %q", what, bodies, want)
	}
	prev := int64(-1)
	for _, l := range got {
		if l.Type != notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED.String() || l.Title != "New assessment in Math" {
			t.Errorf("%s: notification %s", what, l.raw)
		}
		seq, err := strconv.ParseInt(position(l), 10, 64)
		if err != nil || seq <= prev {
			t.Errorf("%s: position %q after %d", what, position(l), prev)
		}
		prev = seq
	}
}

func assessmentTitles(prefix string, from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, fmt.Sprintf("%s %02d", prefix, i))
	}
	return out
}

// TestBrowserClients follows maria's live feed with the clients browser
// code uses, and breaks their connections in the middle: EventSource must
// reconnect by itself and resume with Last-Event-ID, a WebSocket client
// must get exactly what it missed by reconnecting with resume=.
func TestBrowserClients(t *testing.T) {
	dir := nodeClients(t)
	p := serve(t, t.TempDir(), nil)
	f := newLiveFamily(t, p)

	t.Run("EventSource", func(t *testing.T) {
		proxy := newDropProxy(t, p.gateway)
		from := f.position(t)
		feed := "http://" + proxy.addr + "/v1/notifications/events?" + url.Values{"access_token": {f.maria}, "last_event_id": {from}}.Encode()
		all := assessmentTitles("sse", 1, 10)
		es := runNode(t, dir, "sse.mjs", feed, strconv.Itoa(len(all)), strconv.Itoa(int(clientTimeout/time.Millisecond)))
		es.expect(t, "open")

		for _, title := range all[:4] {
			f.record(t, title)
		}
		before := es.notifications(t, 4)
		requireAssessments(t, "before the drop", before, all[:4], func(l clientLine) string { return l.ID })

		proxy.drop() // the network goes away in the middle of the feed
		for _, title := range all[4:7] {
			f.record(t, title) // while EventSource waits to reconnect
		}
		es.expect(t, "error") // the broken connection; EventSource retries by itself
		es.expect(t, "open")
		for _, title := range all[7:] {
			f.record(t, title) // live again
		}
		after := es.notifications(t, len(all)-4)
		es.finished(t)
		requireAssessments(t, "EventSource", append(before, after...), all, func(l clientLine) string { return l.ID })

		reqs := proxy.seen()
		if len(reqs) != 2 {
			t.Fatalf("EventSource made %d requests, want the first and one reconnect", len(reqs))
		}
		if id := reqs[0].Header.Get("Last-Event-ID"); id != "" {
			t.Errorf("the first request sent Last-Event-ID %q", id)
		}
		if id := reqs[1].Header.Get("Last-Event-ID"); id != before[len(before)-1].ID {
			t.Errorf("the reconnect sent Last-Event-ID %q, want the last id received, %q", id, before[len(before)-1].ID)
		}
	})

	t.Run("WebSocket", func(t *testing.T) {
		feed := func(resume string) string {
			return "ws://" + p.gateway + "/v1/notifications/ws?" + url.Values{"access_token": {f.maria}, "resume": {resume}}.Encode()
		}
		timeout := strconv.Itoa(int(clientTimeout / time.Millisecond))
		all := assessmentTitles("ws", 1, 7)
		first := runNode(t, dir, "ws.mjs", feed(f.position(t)), "3", timeout)
		first.expect(t, "open")
		for _, title := range all[:3] {
			f.record(t, title)
		}
		got := first.notifications(t, 3)
		first.expect(t, "closed")
		first.finished(t)
		requireAssessments(t, "the first connection", got, all[:3], func(l clientLine) string { return l.ResumeToken })

		for _, title := range all[3:6] {
			f.record(t, title) // while the client is away
		}
		second := runNode(t, dir, "ws.mjs", feed(got[len(got)-1].ResumeToken), "4", timeout)
		second.expect(t, "open")
		missed := second.notifications(t, 3)
		requireAssessments(t, "the resumed connection", missed, all[3:6], func(l clientLine) string { return l.ResumeToken })
		f.record(t, all[6]) // and it goes on live
		live := second.notifications(t, 1)
		second.expect(t, "closed")
		second.finished(t)
		requireAssessments(t, "the resumed connection", append(missed, live...), all[3:], func(l clientLine) string { return l.ResumeToken })
	})
}
