package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kinbridge/kinbridge/gateway"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// The browsers' live feeds against the real notification service (SQLite
// and PostgreSQL), through a gateway on a real HTTP server.

const (
	ada        = "children/ada"
	assessment = notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED
)

// startGateway runs a gateway in front of e's notification service.
func startGateway(t *testing.T, e *notificationtest.Env) string {
	t.Helper()
	g, err := gateway.New(context.Background(), gateway.Config{ProgressTarget: "127.0.0.1:1", NotificationTarget: e.Addr,
		ServiceIdentity: e.Identity, Verifier: e.Verifier, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	return srv.URL
}

// liveEvent is one notification a browser feed carried, with its position
// (the SSE id, the WebSocket resumeToken), or the end of the feed.
type liveEvent struct {
	kind     string // notification, resume
	position string
	body     string
	sequence int64
}

// browserFeed is a browser's SSE or WebSocket connection, as it reads it.
type browserFeed struct {
	kind  string
	mu    sync.Mutex
	first string // the position the stream gave before any notification
	got   []liveEvent
	done  chan struct{}
	// cancel closes the connection from the browser's side.
	cancel context.CancelFunc
}

func (f *browserFeed) events() []liveEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func (f *browserFeed) add(ev liveEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, ev)
}

func (f *browserFeed) notifications() []liveEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.DeleteFunc(slices.Clone(f.got), func(ev liveEvent) bool { return ev.kind != "notification" })
}

func (f *browserFeed) bodies() []string {
	var out []string
	for _, ev := range f.notifications() {
		out = append(out, ev.body)
	}
	return out
}

func (f *browserFeed) has(body string) bool { return slices.Contains(f.bodies(), body) }

func (f *browserFeed) last() string {
	ns := f.notifications()
	if len(ns) == 0 {
		return f.first
	}
	return ns[len(ns)-1].position
}

// refusal is a live request answered with an error instead of a stream.
type refusal struct {
	status      int
	contentType string
	body        struct {
		Code    int
		Message string
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct{ Field, Description string }
		}
	}
}

// field is the field violation the refusal names, if any.
func (r *refusal) field() string {
	for _, d := range r.body.Details {
		for _, v := range d.FieldViolations {
			return v.Field
		}
	}
	return ""
}

func readRefusal(t *testing.T, resp *http.Response) *refusal {
	t.Helper()
	r := &refusal{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &r.body); err != nil {
		t.Errorf("the refusal's body is not the gateway's JSON error: %v: %q", err, b)
	}
	return r
}

