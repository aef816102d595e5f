package gateway_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/notificationtest"
)

// capError is the JSON error of a refused live request, as far as the cap
// is concerned.
type capError struct {
	Code    int
	Message string
	Details []struct {
		Type     string `json:"@type"`
		Reason   string
		Domain   string
		Metadata map[string]string
	}
}

func (e capError) reason() string {
	for _, d := range e.Details {
		if strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") {
			return d.Reason
		}
	}
	return ""
}

// wantTooManyFeeds checks an HTTP answer: 429 with the JSON error (at the
// top, or under "error" for the newline-delimited stream) carrying the
// ErrorInfo TOO_MANY_FEEDS.
func wantTooManyFeeds(t *testing.T, what string, resp *http.Response, wrapped bool) {
	t.Helper()
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s: %d %s; want 429", what, resp.StatusCode, resp.Header.Get("Content-Type")) // a stream: do not read it
	}
	b, _ := io.ReadAll(resp.Body)
	var e capError
	if wrapped {
		var w struct{ Error capError }
		_ = json.Unmarshal(b, &w)
		e = w.Error
	} else {
		_ = json.Unmarshal(b, &e)
	}
	if resp.StatusCode != http.StatusTooManyRequests || e.Code != int(codes.ResourceExhausted) || e.reason() != "TOO_MANY_FEEDS" {
		t.Fatalf("%s: %d %s; want 429 with RESOURCE_EXHAUSTED and ErrorInfo TOO_MANY_FEEDS", what, resp.StatusCode, b)
	}
}

// getSSE requests maria's SSE feed and returns the answer, open or not.
func getSSE(t *testing.T, base, token string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/notifications/events?"+url.Values{"access_token": {token}}.Encode(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); resp.Body.Close() })
	return resp
}

// wsRefusal dials the WebSocket feed and returns the close it got before
// any frame (nil, and the connection is closed, if it opened).
func wsRefusal(t *testing.T, base, token string) *websocket.CloseError {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), notificationtest.WaitLimit)
	defer cancel()
	u := strings.Replace(base, "http://", "ws://", 1) + "/v1/notifications/ws?" + url.Values{"access_token": {token}}.Encode()
	conn, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		t.Fatalf("WebSocket dial: %v (a refusal is a close after the upgrade, so a browser can read it)", err)
	}
	defer conn.CloseNow()
	_, b, err := conn.Read(ctx)
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return &ce
	}
	if err != nil {
		t.Fatalf("WebSocket: %v", err)
	}
	if !strings.Contains(string(b), `"heartbeat"`) {
		t.Fatalf("WebSocket opened with %s", b)
	}
	return nil
}

// openGRPC opens maria's StreamNotifications and waits for its first
// heartbeat; cancel closes it.
func openGRPC(t *testing.T, e *notificationtest.Env, user string) (recv func() error, cancel func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(e.As(context.Background(), t, user))
	t.Cleanup(cancel)
	stream, err := e.Notifications.StreamNotifications(ctx, &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("gRPC stream: %v", err)
	}
	return func() error { _, err := stream.Recv(); return err }, cancel
}

// TestFeedCapAcrossTransports fills maria's cap of live feeds with a gRPC
// stream, an SSE feed through one gateway and a WebSocket through another:
// the next is refused whatever it comes over (SSE and the REST stream:
// 429 with TOO_MANY_FEEDS before the stream starts; WebSocket: closed at
// once with 4429 "TOO_MANY_FEEDS: ..."; gRPC: RESOURCE_EXHAUSTED), and the
// open ones go on: nobody is told to go. Closing one makes room.
func TestFeedCapAcrossTransports(t *testing.T) {
	for _, b := range notificationtest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			e := notificationtest.Start(t, b, func(c *notification.Config) { c.MaxFeedsPerUser = 3 })
			e.Grant(t, ada, "maria")
			one, two := startGateway(t, e), startGateway(t, e)
			token := e.Token(t, "maria")

			recvGRPC, _ := openGRPC(t, e, "maria")
			sse, ref := openSSE(t, one, token, "", "")
			if ref != nil {
				t.Fatalf("SSE within the cap: %+v", ref)
			}
			ws, ref := openWS(t, two, token, "")
			if ref != nil {
				t.Fatalf("WebSocket within the cap: %+v", ref)
			}

			wantTooManyFeeds(t, "a fourth feed over SSE", getSSE(t, two, token), false)
			req, _ := http.NewRequest(http.MethodGet, one+"/v1/users/me/notifications:stream", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantTooManyFeeds(t, "a fourth feed over the REST stream", resp, true)
			if ce := wsRefusal(t, one, token); ce == nil || ce.Code != 4429 || !strings.HasPrefix(ce.Reason, "TOO_MANY_FEEDS"+": ") {
				t.Fatalf("a fourth feed over WebSocket: %v; want a close with 4429 and reason TOO_MANY_FEEDS: ...", ce)
			}
			stream, err := e.Notifications.StreamNotifications(e.As(context.Background(), t, "maria"), &notificationv1.StreamNotificationsRequest{Parent: "users/me"})
			if err == nil {
				_, err = stream.Recv()
			}
			if st := status.Convert(err); st.Code() != codes.ResourceExhausted || len(st.Details()) == 0 ||
				st.Details()[0].(*errdetails.ErrorInfo).GetReason() != "TOO_MANY_FEEDS" {
				t.Fatalf("a fourth feed over gRPC: %v", err)
			}

			// Nobody was told to go: the three carry what comes next.
			e.Record(t, ada, assessment, "after the refusals")
			for _, f := range []*browserFeed{sse, ws} {
				notificationtest.Eventually(t, f.kind+" to carry what came after the refusals", func() bool { return f.has("after the refusals") })
				if told := len(f.events()) - len(f.notifications()); told > 0 {
					t.Fatalf("%s was told something else than notifications: %+v", f.kind, f.events())
				}
			}
			if err := recvGRPC(); err != nil { // the notification
				t.Fatalf("the gRPC stream ended: %v", err)
			}

			// The SSE browser leaves: its slot goes to the next.
			closeSSE(t, sse)
			notificationtest.Eventually(t, "a WebSocket to open once the SSE feed closed", func() bool { return wsRefusal(t, two, token) == nil })
		})
	}
}

// closeSSE ends an SSE feed from the browser's side.
func closeSSE(t *testing.T, f *browserFeed) {
	t.Helper()
	f.cancel()
	<-f.done
}
