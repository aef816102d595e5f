package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
)

// sseEvent is one Server-Sent Event.
type sseEvent struct{ id, event, data string }

// sse opens the caller's SSE feed (optionally resuming) and returns its events.
func (s *suite) sse(t *testing.T, ctx context.Context, token, lastEventID string) <-chan sseEvent {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+"/v1/notifications/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	out := make(chan sseEvent, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" {
					out <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return out
}

// next waits (bounded) for the next notification on a channel.
func next[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: stream ended", what)
		}
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: nothing arrived", what)
	}
	var zero T
	return zero
}

// quiet asserts nothing arrives for a moment: a bounded check that a
// stream stays silent, not a timing measurement.
func quiet[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case v, ok := <-ch:
		if ok {
			t.Fatalf("%s received %v", what, v)
		}
	case <-time.After(500 * time.Millisecond):
	}
}

// settled waits until the user's inbox has a notification containing
// text: the events of the setup have then been delivered, and streams
// opened afterwards start after them.
func (s *suite) settled(t *testing.T, token, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(s.call(t, "GET", "/v1/users/me/notifications", token, "").body), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the inbox never showed %q", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *suite) record(t *testing.T, child, token, title string) {
	t.Helper()
	s.mustCreate(t, "/v1/"+child+"/assessments", token, fmt.Sprintf(
		`{"subject":"Math","title":%q,"kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":9,"possible":10}}}`, title))
}

// grpcFeed opens the caller's gRPC notification stream.
func (s *suite) grpcFeed(t *testing.T, ctx context.Context, token string) <-chan *notificationv1.Notification {
	t.Helper()
	conn, err := grpc.NewClient(s.notification, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	stream, err := notificationv1.NewNotificationServiceClient(conn).StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	// The first answer comes once the feed is open (the replay, then a
	// heartbeat at once): waiting for it means the feed counts, for caps
	// and deliveries, when this returns.
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("gRPC feed: %v", err)
	}
	out := make(chan *notificationv1.Notification, 100)
	if n := first.GetNotification(); n != nil {
		out <- n
	}
	go func() {
		defer close(out)
		for {
			resp, err := stream.Recv()
			if err != nil {
				return
			}
			if n := resp.GetNotification(); n != nil {
				out <- n
			}
		}
	}()
	return out
}

// wsFeed opens the caller's WebSocket feed, authenticating as a browser
// does, with ?access_token=.
func (s *suite) wsFeed(t *testing.T, ctx context.Context, token, resume string) <-chan map[string]any {
	t.Helper()
	url := strings.Replace(s.gateway, "http://", "ws://", 1) + "/v1/notifications/ws?access_token=" + token + "&resume=" + resume
	conn, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan map[string]any, 100)
	go func() {
		defer close(out)
		defer conn.CloseNow()
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var frame map[string]any
			if json.Unmarshal(b, &frame) == nil && frame["type"] == "notification" {
				out <- frame
			}
		}
	}()
	return out
}