// openSSE opens maria's SSE feed, resuming with Last-Event-ID (header) or
// last_event_id (query) when given; a refused feed returns its refusal.
func openSSE(t *testing.T, base, token string, header, query string) (*browserFeed, *refusal) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := base + "/v1/notifications/events?" + url.Values{"access_token": {token}}.Encode()
	if query != "" {
		u += "&" + url.Values{"last_event_id": {query}}.Encode()
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if header != "" {
		req.Header.Set("Last-Event-ID", header)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, readRefusal(t, resp)
	}
	f := &browserFeed{kind: "SSE", done: make(chan struct{}), cancel: cancel}
	opened := make(chan struct{})
	go func() {
		defer close(f.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		var id, event, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				switch event {
				case "":
					if id != "" && f.first == "" { // the start position, before any event
						f.mu.Lock()
						f.first = id
						f.mu.Unlock()
						close(opened)
					}
				case "notification":
					var n notificationv1.Notification
					if err := protojson.Unmarshal([]byte(data), &n); err != nil {
						t.Errorf("SSE notification %q: %v", data, err)
					}
					f.add(liveEvent{kind: event, position: id, body: n.GetBody(), sequence: n.GetSequence()})
				default:
					f.add(liveEvent{kind: event, body: data})
				}
				id, event, data = "", "", ""
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "event: "):
				event = line[7:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	select {
	case <-opened:
	case <-f.done:
		t.Fatal("the SSE stream ended before it gave its position")
	}
	return f, nil
}

// openWS opens maria's WebSocket feed with ?resume=.
func openWS(t *testing.T, base, token, resume string) (*browserFeed, *refusal) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	u := strings.Replace(base, "http://", "ws://", 1) + "/v1/notifications/ws?" + url.Values{"access_token": {token}, "resume": {resume}}.Encode()
	conn, resp, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		defer cancel()
		if resp == nil {
			t.Fatal(err)
		}
		return nil, readRefusal(t, resp)
	}
	f := &browserFeed{kind: "WebSocket", done: make(chan struct{}), cancel: cancel}
	opened := make(chan struct{})
	go func() {
		defer close(f.done)
		defer conn.CloseNow()
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var frame struct {
				Type, ResumeToken, Reason string
				Notification              json.RawMessage
			}
			if err := json.Unmarshal(b, &frame); err != nil {
				t.Errorf("WebSocket frame %q: %v", b, err)
				return
			}
			switch frame.Type {
			case "heartbeat":
				f.mu.Lock()
				if f.first == "" {
					f.first = frame.ResumeToken
					close(opened)
				}
				f.mu.Unlock()
			case "notification":
				var n notificationv1.Notification
				if err := protojson.Unmarshal(frame.Notification, &n); err != nil {
					t.Errorf("WebSocket notification %s: %v", frame.Notification, err)
				}
				f.add(liveEvent{kind: frame.Type, position: frame.ResumeToken, body: n.GetBody(), sequence: n.GetSequence()})
			default:
				f.add(liveEvent{kind: frame.Type, position: frame.ResumeToken, body: frame.Reason})
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-f.done })
	select {
	case <-opened:
	case <-f.done:
		t.Fatal("the WebSocket ended before it gave its position")
	}
	return f, nil
}

// checkFeed checks what a feed carried from start against the inbox: every
// notification the inbox holds after start, in order, each with its
// sequence as its position, and nothing else.
func checkFeed(t *testing.T, f *browserFeed, start int64, inbox []*notificationv1.Notification) {
	t.Helper()
	var want []string
	for _, n := range inbox {
		if n.GetSequence() > start {
			want = append(want, n.GetBody())
		}
	}
	if got := f.bodies(); !slices.Equal(got, want) {
		t.Errorf("%s from %d carried %q; the inbox holds %q after it", f.kind, start, got, want)
	}
	for _, ev := range f.notifications() {
		if ev.position != strconv.FormatInt(ev.sequence, 10) {
			t.Errorf("%s: notification #%d came with position %q", f.kind, ev.sequence, ev.position)
		}
	}
}

// TestLiveFeedsCarryARegrantedChild keeps maria's SSE and WebSocket feeds
// open while she is removed from a child and added again: they carry the
// child's notifications again, and resuming from their last position
// skips nothing of her inbox.
func TestLiveFeedsCarryARegrantedChild(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, nil)
			base := startGateway(t, e)
			maria := e.Token(t, "maria")
			e.Grant(t, ada, "maria")
			start := e.Position(t, "maria")
			sse, _ := openSSE(t, base, maria, "", "")
			ws, _ := openWS(t, base, maria, "")
			for _, f := range []*browserFeed{sse, ws} {
				if f.first != strconv.FormatInt(start, 10) {
					t.Errorf("%s opened from now gave position %q before any notification, want %d", f.kind, f.first, start)
				}
			}

			e.Record(t, ada, assessment, "before")
			// Delivered before the revocation: one still on its way when the
			// revocation empties the inbox is rightly never sent.
			for _, f := range []*browserFeed{sse, ws} {
				notificationtest.Eventually(t, f.kind+" to carry the notification before the revocation", func() bool { return f.has("before") })
			}
			e.Revoke(t, ada, "maria")
			notificationtest.Eventually(t, "the revocation to empty maria's inbox", func() bool { return len(e.InboxOf(t, "maria")) == 0 })
			e.Record(t, ada, assessment, "while revoked")
			e.Grant(t, ada, "maria")
			e.Record(t, ada, assessment, "after")
			for _, f := range []*browserFeed{sse, ws} {
				notificationtest.Eventually(t, f.kind+" to carry the notification after the new grant", func() bool { return f.has("after") })
				if got, want := f.bodies(), []string{"before", "maria may now follow", "after"}; !slices.Equal(got, want) {
					t.Errorf("%s carried %q, want %q", f.kind, got, want)
				}
			}

			// Reconnect from the last position, as EventSource does with
			// Last-Event-ID and a WebSocket client with resume=.
			from, _ := strconv.ParseInt(sse.last(), 10, 64)
			sse2, _ := openSSE(t, base, maria, sse.last(), "")
			ws2, _ := openWS(t, base, maria, ws.last())
			e.Record(t, ada, assessment, "resumed")
			for _, f := range []*browserFeed{sse2, ws2} {
				notificationtest.Eventually(t, f.kind+" to go on after resuming", func() bool { return f.has("resumed") })
			}
			inbox := e.InboxOf(t, "maria")
			checkFeed(t, sse2, from, inbox)
			checkFeed(t, ws2, from, inbox)
			if ws.last() != sse.last() {
				t.Errorf("the SSE and WebSocket feeds stopped at %s and %s", sse.last(), ws.last())
			}
		})
	}
}

