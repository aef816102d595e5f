//go:build e2e

package e2e

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// breakerArgs make every process stop calling a neighbour after 3 calls it
// left unanswered, for 2s at a time.
var breakerArgs = []string{"--breaker-failures", "3", "--breaker-cool-down", "2s"}

// failFastFamily is a split deployment (each service and the gateway a
// process of its own) with a child, a teacher who records for it, two
// guardians, and one photo.
type failFastFamily struct {
	dataDir                                   string
	progressAddr, mediaAddr, notificationAddr string
	gateway, gatewayMetrics, mediaMetrics     string
	progress, media, notification             *process
	admin, teacher, maria, grandpa            string // tokens
	child, item                               string
}

func newFailFastFamily(t *testing.T, mediaArgs ...string) *failFastFamily {
	t.Helper()
	f := &failFastFamily{dataDir: t.TempDir(), progressAddr: freePort(t), mediaAddr: freePort(t), notificationAddr: freePort(t),
		gatewayMetrics: freePort(t), mediaMetrics: freePort(t)}
	f.progress = start(t, "progress", f.dataDir, nil, append([]string{"--progress-listen", f.progressAddr,
		"--notification-addr", f.notificationAddr, "--media-addr", f.mediaAddr, "--metrics-listen", ""}, breakerArgs...)...)
	f.notification = f.startNotification(t)
	f.media = start(t, "media", f.dataDir, nil, append(append([]string{"--media-listen", f.mediaAddr, "--progress-addr", f.progressAddr,
		"--notification-addr", f.notificationAddr, "--metrics-listen", f.mediaMetrics}, breakerArgs...), mediaArgs...)...)
	f.gateway = start(t, "gateway", f.dataDir, nil, append([]string{"--gateway-listen", "127.0.0.1:0", "--progress-addr", f.progressAddr,
		"--media-addr", f.mediaAddr, "--notification-addr", f.notificationAddr, "--metrics-listen", f.gatewayMetrics}, breakerArgs...)...).gateway

	key, err := auth.LoadKey(f.dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(user string, admin bool) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	f.admin, f.teacher, f.maria, f.grandpa = issue("admin", true), issue("teacher", false), issue("maria", false), issue("grandpa", false)
	var child struct{ Name string }
	f.must(t, f.admin, "POST", "/v1/children", `{"displayName": "Ada"}`, &child)
	f.child = child.Name
	for user, role := range map[string]string{"teacher": "ROLE_CONTRIBUTOR", "maria": "ROLE_GUARDIAN", "grandpa": "ROLE_GUARDIAN"} {
		f.must(t, f.admin, "POST", "/v1/"+f.child+"/guardians", `{"user": "`+user+`", "role": "`+role+`"}`, nil)
	}
	code, body := restUpload(t, f.gateway, f.teacher, f.child, "?title=Self-portrait&kind=artwork", "", testdata(t, "gps.jpg"))
	var item restItem
	if code != http.StatusOK || json.Unmarshal(body, &item) != nil {
		t.Fatalf("upload: %d %s", code, body)
	}
	f.item = waitReady(t, f.gateway, f.teacher, item.Name).Name
	return f
}

func (f *failFastFamily) startNotification(t *testing.T) *process {
	return start(t, "notification", f.dataDir, nil, append([]string{"--notification-listen", f.notificationAddr,
		"--progress-addr", f.progressAddr, "--metrics-listen", ""}, breakerArgs...)...)
}

// call sends a REST request through the gateway.
func (f *failFastFamily) call(t *testing.T, token, method, path, body string) (int, string, http.Header) {
	t.Helper()
	code, b, h := httpDo(t, method, "http://"+f.gateway+path, token, "", strings.NewReader(body))
	return code, string(b), h
}

// must sends a request that must answer 200, and decodes its body into out.
func (f *failFastFamily) must(t *testing.T, token, method, path, body string, out any) {
	t.Helper()
	code, b, _ := f.call(t, token, method, path, body)
	if code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, code, b)
	}
	if out != nil {
		if err := json.Unmarshal([]byte(b), out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// unavailable checks an answer is 503 with a Retry-After of whole seconds,
// at least 1, and reports whether its message says when to retry (an open
// breaker's refusal) rather than "retry shortly".
func unavailable(t *testing.T, what string, code int, body string, h http.Header) (breakerOpen bool) {
	t.Helper()
	if code != http.StatusServiceUnavailable {
		t.Fatalf("%s: %d %s, want 503", what, code, body)
	}
	if after, err := strconv.Atoi(h.Get("Retry-After")); err != nil || after < 1 {
		t.Fatalf("%s: Retry-After %q, want whole seconds, at least 1", what, h.Get("Retry-After"))
	}
	return strings.Contains(body, "retry in ")
}

// breakerState reads kinbridge_upstream_breaker_state{caller, upstream}
// from a process's metrics; -1 when it is not there.
func breakerState(t *testing.T, metricsAddr, caller, upstream string) float64 {
	t.Helper()
	v, found := metricValue(t, metricsAddr, "kinbridge_upstream_breaker_state", "caller", caller, "upstream", upstream)
	if !found {
		return -1
	}
	return v
}

// TestNotificationDownTheRestGoesOn: with the notification service stopped,
// its routes answer 503 with Retry-After, and after three of them the
// gateway stops calling it (its breaker opens) and refuses at once; progress
// and media, which do not need it to answer, go on as before, writes
// included. Once notification is back its routes answer again, and what
// was recorded meanwhile reaches the inbox.
func TestNotificationDownTheRestGoesOn(t *testing.T) {
	f := newFailFastFamily(t)
	if s := breakerState(t, f.gatewayMetrics, "gateway", "notification"); s != 0 {
		t.Fatalf("gateway's breaker for notification is %v before the outage, want 0 (closed)", s)
	}
	f.notification.stop(t)

	// The first calls find it down; the breaker then refuses the rest.
	open := false
	for i := 0; !open; i++ {
		if i == 10 {
			t.Fatal("the gateway's breaker for notification never opened")
		}
		code, body, h := f.call(t, f.maria, "GET", "/v1/users/me/notifications", "")
		open = unavailable(t, "notifications with notification down", code, body, h)
	}
	if s := breakerState(t, f.gatewayMetrics, "gateway", "notification"); s != 2 {
		t.Fatalf("gateway's breaker for notification is %v, want 2 (open)", s)
	}
	for _, path := range []string{"/v1/users/me/notifications:countUnread", "/v1/users/me/subscriptions", "/v1/notifications/events"} {
		code, body, h := f.call(t, f.maria, "GET", path, "")
		unavailable(t, "GET "+path+" with notification down", code, body, h)
	}

	// What does not depend on notification goes on.
	f.must(t, f.maria, "GET", "/v1/"+f.child, "", nil)
	f.must(t, f.maria, "GET", "/v1/"+f.child+"/progressSummary", "", nil)
	f.must(t, f.maria, "GET", "/v1/"+f.child+"/media", "", nil)
	f.must(t, f.maria, "GET", "/v1/"+f.item, "", nil)
	if code, body, _ := f.call(t, f.maria, "GET", "/v1/"+f.item+":content", ""); code != http.StatusOK {
		t.Fatalf("content with notification down: %d %.200s", code, body)
	}
	f.must(t, f.teacher, "POST", "/v1/"+f.child+"/assessments", `{"subject": "Math", "title": "Outage quiz",
		"kind": "ASSESSMENT_KIND_TEST", "assessedDate": "2026-03-02", "score": {"letterGrade": "A"}}`, nil)
	if s := breakerState(t, f.gatewayMetrics, "gateway", "progress"); s != 0 {
		t.Errorf("gateway's breaker for progress is %v while progress answers, want 0", s)
	}

	f.notification = f.startNotification(t)
	testenv.Eventually(t, "notification routes answering again", func() string {
		if code, body, _ := f.call(t, f.maria, "GET", "/v1/users/me/notifications", ""); code != http.StatusOK {
			return strconv.Itoa(code) + " " + body
		}
		return ""
	})
	if s := breakerState(t, f.gatewayMetrics, "gateway", "notification"); s != 0 {
		t.Errorf("gateway's breaker for notification is %v after it answered again, want 0", s)
	}
	testenv.Eventually(t, "the assessment recorded during the outage in maria's inbox", func() string {
		if _, body, _ := f.call(t, f.maria, "GET", "/v1/users/me/notifications?pageSize=100", ""); !strings.Contains(body, "Outage quiz") {
			return "inbox: " + body
		}
		return ""
	})
}

// TestProgressDownMediaServesWhatItKnows: media asks progress whether a user
// may see a child, and remembers the answer (--access-cache-ttl). With
// progress stopped, a read whose answer media remembers still answers 200;
// any other answers 503 with Retry-After, and after three of those media
// stops asking progress (its own breaker opens) while the gateway's breaker
// for media stays closed: media itself answers. The inbox still answers.
// Progress's own routes answer 503 and the gateway's breaker for progress
// opens.
func TestProgressDownMediaServesWhatItKnows(t *testing.T) {
	f := newFailFastFamily(t, "--access-cache-ttl", "1h")
	f.must(t, f.maria, "GET", "/v1/"+f.item, "", nil) // media now knows maria may see the child
	f.progress.stop(t)

	f.must(t, f.maria, "GET", "/v1/"+f.item, "", nil)
	if code, body, _ := f.call(t, f.maria, "GET", "/v1/"+f.item+":content", ""); code != http.StatusOK {
		t.Fatalf("maria's content with progress down: %d %.200s", code, body)
	}
	for i := 0; breakerState(t, f.mediaMetrics, "media", "progress") != 2; i++ {
		if i == 10 {
			t.Fatal("media's breaker for progress never opened")
		}
		code, body, h := f.call(t, f.grandpa, "GET", "/v1/"+f.item, "")
		unavailable(t, "grandpa's read with progress down", code, body, h)
	}
	if s := breakerState(t, f.gatewayMetrics, "gateway", "media"); s != 0 {
		t.Errorf("gateway's breaker for media is %v, want 0: media answered every call", s)
	}
	f.must(t, f.maria, "GET", "/v1/"+f.item, "", nil)
	f.must(t, f.maria, "GET", "/v1/users/me/notifications", "", nil) // the inbox needs no access check

	for range 3 {
		code, body, h := f.call(t, f.maria, "GET", "/v1/"+f.child, "")
		unavailable(t, "progress read with progress down", code, body, h)
	}
	if s := breakerState(t, f.gatewayMetrics, "gateway", "progress"); s != 2 {
		t.Errorf("gateway's breaker for progress is %v after 3 calls it did not answer, want 2", s)
	}
}