func TestRecordingReachesEveryGuardianLive(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	olgaChild := s.mustCreate(t, "/v1/children", s.adminToken, `{"displayName":"Bo"}`)["name"].(string)
	s.mustCreate(t, "/v1/"+olgaChild+"/guardians", s.adminToken, `{"user":"olga","role":"ROLE_GUARDIAN"}`)
	olga := s.userToken(t, "olga", false)
	s.settled(t, maria, "teacher may now follow")
	s.settled(t, olga, "olga may now follow")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	mariaSSE := s.sse(t, ctx, maria, "")
	mariaWS := s.wsFeed(t, ctx, maria, "")
	mariaGRPC := s.grpcFeed(t, ctx, maria)
	olgaSSE := s.sse(t, ctx, olga, "")
	// Let the feeds register before the event (they then replay from "now").
	time.Sleep(200 * time.Millisecond)

	s.record(t, child, teacher, "Fractions quiz")

	ev := next(t, mariaSSE, "maria's SSE")
	if ev.event != "notification" || ev.id == "" || !strings.Contains(ev.data, "Fractions quiz") || !strings.Contains(ev.data, child) {
		t.Fatalf("SSE event %+v", ev)
	}
	if frame := next(t, mariaWS, "maria's WebSocket"); !strings.Contains(fmt.Sprint(frame["notification"]), "Fractions quiz") {
		t.Fatalf("WebSocket frame %v", frame)
	}
	if n := next(t, mariaGRPC, "maria's gRPC stream"); n.GetType() != notificationv1.EventType_EVENT_TYPE_ASSESSMENT_RECORDED || n.GetChild() != child {
		t.Fatalf("gRPC notification %v", n)
	}
	for _, tok := range []string{maria, teacher} {
		inbox := s.call(t, "GET", "/v1/users/me/notifications", tok, "").json(t)
		items, _ := inbox["notifications"].([]any)
		found := false
		for _, it := range items {
			found = found || strings.Contains(fmt.Sprint(it), "Fractions quiz")
		}
		if !found {
			t.Errorf("an inbox lacks the notification: %v", inbox)
		}
	}
	if count := s.call(t, "GET", "/v1/users/me/notifications:countUnread", maria, "").json(t); count["unreadCount"] == nil {
		t.Errorf("unread count: %v", count)
	}
	quiet(t, olgaSSE, "another family's stream")
	if inbox := s.call(t, "GET", "/v1/users/me/notifications", olga, "").json(t); strings.Contains(fmt.Sprint(inbox), "Fractions") {
		t.Fatalf("another family's inbox: %v", inbox)
	}
	if r := s.call(t, "GET", "/v1/users/maria/notifications", olga, ""); r.status != 404 {
		t.Fatalf("olga read maria's inbox: %d", r.status)
	}
}

func TestSSEResumesWithLastEventID(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")
	ctx, cancel := context.WithCancel(context.Background())
	first := s.sse(t, ctx, maria, "")
	time.Sleep(200 * time.Millisecond)
	s.record(t, child, teacher, "one")
	ev := next(t, first, "first event")
	cancel() // the phone loses its connection

	for _, title := range []string{"two", "three", "four"} {
		s.record(t, child, teacher, title)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	resumed := s.sse(t, ctx2, maria, ev.id)
	for _, want := range []string{"two", "three", "four"} {
		got := next(t, resumed, "resumed "+want)
		if !strings.Contains(got.data, `"body":"`+want) {
			t.Fatalf("want %s next, got %s", want, got.data)
		}
	}
	quiet(t, resumed, "the resumed stream after the missed events")
	s.record(t, child, teacher, "five") // and it continues live
	if got := next(t, resumed, "live after resume"); !strings.Contains(got.data, "five") {
		t.Fatalf("live after resume: %s", got.data)
	}
}

func TestRevokedGuardianHearsNothingMore(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	feed := s.grpcFeed(t, ctx, maria)
	time.Sleep(200 * time.Millisecond)
	s.record(t, child, teacher, "before")
	next(t, feed, "before the revocation")

	if r := s.call(t, "DELETE", "/v1/"+child+"/guardians/maria", s.adminToken, ""); r.status != 200 {
		t.Fatalf("revoke: %d %s", r.status, r.body)
	}
	// The revocation travels through the outbox; wait until the inbox shows it.
	deadline := time.Now().Add(10 * time.Second)
	for strings.Contains(string(s.call(t, "GET", "/v1/users/me/notifications", maria, "").body), child) {
		if time.Now().After(deadline) {
			t.Fatal("the child's notifications stayed in the revoked guardian's inbox")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.record(t, child, teacher, "after")
	quiet(t, feed, "the revoked guardian's stream")
}

// TestNewlineDelimitedJSONStream reads the grpc-gateway mapping of
// StreamNotifications: one JSON object per line.
func TestNewlineDelimitedJSONStream(t *testing.T) {
	s := startSuite(t)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+"/v1/users/me/notifications:stream", nil)
	req.Header.Set("Authorization", "Bearer "+maria)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("stream: %v %v", resp, err)
	}
	defer resp.Body.Close()
	lines := make(chan string, 10)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"notification"`) {
				lines <- sc.Text()
			}
		}
		close(lines)
	}()
	time.Sleep(200 * time.Millisecond)
	s.record(t, child, teacher, "ndjson")
	var line struct {
		Result struct {
			Notification struct{ Body string }
			ResumeToken  string
		}
	}
	if err := json.Unmarshal([]byte(next(t, lines, "the NDJSON stream")), &line); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line.Result.Notification.Body, "ndjson") || line.Result.ResumeToken == "" {
		t.Fatalf("NDJSON line: %+v", line)
	}
}
