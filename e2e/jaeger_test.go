//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// Bounds of the waits on Jaeger: spans reach it in batches, and the
// asynchronous legs (outbox relay, thumbnail job) run after the requests.
const (
	jaegerTraceWait = 60 * time.Second
	jaegerDepsWait  = 30 * time.Second
	jaegerPoll      = 500 * time.Millisecond
)

// TestJaegerJourneys exports a whole `kinbridge serve all` to a real Jaeger
// and reads the two journeys back through its query API, each as one trace
// with every service in it and every span under the right parent, then
// checks the service graph Jaeger derives from them (/api/dependencies).
//
//  1. A teacher records an assessment over REST: gateway -> progress (SQL)
//     -> outbox relay -> notification PublishBatch -> progress ListGuardians
//     -> inbox write -> live push to the guardian watching over SSE.
//  2. A teacher uploads a photo with tus (POST, PATCH): gateway -> media ->
//     progress CheckAccess -> blob write -> the background thumbnail job,
//     which continues the upload's trace -> media's outbox -> notification
//     Publish -> live push.
//
// Trace ids are ours: each journey's requests carry a traceparent made
// here, so the traces are found by id on a Jaeger other runs share. The
// access and guardian caches are off, so every hop is a call.
func TestJaegerJourneys(t *testing.T) {
	jaeger := testenv.Jaeger(t)
	started := time.Now()
	dataDir := t.TempDir()
	p := serve(t, dataDir, []string{
		"OTEL_TRACES_EXPORTER=otlp",
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + jaeger.OTLPEndpoint,
		"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=" + jaeger.OTLPEndpoint,
		"OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=grpc",
		"OTEL_TRACES_SAMPLER=parentbased_always_on",
		// Export every 100 ms instead of every 5 s: the waits below stay short.
		"OTEL_BSP_SCHEDULE_DELAY=100",
	}, "--access-cache-ttl", "0", "--guardian-cache-ttl", "0")
	gw := "http://" + p.gateway

	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	issue := func(user string) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	teacher, maria := issue("teacher"), issue("maria")

	// The family: a child, maria who follows it, a teacher who records.
	var child struct{ Name string }
	jaegerREST(t, "POST", gw+"/v1/children", p.adminToken, `{"displayName": "Ada"}`, nil, &child)
	jaegerREST(t, "POST", gw+"/v1/"+child.Name+"/guardians", p.adminToken, `{"user": "maria", "role": "ROLE_GUARDIAN"}`, nil, nil)
	jaegerREST(t, "POST", gw+"/v1/"+child.Name+"/guardians", p.adminToken, `{"user": "teacher", "role": "ROLE_CONTRIBUTOR"}`, nil, nil)

	// maria watches her feed, as a browser's EventSource would. A first,
	// untraced assessment proves the feed is live before the journeys.
	feed := jaegerWatchSSE(t, gw+"/v1/notifications/events?access_token="+url.QueryEscape(maria))
	warm := "Warm-up " + jaegerHex(t, 4)
	jaegerRecord(t, gw, teacher, child.Name, warm, nil)
	feed.waitFor(t, warm, 30*time.Second)

	t.Run("recording", func(t *testing.T) {
		caller := newJaegerCaller(t)
		title := "Traced quiz " + jaegerHex(t, 4)
		got := jaegerRecord(t, gw, teacher, child.Name, title, caller.header())
		if id := got.Get("X-Trace-Id"); id != caller.traceID {
			t.Errorf("X-Trace-Id = %q, want the caller's trace %s", id, caller.traceID)
		}
		feed.waitFor(t, title, 30*time.Second)
		tr := jaegerWaitTrace(t, jaeger, caller, jaegerCheckRecording)
		t.Logf("recording: trace %s has %d spans from %v", caller.traceID, len(tr.Spans), tr.services())
	})

	t.Run("upload", func(t *testing.T) {
		caller := newJaegerCaller(t)
		title := "Traced photo " + jaegerHex(t, 4)
		item := jaegerTusPhoto(t, gw, teacher, child.Name, title, caller.header())
		jaegerWaitReady(t, gw, maria, item, 60*time.Second)
		feed.waitFor(t, title, 30*time.Second)
		tr := jaegerWaitTrace(t, jaeger, caller, jaegerCheckUpload)
		t.Logf("upload: trace %s has %d spans from %v", caller.traceID, len(tr.Spans), tr.services())
	})

	t.Run("dependencies", func(t *testing.T) {
		want := []string{"gateway->progress", "gateway->media", "media->progress", "progress->notification", "notification->progress"}
		deadline := time.Now().Add(jaegerDepsWait)
		for {
			end := time.Now()
			// The memory store counts a trace only when it began after
			// endTs-lookback and ended before endTs: this test's traces,
			// and whatever else was sent to this Jaeger meanwhile.
			lookback := end.Sub(started) + time.Second
			links, err := jaegerDependencies(jaeger, end, lookback)
			var missing []string
			for _, w := range want {
				if err == nil && links[w] == 0 {
					missing = append(missing, w)
				}
			}
			if err == nil && len(missing) == 0 {
				t.Logf("dependencies: %v", links)
				return
			}
			if time.Now().After(deadline) {
				if err != nil {
					t.Fatalf("/api/dependencies: %v", err)
				}
				t.Fatalf("/api/dependencies lacks %v after %v; it has %v", missing, jaegerDepsWait, links)
			}
			time.Sleep(jaegerPoll)
		}
	})
}

