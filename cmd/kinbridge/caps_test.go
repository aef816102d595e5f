package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
)

// jsonReason is the ErrorInfo reason of a JSON error body (at the top,
// or under "error" for the newline-delimited stream).
func jsonReason(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Details []struct {
			Type   string `json:"@type"`
			Reason string
		}
		Error *json.RawMessage
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("not a JSON error: %s", body)
	}
	if e.Error != nil {
		return jsonReason(t, *e.Error)
	}
	for _, d := range e.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			return d.Reason
		}
	}
	return ""
}

// tusCreate creates a tus upload and returns the answer with its body.
func (s *suite) tusCreate(t *testing.T, token, child string, size int) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", s.gateway+"/v1/uploads/", nil)
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Upload-Length", strconv.Itoa(size))
	req.Header.Set("Upload-Metadata", tusMetadata("child", child))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestCapsPerUser runs the suite with small caps per user, set by flags,
// and meets each through the gateway: the answer a client gets (status,
// reason, Retry-After) and what frees room.
func TestCapsPerUser(t *testing.T) {
	s := startSuite(t, "--max-feeds-per-user", "2", "--max-subscriptions-per-user", "1",
		"--max-uploads-per-user", "3", "--max-upload-bytes-per-user", "400000", "--max-photo-bytes", "200000", "--max-video-bytes", "200000")
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)

	t.Run("live feeds", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s.grpcFeed(t, ctx, maria)
		sseCtx, closeSSE := context.WithCancel(ctx)
		s.sse(t, sseCtx, maria, "")

		r := s.call(t, "GET", "/v1/notifications/events", maria, "")
		if r.status != http.StatusTooManyRequests || jsonReason(t, r.body) != "TOO_MANY_FEEDS" {
			t.Fatalf("a third feed over SSE: %d %s", r.status, r.body)
		}
		r = s.call(t, "GET", "/v1/users/me/notifications:stream", maria, "")
		if r.status != http.StatusTooManyRequests || jsonReason(t, r.body) != "TOO_MANY_FEEDS" {
			t.Fatalf("a third feed over the REST stream: %d %s", r.status, r.body)
		}
		conn, _, err := websocket.Dial(ctx, strings.Replace(s.gateway, "http://", "ws://", 1)+"/v1/notifications/ws?access_token="+maria, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = conn.Read(ctx)
		if ce, ok := errors.AsType[websocket.CloseError](err); !ok || ce.Code != 4429 || !strings.HasPrefix(ce.Reason, "TOO_MANY_FEEDS: ") {
			t.Fatalf("a third feed over WebSocket: %v", err)
		}

		// `kinbridge notifications watch` says so and stops, rather than
		// retry: retrying would not close a feed.
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		err = run(wctx, []string{"notifications", "watch", "--notification-addr", s.notification, "--token", maria}, io.Discard, io.Discard)
		interrupted := wctx.Err()
		wcancel()
		if interrupted != nil || err == nil || !strings.Contains(err.Error(), "live feeds open") {
			t.Fatalf("notifications watch over the cap: %v (interrupted: %v); want it to stop with the reason", err, interrupted)
		}

		// The browser with the SSE feed leaves: a WebSocket gets its slot.
		closeSSE()
		deadline := time.Now().Add(10 * time.Second)
		for {
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			conn, _, err := websocket.Dial(wctx, strings.Replace(s.gateway, "http://", "ws://", 1)+"/v1/notifications/ws?access_token="+maria, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, frame, err := conn.Read(wctx)
			conn.CloseNow()
			wcancel()
			if err == nil && bytes.Contains(frame, []byte(`"heartbeat"`)) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no slot freed after the SSE feed closed: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	t.Run("subscriptions", func(t *testing.T) {
		other := s.mustCreate(t, "/v1/children", s.adminToken, `{"displayName":"Bo","timeZone":"Europe/Lisbon"}`)["name"].(string)
		s.mustCreate(t, "/v1/"+other+"/guardians", s.adminToken, `{"user":"maria","role":"ROLE_GUARDIAN"}`)
		s.mustCreate(t, "/v1/users/me/subscriptions", maria, `{"child":"`+child+`","muted":true}`)
		r := s.call(t, "POST", "/v1/users/me/subscriptions", maria, `{"child":"`+other+`"}`)
		if r.status != http.StatusTooManyRequests || jsonReason(t, r.body) != "TOO_MANY_SUBSCRIPTIONS" {
			t.Fatalf("a second subscription: %d %s", r.status, r.body)
		}
		if r := s.call(t, "DELETE", "/v1/users/me/subscriptions/"+strings.TrimPrefix(child, "children/"), maria, ""); r.status != http.StatusOK {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
		s.mustCreate(t, "/v1/users/me/subscriptions", maria, `{"child":"`+other+`"}`)
	})

	t.Run("uploads", func(t *testing.T) {
		plain, err := os.ReadFile("../../services/media/ingest/testdata/plain.jpg")
		if err != nil {
			t.Fatal(err)
		}
		created := func(size int) string {
			t.Helper()
			resp, body := s.tusCreate(t, teacher, child, size)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("creating an upload of %d bytes: %d %s", size, resp.StatusCode, body)
			}
			return resp.Header.Get("Location")
		}
		refused := func(size int, reason string) {
			t.Helper()
			resp, body := s.tusCreate(t, teacher, child, size)
			if resp.StatusCode != http.StatusTooManyRequests || !strings.HasPrefix(body, reason+": ") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("an upload of %d bytes: %d %v %q; want 429 %s with Retry-After", size, resp.StatusCode, resp.Header, body, reason)
			}
		}
		created(200000)
		second := created(200000)
		refused(len(plain), errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_UPLOAD_QUOTA)) // 400000 declared, none sent
		if r := s.tusRequest(t, "DELETE", second, teacher, nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("terminating: %d", r.StatusCode)
		}
		small := created(len(plain))
		created(len(plain))
		refused(len(plain), errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS))
		r := s.call(t, "POST", "/v1/"+child+"/media:upload", teacher, string(plain))
		if r.status != http.StatusTooManyRequests || jsonReason(t, r.body) != errinfo.Reason(mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS) || r.header.Get("Retry-After") == "" {
			t.Fatalf("a one-request upload over the cap: %d %v %s", r.status, r.header, r.body)
		}
		// The last PATCH of one finishes it: its slot is free.
		if r := s.tusRequest(t, "PATCH", small, teacher, plain, "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream"); r.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d", r.StatusCode)
		}
		if r := s.call(t, "POST", "/v1/"+child+"/media:upload", teacher, string(plain)); r.status != http.StatusOK {
			t.Fatalf("a one-request upload after a finish: %d %s", r.status, r.body)
		}
	})
}
