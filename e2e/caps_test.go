//go:build e2e

package e2e

import (
	"encoding/json"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestLiveFeedCapWithRealClients runs `kinbridge serve all` with a cap of
// two live feeds per user (set through the environment) and meets it with
// the npm clients a browser page uses: maria's third feed, an EventSource,
// fails once and is never retried (one request, however long it waits);
// her fourth, a WebSocket, is closed with 4429 TOO_MANY_FEEDS. The two feeds
// open before go on as if nothing happened: nobody was told to go, so
// nobody reconnects to take a slot back.
func TestLiveFeedCapWithRealClients(t *testing.T) {
	dir := nodeClients(t)
	p := serve(t, t.TempDir(), []string{"KINBRIDGE_MAX_FEEDS_PER_USER=2"})
	f := newLiveFamily(t, p)
	timeout := strconv.Itoa(int(clientTimeout / time.Millisecond))
	from := f.position(t)
	sse := func(host string) string {
		return "http://" + host + "/v1/notifications/events?" + url.Values{"access_token": {f.maria}, "last_event_id": {from}}.Encode()
	}
	ws := "ws://" + p.gateway + "/v1/notifications/ws?" + url.Values{"access_token": {f.maria}, "resume": {from}}.Encode()

	openSSE := runNode(t, dir, "sse.mjs", sse(p.gateway), "1", timeout)
	openSSE.expect(t, "open")
	openWS := runNode(t, dir, "ws.mjs", ws, "1", timeout)
	openWS.expect(t, "open")

	var detail struct {
		Code   int
		Reason string
	}
	proxy := newDropProxy(t, p.gateway)
	third := runNode(t, dir, "sse.mjs", sse(proxy.addr), "1", timeout)
	failed := third.expect(t, "failed") // EventSource gave up: readyState CLOSED
	if err := json.Unmarshal([]byte(failed.raw), &detail); err != nil || detail.Code != 429 {
		t.Fatalf("the third feed, an EventSource: %s; want it to fail on 429", failed.raw)
	}
	select {
	case err := <-third.done:
		third.done <- err // for the cleanup
	case <-time.After(30 * time.Second):
		t.Fatalf("the refused EventSource did not stop; it printed:\n%s", third.output)
	}
	if reqs := proxy.seen(); len(reqs) != 1 {
		t.Fatalf("the refused EventSource made %d requests, want 1: it must not retry", len(reqs))
	}

	fourth := runNode(t, dir, "ws.mjs", ws, "1", timeout)
	fourth.expect(t, "open") // the upgrade is accepted, so the page can read why it closes
	closed := fourth.expect(t, "closed")
	if err := json.Unmarshal([]byte(closed.raw), &detail); err != nil || detail.Code != 4429 || !strings.HasPrefix(detail.Reason, "TOO_MANY_FEEDS: ") {
		t.Fatalf("the fourth feed, a WebSocket: %s; want a close with 4429 and reason TOO_MANY_FEEDS: ...", closed.raw)
	}

	// The first two were not disturbed: their next line is the next
	// notification, with no error, resume or close before it.
	f.record(t, "after the refusals")
	for _, feed := range []*nodeScript{openSSE, openWS} {
		got := feed.notifications(t, 1)
		requireAssessments(t, feed.name, got, []string{"after the refusals"}, func(l clientLine) string {
			if l.ID != "" {
				return l.ID
			}
			return l.ResumeToken
		})
	}
	openSSE.finished(t)
	openWS.expect(t, "closed")
	openWS.finished(t)
}