// jaegerCaller is the span of the test as a traced client: its ids go out in
// traceparent, and the gateway's server spans must be its children. It is
// never exported itself.
type jaegerCaller struct{ traceID, spanID string }

func newJaegerCaller(t *testing.T) jaegerCaller {
	return jaegerCaller{traceID: jaegerHex(t, 16), spanID: jaegerHex(t, 8)}
}

func (c jaegerCaller) header() http.Header {
	return http.Header{"Traceparent": {"00-" + c.traceID + "-" + c.spanID + "-01"}}
}

func jaegerHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// jaegerREST sends a JSON request to the gateway and decodes a 200 answer
// into out (nil: discarded); any other status fails the test.
func jaegerREST(t *testing.T, method, u, token, body string, extra http.Header, out any) http.Header {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range extra {
		req.Header[k] = v
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, u, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, u, err, b)
		}
	}
	return resp.Header
}

func jaegerRecord(t *testing.T, gw, token, child, title string, extra http.Header) http.Header {
	t.Helper()
	return jaegerREST(t, "POST", gw+"/v1/"+child+"/assessments", token,
		fmt.Sprintf(`{"subject": "Math", "title": %q, "kind": "ASSESSMENT_KIND_TEST", "assessedDate": "2026-03-01",
			"score": {"points": {"earned": 18, "possible": 20}}}`, title), extra, nil)
}

// jaegerTusPhoto uploads a small JPEG with tus (create, then one PATCH),
// both requests carrying extra, and returns the new item's name.
func jaegerTusPhoto(t *testing.T, gw, token, child, title string, extra http.Header) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 96, 64))
	for x := 0; x < 96; x++ {
		for y := 0; y < 64; y++ {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 3), 128, 255})
		}
	}
	var photo bytes.Buffer
	if err := jpeg.Encode(&photo, img, nil); err != nil {
		t.Fatal(err)
	}
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	send := func(method, u string, body []byte, headers ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, u, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+token)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		for k, v := range extra {
			req.Header[k] = v
		}
		resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	created := send("POST", gw+"/v1/uploads/", nil, "Upload-Length", strconv.Itoa(photo.Len()),
		"Upload-Metadata", "child "+b64(child)+",filename "+b64("traced.jpg")+",title "+b64(title))
	loc := created.Header.Get("Location")
	if created.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("tus create: %d %v", created.StatusCode, created.Header)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = gw + loc
	}
	done := send("PATCH", loc, photo.Bytes(), "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	item := done.Header.Get("Kinbridge-Media-Item")
	if done.StatusCode != http.StatusNoContent || !strings.Contains(item, "/media/") {
		t.Fatalf("tus PATCH: %d %v", done.StatusCode, done.Header)
	}
	return item
}

