package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kinbridge/kinbridge/pkg/validate"
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

// resumeSyntax refuses a resume position that no feed issues (decimal
// digits, no sign, no leading zero) before it goes upstream. The
// notification service checks it too, and also refuses one beyond the
// inbox; but a start it cannot even parse would fail the Watch stream that
// every browser shares.
func resumeSyntax(param, token string) error {
	if token == "" {
		return nil
	}
	if seq, err := strconv.ParseInt(token, 10, 64); err != nil || seq < 0 || strconv.FormatInt(seq, 10) != token {
		return validate.InvalidArgument(validate.Field{Path: param, Description: "is not a position this feed issued: the id of a notification it sent"})
	}
	return nil
}

// openWatch opens a browser's watch from the resume position it sent in
// param. An error is the answer to give instead of a stream: a refused
// position is a 400 that names param, so the client can tell it from a
// lost connection (EventSource gives up on a non-200 answer instead of
// reconnecting).
func (g *Gateway) openWatch(r *http.Request, user, param, resume string) (*watcher, error) {
	if err := resumeSyntax(param, resume); err != nil {
		return nil, err
	}
	watch, err := g.live.watch(r.Context(), user, resume)
	if err == nil {
		return watch, nil
	}
	st := status.Convert(err)
	if st.Code() != codes.InvalidArgument && st.Code() != codes.OutOfRange {
		return nil, err
	}
	refusal := status.New(st.Code(), st.Message())
	if withDetails, derr := refusal.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
		{Field: param, Description: st.Message()},
	}}); derr == nil {
		refusal = withDetails
	}
	return nil, refusal.Err()
}

// serveSSE streams the caller's notifications as text/event-stream. Each
// event's id is its resume token, so EventSource's automatic reconnect
// (which sends Last-Event-ID) resumes exactly after the last event seen.
// A feed over the user's cap is answered 429 (TOO_MANY_FEEDS) before the
// stream starts, on which EventSource stops rather than reconnects.
func (g *Gateway) serveSSE(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	w = streamAnswer(w, r) // a feed outlives the server's timeouts; each write gets its own
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
	param, resume := "Last-Event-ID", r.Header.Get("Last-Event-ID")
	if resume == "" {
		param, resume = "last_event_id", r.URL.Query().Get("last_event_id")
	}
	watch, err := g.openWatch(r, user, param, resume)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer g.live.stop(watch)

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store") // one user's feed
	h.Set("X-Accel-Buffering", "no")   // tell proxies not to buffer the stream
	w.WriteHeader(http.StatusOK)
	// The start position is the stream's first id (an event without data
	// sets it and dispatches nothing), so an EventSource that loses the
	// connection before the first notification still resumes from there.
	fmt.Fprintf(w, "retry: 2000\nid: %s\n\n", watch.position)
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
			// Whatever ended a started watch, the client resumes from its
			// last id (EventSource does so by itself when the stream ends);
			// what cannot be resumed was refused before the stream began.
			fmt.Fprintf(w, "event: resume\ndata: %q\n\n", status.Convert(watch.ended()).Message())
			flusher.Flush()
			return
		}
		flusher.Flush()
	}
}

// wsFrame is one WebSocket message, JSON.
type wsFrame struct {
	Type         string          `json:"type"` // notification, heartbeat, resume
	ResumeToken  string          `json:"resumeToken,omitempty"`
	Notification json.RawMessage `json:"notification,omitempty"`
	Reason       string          `json:"reason,omitempty"`
}

// serveWebSocket streams the caller's notifications as JSON frames;
// ?resume=TOKEN continues after a previous frame's resumeToken. A refused
// token is answered with a 400 instead of the upgrade; a feed over the
// user's cap is closed at once with wsRefused.
func (g *Gateway) serveWebSocket(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	user, err := g.liveUser(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	watch, err := g.openWatch(r, user, "resume", r.URL.Query().Get("resume"))
	if status.Code(err) == codes.ResourceExhausted {
		g.refuseWebSocket(w, r, err)
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer g.live.stop(watch)
	holdConnection(r) // the feed outlives the server's timeouts; send bounds each write
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
	// A heartbeat at once tells the client its position, as the gRPC
	// stream's first heartbeat does.
	last := watch.position
	if send(wsFrame{Type: "heartbeat", ResumeToken: last}) != nil {
		return
	}
	heartbeat := time.NewTicker(heartbeatEvery)
	defer heartbeat.Stop()
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
			reason := status.Convert(watch.ended()).Message()
			_ = send(wsFrame{Type: "resume", Reason: reason, ResumeToken: last})
			conn.Close(websocket.StatusTryAgainLater, reason)
			return
		}
	}
}

// wsRefused closes a WebSocket whose feed was refused for a cap
// (RESOURCE_EXHAUSTED, HTTP 429 elsewhere), with a reason that starts
// with the ErrorInfo reason: "TOO_MANY_FEEDS: ...". A browser cannot read
// the status of a refused upgrade (it sees 1006 and nothing more), so the
// upgrade is accepted and closed at once instead. The code is in the range
// RFC 6455 leaves to applications.
const wsRefused websocket.StatusCode = 4429

// maxCloseReason is the most a close frame's reason may hold, in bytes.
const maxCloseReason = 123

// refuseWebSocket accepts the upgrade and closes it with wsRefused.
func (g *Gateway) refuseWebSocket(w http.ResponseWriter, r *http.Request, refusal error) {
	conn, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: g.wsOrigins})
	if err != nil {
		return // Accept has answered the request
	}
	defer conn.CloseNow()
	st := status.Convert(refusal)
	reason := st.Message()
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			reason = info.GetReason() + ": " + reason
		}
	}
	if len(reason) > maxCloseReason {
		reason = strings.ToValidUTF8(reason[:maxCloseReason], "")
	}
	_ = conn.Close(wsRefused, reason)
}