// TestLiveResumeRefusals resumes browser feeds from positions no feed
// issued: each is answered 400 with the gateway's JSON error naming the
// parameter, before any stream starts, and another browser's feed on the
// same upstream stream goes on.
func TestLiveResumeRefusals(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, nil)
			base := startGateway(t, e)
			maria, joao := e.Token(t, "maria"), e.Token(t, "joao")
			e.Grant(t, ada, "maria")
			e.Grant(t, ada, "joao")
			last := e.Position(t, "maria")
			other, _ := openSSE(t, base, joao, "", "")

			beyond := strconv.FormatInt(last+1, 10)
			cases := []struct {
				token string
				code  int // google.rpc.Code
			}{
				{"x", 3}, {"-1", 3}, {"01", 3}, {"1e3", 3}, {strings.Repeat("9", 40), 3},
				{beyond, 11}, {"9223372036854775807", 11},
			}
			for _, tc := range cases {
				for _, open := range []struct {
					param string
					open  func() (*browserFeed, *refusal)
				}{
					{"Last-Event-ID", func() (*browserFeed, *refusal) { return openSSE(t, base, maria, tc.token, "") }},
					{"last_event_id", func() (*browserFeed, *refusal) { return openSSE(t, base, maria, "", tc.token) }},
					{"resume", func() (*browserFeed, *refusal) { return openWS(t, base, maria, tc.token) }},
				} {
					f, r := open.open()
					if f != nil {
						t.Errorf("%s %q opened a feed", open.param, tc.token)
						continue
					}
					if r.status != http.StatusBadRequest || r.body.Code != tc.code || r.field() != open.param || !strings.HasPrefix(r.contentType, "application/json") {
						t.Errorf("%s %q: %d %s %+v, want 400 with code %d naming %s", open.param, tc.token, r.status, r.contentType, r.body, tc.code, open.param)
					}
				}
			}
			// The REST mapping of StreamNotifications refuses them the same way.
			for _, tc := range cases {
				req, _ := http.NewRequest(http.MethodGet, base+"/v1/users/me/notifications:stream?"+url.Values{"resumeToken": {tc.token}}.Encode(), nil)
				req.Header.Set("Authorization", "Bearer "+maria)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var chunk struct{ Error struct{ Code int } }
				if err := json.Unmarshal(b, &chunk); err != nil || resp.StatusCode != http.StatusBadRequest || chunk.Error.Code != tc.code {
					t.Errorf("resumeToken %q on the NDJSON stream: %d %s", tc.token, resp.StatusCode, b)
				}
			}

			e.Record(t, ada, assessment, "still here")
			notificationtest.Eventually(t, "joao's feed to go on", func() bool { return other.has("still here") })
			ok, _ := openSSE(t, base, maria, strconv.FormatInt(last, 10), "")
			notificationtest.Eventually(t, "a feed from the inbox's end", func() bool { return ok.has("still here") })
		})
	}
}