// jaegerWaitReady waits until the thumbnail job has made the item READY.
func jaegerWaitReady(t *testing.T, gw, token, item string, wait time.Duration) {
	t.Helper()
	deadline := time.Now().Add(wait)
	var it struct{ State, FailureReason string }
	for {
		jaegerREST(t, "GET", gw+"/v1/"+item, token, "", nil, &it)
		if it.State == "MEDIA_STATE_READY" {
			return
		}
		if it.State == "MEDIA_STATE_FAILED" || time.Now().After(deadline) {
			t.Fatalf("%s is %s (%s), not READY, after %v", item, it.State, it.FailureReason, wait)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// jaegerFeed is a live SSE connection; the data lines arrive on data.
type jaegerFeed struct {
	data chan string
	seen []string
}

func jaegerWatchSSE(t *testing.T, u string) *jaegerFeed {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Fatalf("SSE: %d %s", resp.StatusCode, b)
	}
	f := &jaegerFeed{data: make(chan string, 100)}
	go func() {
		defer resp.Body.Close()
		defer close(f.data)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				select {
				case f.data <- line:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return f
}

// waitFor waits for a notification whose data mentions marker.
func (f *jaegerFeed) waitFor(t *testing.T, marker string, wait time.Duration) {
	t.Helper()
	for _, d := range f.seen {
		if strings.Contains(d, marker) {
			return
		}
	}
	timeout := time.After(wait)
	for {
		select {
		case d, ok := <-f.data:
			if !ok {
				t.Fatalf("the SSE feed ended before %q arrived; it had %q", marker, f.seen)
			}
			f.seen = append(f.seen, d)
			if strings.Contains(d, marker) {
				return
			}
		case <-timeout:
			t.Fatalf("no SSE notification about %q within %v; the feed had %q", marker, wait, f.seen)
		}
	}
}

// The query API's JSON (Jaeger's v1 model).
type jaegerTrace struct {
	TraceID   string       `json:"traceID"`
	Spans     []jaegerSpan `json:"spans"`
	Processes map[string]struct {
		ServiceName string `json:"serviceName"`
	} `json:"processes"`
	Warnings []string `json:"warnings"`

	byID map[string]*jaegerSpan
}

type jaegerSpan struct {
	TraceID       string `json:"traceID"`
	SpanID        string `json:"spanID"`
	OperationName string `json:"operationName"`
	References    []struct {
		RefType string `json:"refType"`
		TraceID string `json:"traceID"`
		SpanID  string `json:"spanID"`
	} `json:"references"`
	ProcessID string `json:"processID"`
	Tags      []struct {
		Key   string `json:"key"`
		Value any    `json:"value"`
	} `json:"tags"`
	Warnings []string `json:"warnings"`

	service string
}

// parent is the span's parent in its own trace, "" for a root: its
// CHILD_OF reference. The asynchronous steps (the outbox delivery, the
// media job) are children of the request that caused them, too: they carry
// no span link to that same parent, which Jaeger would turn into a single
// FOLLOWS_FROM reference.
func (s *jaegerSpan) parent() string {
	id, _ := s.parentRef()
	return id
}

// parentRef returns the parent and the type of the reference to it.
func (s *jaegerSpan) parentRef() (id, refType string) {
	for _, r := range s.References {
		if r.RefType == "CHILD_OF" && r.TraceID == s.TraceID {
			return r.SpanID, r.RefType
		}
	}
	return "", ""
}

func (s *jaegerSpan) tag(key string) string {
	for _, tg := range s.Tags {
		if tg.Key == key {
			return fmt.Sprint(tg.Value)
		}
	}
	return ""
}

func (s *jaegerSpan) kind() string { return s.tag("span.kind") }

func (s *jaegerSpan) String() string {
	return fmt.Sprintf("%s %s %q (%s)", s.service, s.kind(), s.OperationName, s.SpanID)
}

func (tr *jaegerTrace) index() {
	tr.byID = make(map[string]*jaegerSpan, len(tr.Spans))
	for i := range tr.Spans {
		sp := &tr.Spans[i]
		sp.service = tr.Processes[sp.ProcessID].ServiceName
		tr.byID[sp.SpanID] = sp
	}
}

func (tr *jaegerTrace) services() []string {
	set := map[string]bool{}
	for _, sp := range tr.Spans {
		set[sp.service] = true
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// find returns the spans of service whose kind is kind ("" for any) and
// whose name matches name. SQL statements' spans are left out: their names
// are tables ("INSERT media_jobs"), which would match names meant for
// others.
func (tr *jaegerTrace) find(service, kind, name string) []*jaegerSpan {
	re := regexp.MustCompile(name)
	var out []*jaegerSpan
	for i := range tr.Spans {
		sp := &tr.Spans[i]
		if sp.tag("db.system.name") != "" {
			continue
		}
		if sp.service == service && (kind == "" || sp.kind() == kind) && re.MatchString(sp.OperationName) {
			out = append(out, sp)
		}
	}
	return out
}

// under reports whether ancestor is sp's parent, grandparent, ...
func (tr *jaegerTrace) under(sp, ancestor *jaegerSpan) bool {
	for seen := 0; sp != nil && seen <= len(tr.Spans); seen++ {
		p := sp.parent()
		if p == ancestor.SpanID {
			return true
		}
		sp = tr.byID[p]
	}
	return false
}

// dump lists the trace as a tree, for failure messages.
func (tr *jaegerTrace) dump() string {
	children := map[string][]*jaegerSpan{}
	var roots []*jaegerSpan
	for i := range tr.Spans {
		sp := &tr.Spans[i]
		if tr.byID[sp.parent()] == nil {
			roots = append(roots, sp)
		} else {
			children[sp.parent()] = append(children[sp.parent()], sp)
		}
	}
	var b strings.Builder
	var walk func(sp *jaegerSpan, depth int)
	walk = func(sp *jaegerSpan, depth int) {
		fmt.Fprintf(&b, "%s%s", strings.Repeat("  ", depth), sp)
		if id, ref := sp.parentRef(); depth == 0 {
			fmt.Fprintf(&b, " parent=%q", id)
		} else if ref != "CHILD_OF" {
			fmt.Fprintf(&b, " (%s)", ref)
		}
		if len(sp.Warnings) > 0 {
			fmt.Fprintf(&b, " warnings=%q", sp.Warnings)
		}
		b.WriteByte('\n')
		for _, c := range children[sp.SpanID] {
			walk(c, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, 0)
	}
	return b.String()
}

// jaegerCheck names what is wrong with a journey's trace; nothing once it
// is complete and parented correctly.
type jaegerCheck func(tr *jaegerTrace, caller jaegerCaller) []string

// jaegerWaitTrace polls /api/traces/{id} until check finds nothing wrong or
// jaegerTraceWait has passed; then it fails the test with the problems
// and the trace as Jaeger has it.
func jaegerWaitTrace(t *testing.T, j testenv.JaegerServer, caller jaegerCaller, check jaegerCheck) *jaegerTrace {
	t.Helper()
	deadline := time.Now().Add(jaegerTraceWait)
	for {
		tr, err := jaegerGetTrace(j, caller.traceID)
		var problems []string
		if err != nil {
			problems = []string{err.Error()}
		} else {
			problems = check(tr, caller)
			problems = append(problems, jaegerConnected(tr, caller)...)
		}
		if len(problems) == 0 {
			return tr
		}
		if time.Now().After(deadline) {
			for _, p := range problems {
				t.Errorf("trace %s: %s", caller.traceID, p)
			}
			if tr != nil {
				t.Logf("trace %s as Jaeger has it (%d spans, services %v):\n%s", caller.traceID, len(tr.Spans), tr.services(), tr.dump())
			}
			t.FailNow()
		}
		time.Sleep(jaegerPoll)
	}
}

// jaegerConnected checks that the journey is one tree: the only spans whose
// parent is not in the trace are the gateway's server spans, children of
// the caller's span.
func jaegerConnected(tr *jaegerTrace, caller jaegerCaller) []string {
	var problems []string
	for i := range tr.Spans {
		sp := &tr.Spans[i]
		p := sp.parent()
		switch {
		case p == caller.spanID:
			if sp.service != "gateway" || sp.kind() != "server" {
				problems = append(problems, fmt.Sprintf("%s is a child of the caller's span; only the gateway's server spans should be", sp))
			}
		case p == "":
			problems = append(problems, fmt.Sprintf("%s is a root: it should continue the caller's trace under a parent", sp))
		case tr.byID[p] == nil:
			problems = append(problems, fmt.Sprintf("%s has parent %s, which is not in the trace", sp, p))
		}
	}
	return problems
}

// jaegerChecker collects problems while checking one trace.
type jaegerChecker struct {
	tr       *jaegerTrace
	problems []string
}

// one returns the first span of service with kind and a name matching
// name, noting its absence as a problem.
func (c *jaegerChecker) one(what, service, kind, name string) *jaegerSpan {
	if s := c.tr.find(service, kind, name); len(s) > 0 {
		return s[0]
	}
	c.problems = append(c.problems, fmt.Sprintf("no %s span (service %s, kind %q, name ~ %s)", what, service, kind, name))
	return nil
}

// oneUnder is one, restricted to descendants of ancestor.
func (c *jaegerChecker) oneUnder(what, service, kind, name string, ancestor *jaegerSpan) *jaegerSpan {
	if ancestor == nil {
		return c.one(what, service, kind, name)
	}
	return c.oneUnderAny(what, service, kind, name, []*jaegerSpan{ancestor})
}

// oneUnderAny is one, restricted to descendants of any of ancestors.
func (c *jaegerChecker) oneUnderAny(what, service, kind, name string, ancestors []*jaegerSpan) *jaegerSpan {
	for _, sp := range c.tr.find(service, kind, name) {
		if jaegerUnderAny(c.tr, sp, ancestors) {
			return sp
		}
	}
	var under []string
	for _, a := range ancestors {
		under = append(under, a.String())
	}
	c.problems = append(c.problems, fmt.Sprintf("no %s span (service %s, kind %q, name ~ %s) under %s", what, service, kind, name, strings.Join(under, " or ")))
	return nil
}

// childOf checks that parent is child's direct parent, by a CHILD_OF
// reference: a call and what serves it.
func (c *jaegerChecker) childOf(child, parent *jaegerSpan, why string) {
	c.parentIs(child, parent, why, "CHILD_OF")
}

func (c *jaegerChecker) parentIs(child, parent *jaegerSpan, why string, refTypes ...string) {
	if child == nil || parent == nil {
		return
	}
	id, ref := child.parentRef()
	if id != parent.SpanID || !slices.Contains(refTypes, ref) {
		got := id
		if p := c.tr.byID[id]; p != nil {
			got = p.String()
		}
		c.problems = append(c.problems, fmt.Sprintf("%s: %s has parent %s (%s), want %s (%s)", why, child, got, ref, parent, strings.Join(refTypes, " or ")))
	}
}

func (c *jaegerChecker) services(want ...string) {
	have := map[string]bool{}
	for _, s := range c.tr.services() {
		have[s] = true
	}
	for _, w := range want {
		if !have[w] {
			c.problems = append(c.problems, fmt.Sprintf("no span of service %s (services: %v)", w, c.tr.services()))
		}
	}
}

// jaegerLivePush matches the notification span of a live push to subscribers.
const jaegerLivePush = `(?i)live[ ._-]?push`

// jaegerCheckRecording: REST -> gateway -> progress (SQL) -> outbox relay ->
// notification PublishBatch -> progress ListGuardians -> inbox write -> live
// push.
func jaegerCheckRecording(tr *jaegerTrace, caller jaegerCaller) []string {
	c := &jaegerChecker{tr: tr}
	c.services("gateway", "progress", "notification")
	httpSpan := c.one("gateway HTTP", "gateway", "server", `^POST`)
	if httpSpan != nil && httpSpan.parent() != caller.spanID {
		c.problems = append(c.problems, fmt.Sprintf("%s has parent %s, want the caller's span %s", httpSpan, httpSpan.parent(), caller.spanID))
	}
	gwClient := c.one("gateway gRPC client", "gateway", "client", `CreateAssessment$`)
	create := c.one("progress CreateAssessment", "progress", "server", `CreateAssessment$`)
	c.childOf(gwClient, httpSpan, "the gateway calls progress while serving the request")
	c.childOf(create, gwClient, "progress serves the gateway's call")
	if create != nil {
		sql := false
		for i := range tr.Spans {
			sp := &tr.Spans[i]
			if sp.service == "progress" && sp.tag("db.system.name") != "" && sp.parent() == create.SpanID {
				sql = true
			}
		}
		if !sql {
			c.problems = append(c.problems, fmt.Sprintf("no SQL span under %s", create))
		}
	}
	// The relay delivers later, in the trace of the request whose
	// transaction wrote the event.
	deliver := c.one("progress outbox relay", "progress", "producer", `outbox`)
	c.childOf(deliver, create, "the outbox relay continues the recording request")
	publishClient := c.one("progress PublishBatch client", "progress", "client", `PublishBatch$`)
	publish := c.one("notification PublishBatch", "notification", "server", `PublishBatch$`)
	guardiansClient := c.one("notification ListGuardians client", "notification", "client", `ListGuardians$`)
	guardians := c.one("progress ListGuardians", "progress", "server", `ListGuardians$`)
	c.childOf(publishClient, deliver, "the relay calls PublishBatch")
	c.childOf(publish, publishClient, "notification serves progress's PublishBatch")
	c.childOf(guardiansClient, publish, "notification asks for the guardians while publishing")
	c.childOf(guardians, guardiansClient, "progress answers the guardian lookup")
	inbox := false
	for i := range tr.Spans {
		sp := &tr.Spans[i]
		if publish != nil && sp.service == "notification" && strings.Contains(sp.tag("db.query.text"), "INSERT INTO notifications") && tr.under(sp, publish) {
			inbox = true
		}
	}
	if !inbox && publish != nil {
		c.problems = append(c.problems, fmt.Sprintf("no inbox write (INSERT INTO notifications) under %s", publish))
	}
	c.oneUnder("notification live push", "notification", "", jaegerLivePush, publish)
	return c.problems
}

// jaegerCheckUpload: tus -> gateway -> media -> progress CheckAccess -> blob
// write -> thumbnail job (same trace) -> media outbox relay -> notification
// Publish -> live push.
func jaegerCheckUpload(tr *jaegerTrace, caller jaegerCaller) []string {
	c := &jaegerChecker{tr: tr}
	c.services("gateway", "media", "progress", "notification")
	for _, method := range []string{"POST", "PATCH"} {
		sp := c.one("gateway tus "+method, "gateway", "server", "^"+method)
		if sp != nil && sp.parent() != caller.spanID {
			c.problems = append(c.problems, fmt.Sprintf("%s has parent %s, want the caller's span %s", sp, sp.parent(), caller.spanID))
		}
	}
	// Every media server span serves a gateway client span.
	mediaServers := tr.find("media", "server", `MediaService/`)
	if len(mediaServers) == 0 {
		c.problems = append(c.problems, "no media server span")
	}
	for _, sp := range mediaServers {
		p := tr.byID[sp.parent()]
		if p == nil || p.service != "gateway" || p.kind() != "client" {
			c.problems = append(c.problems, fmt.Sprintf("%s's parent is %v, want a gateway gRPC client span", sp, p))
		}
	}
	// With the access cache off media asks progress on every call: each
	// answer serves a media client span, itself under a media server span.
	checks := tr.find("progress", "server", `CheckAccess$`)
	if len(checks) == 0 {
		c.problems = append(c.problems, "no progress CheckAccess server span")
	}
	for _, sp := range checks {
		p := tr.byID[sp.parent()]
		switch {
		case p == nil || p.service != "media" || p.kind() != "client" || !strings.HasSuffix(p.OperationName, "CheckAccess"):
			c.problems = append(c.problems, fmt.Sprintf("%s's parent is %v, want media's CheckAccess client span", sp, p))
		case !jaegerUnderAny(tr, p, mediaServers):
			c.problems = append(c.problems, fmt.Sprintf("%s is not under a media server span", p))
		}
	}
	c.oneUnderAny("media blob write", "media", "", `^blob\.Put$`, mediaServers)
	// The thumbnail job runs in the background, later, yet continues the
	// upload's trace: it hangs under the media call that enqueued it.
	job := c.oneUnderAny("media thumbnail job", "media", "", `(?i)\bjob\b`, mediaServers)
	c.oneUnder("thumbnail making", "media", "", `^thumb\.Make$`, job)
	c.oneUnder("thumbnail write", "media", "", `^blob\.Put$`, job)
	// The MEDIA_READY event is written in the job's transaction; the relay
	// delivers it later, in the job's trace.
	deliver := c.one("media outbox relay", "media", "producer", `outbox`)
	c.childOf(deliver, job, "the outbox relay continues the job")
	publishClient := c.one("media Publish client", "media", "client", `Publish$`)
	publish := c.one("notification Publish", "notification", "server", `Publish$`)
	c.childOf(publishClient, deliver, "the relay calls Publish")
	c.childOf(publish, publishClient, "notification serves media's Publish")
	guardiansClient := c.oneUnder("notification ListGuardians client", "notification", "client", `ListGuardians$`, publish)
	guardians := c.one("progress ListGuardians", "progress", "server", `ListGuardians$`)
	c.childOf(guardians, guardiansClient, "progress answers the guardian lookup")
	c.oneUnder("notification live push", "notification", "", jaegerLivePush, publish)
	return c.problems
}

func jaegerUnderAny(tr *jaegerTrace, sp *jaegerSpan, ancestors []*jaegerSpan) bool {
	for _, a := range ancestors {
		if tr.under(sp, a) {
			return true
		}
	}
	return false
}

var jaegerClient = &http.Client{Timeout: 10 * time.Second}

// jaegerGetTrace reads one trace; a trace Jaeger has not seen yet is an
// error that the caller's polling outlasts.
func jaegerGetTrace(j testenv.JaegerServer, traceID string) (*jaegerTrace, error) {
	resp, err := jaegerClient.Get(j.QueryURL + "/api/traces/" + traceID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces/%s: %d %.300s", traceID, resp.StatusCode, body)
	}
	var out struct {
		Data []jaegerTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET /api/traces/%s: %v", traceID, err)
	}
	if len(out.Data) != 1 {
		return nil, fmt.Errorf("GET /api/traces/%s: %d traces, want 1", traceID, len(out.Data))
	}
	tr := &out.Data[0]
	tr.index()
	return tr, nil
}

// jaegerDependencies reads the service graph as "parent->child" -> calls.
func jaegerDependencies(j testenv.JaegerServer, end time.Time, lookback time.Duration) (map[string]int, error) {
	u := fmt.Sprintf("%s/api/dependencies?endTs=%d&lookback=%d", j.QueryURL, end.UnixMilli(), lookback.Milliseconds())
	resp, err := jaegerClient.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %d %.300s", u, resp.StatusCode, body)
	}
	var out struct {
		Data []struct {
			Parent    string `json:"parent"`
			Child     string `json:"child"`
			CallCount int    `json:"callCount"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("GET %s: %v: %.300s", u, err, body)
	}
	links := map[string]int{}
	for _, d := range out.Data {
		links[d.Parent+"->"+d.Child] += d.CallCount
	}
	return links, nil
}
