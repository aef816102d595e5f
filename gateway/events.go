package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
)

// Browsers' live feeds: Server-Sent Events and WebSocket, both carried by
// the liveMux. Browsers cannot set headers on EventSource or WebSocket, so
// these two routes also take the token as ?access_token=.

// heartbeatEvery keeps proxies from closing idle live connections.
const heartbeatEvery = 15 * time.Second

var notificationJSON = protojson.MarshalOptions{}

// liveUser authenticates a live request.
func (g *Gateway) liveUser(r *http.Request) (string, error) {
	token, err := bearerToken(r, true)
	if err != nil {
		return "", err
	}
	if token == "" {
		return "", status.Error(codes.Unauthenticated, "missing bearer token (header or access_token parameter)")
	}
	p, err := verifyUser(r, g.verifier, token)
	if err != nil {
		return "", err
	}
	return p.Subject, nil
}

// serveSSE streams the caller's notifications as text/event-stream. Each
// event's id is its resume token, so EventSource's automatic reconnect
// (which sends Last-Event-ID) resumes exactly after the last event seen.
func (g *Gateway) serveSSE(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	user, err := g.liveUser(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeError(w, r, status.Error(codes.Internal, "streaming unsupported"))
		return
	}
	resume := r.Header.Get("Last-Event-ID")
	if resume == "" {
		resume = r.URL.Query().Get("last_event_id")
	}
	watch, err := g.live.watch(user, resume)
	if err != nil {
		writeError(w, r, status.Errorf(codes.Unavailable, "live feed unavailable: %v", err))
		return
	}
	defer g.live.stop(watch)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 2000\n\n")
	flusher.Flush()

	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			fmt.Fprint(w, ": heartbeat\n\n")
		case resp := <-watch.events:
			g.live.consumed(watch)
			data, err := notificationJSON.Marshal(resp.GetNotification())
			if err != nil {
				return
			}
			fmt.Fprintf(w, "id: %s\nevent: notification\ndata: %s\n\n", resp.GetResumeToken(), data)
		case <-watch.done:
			reason, resumable := watch.ended()
			if resumable {
				// The client reconnects by itself and resumes from its last id.
				fmt.Fprintf(w, "event: resume\ndata: %q\n\n", reason)
			} else {
				fmt.Fprintf(w, "event: error\ndata: %q\n\n", reason)
			}
			flusher.Flush()
			return
		}
		flusher.Flush()
	}
}

// wsFrame is one WebSocket message, JSON.
type wsFrame struct {
	Type         string          `json:"type"` // notification, heartbeat, resume, error
	ResumeToken  string          `json:"resumeToken,omitempty"`
	Notification json.RawMessage `json:"notification,omitempty"`
	Reason       string          `json:"reason,omitempty"`
}

// serveWebSocket streams the caller's notifications as JSON frames;
// ?resume=TOKEN continues after a previous frame's resumeToken.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	user, err := g.liveUser(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	watch, err := g.live.watch(user, r.URL.Query().Get("resume"))
	if err != nil {
		writeError(w, r, status.Errorf(codes.Unavailable, "live feed unavailable: %v", err))
		return
	}
	defer g.live.stop(watch)
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: g.wsOrigins})
	if err != nil {
		return // Accept has answered the request
	}
	defer conn.CloseNow()
	// Reads are only for control frames and the client's close.
	ctx := conn.CloseRead(r.Context())

	send := func(f wsFrame) error {
		b, err := json.Marshal(f)
		if err != nil {
			return err
		}
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return conn.Write(wctx, websocket.MessageText, b)
	}
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
	last := r.URL.Query().Get("resume")
	for {
		select {
		case <-ctx.Done():
			return
		case <-heartbeat.C:
			if send(wsFrame{Type: "heartbeat", ResumeToken: last}) != nil {
				return
			}
		case resp := <-watch.events:
			g.live.consumed(watch)
			data, err := notificationJSON.Marshal(resp.GetNotification())
			if err != nil {
				return
			}
			last = resp.GetResumeToken()
			if send(wsFrame{Type: "notification", ResumeToken: last, Notification: data}) != nil {
				return
			}
		case <-watch.done:
			reason, resumable := watch.ended()
			frame := wsFrame{Type: "error", Reason: reason, ResumeToken: last}
			if resumable {
				frame.Type = "resume"
			}
			_ = send(frame)
			conn.Close(websocket.StatusTryAgainLater, reason)
			return
		}
	}
}
