package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/telemetry/telemetrytest"
)

// OTLP span kinds, as telemetrytest.Span.Kind has them.
const (
	kindInternal = 1
	kindServer   = 2
	kindClient   = 3
	kindProducer = 4
	kindConsumer = 5
)

// TestOneRESTCallIsOneTrace checks the span tree of a REST call as an OTLP
// receiver sees it: the gateway's HTTP server span, its gRPC client span,
// the progress server span and the SQL spans beneath it, and that a caller
// speaking Jaeger's uber-trace-id continues its own trace.
func TestOneRESTCallIsOneTrace(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t)
	child := s.family(t)

	// A Jaeger-instrumented caller: trace id, span id, parent (0), flags (sampled).
	const traceID, callerSpan = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
	r := s.call(t, "GET", "/v1/"+child, s.adminToken, "", "uber-trace-id", fmt.Sprintf("%s:%s:0:1", traceID, callerSpan))
	if r.status != 200 {
		t.Fatalf("GET: %d %s", r.status, r.body)
	}
	if got := r.header.Get("X-Trace-Id"); got != traceID {
		t.Errorf("X-Trace-Id = %q, want the caller's trace %s", got, traceID)
	}
	miss := s.call(t, "GET", "/v1/children/nobody", s.adminToken, "")
	if id := miss.header.Get("X-Trace-Id"); id == "" || !strings.Contains(string(miss.body), `"requestId":"`+id+`"`) {
		t.Errorf("an error body should name its trace %q: %s", id, miss.body)
	}

	var httpSpan, clientSpan, serverSpan *telemetrytest.Span
	var sqlSpans []telemetrytest.Span
	collector.WaitFor(t, 10*time.Second, func(spans []telemetrytest.Span) bool {
		httpSpan, clientSpan, serverSpan, sqlSpans = nil, nil, nil, nil
		for i := range spans {
			sp := &spans[i]
			if sp.TraceID != traceID {
				continue
			}
			switch {
			case sp.Service == "gateway" && sp.Kind == kindServer:
				httpSpan = sp
			case sp.Service == "gateway" && sp.Kind == kindClient && strings.Contains(sp.Name, "GetChild"):
				clientSpan = sp
			case sp.Service == "progress" && sp.Kind == kindServer && strings.Contains(sp.Name, "GetChild"):
				serverSpan = sp
			case sp.Service == "progress" && sp.Kind == kindClient && sp.Attributes["db.system.name"] != "":
				sqlSpans = append(sqlSpans, *sp)
			}
		}
		return httpSpan != nil && clientSpan != nil && serverSpan != nil && len(sqlSpans) >= 2
	})

	if httpSpan.ParentSpanID != callerSpan {
		t.Errorf("the gateway span's parent is %s, want the caller's %s", httpSpan.ParentSpanID, callerSpan)
	}
	if httpSpan.Name != "GET /v1/{name=children/*}" || httpSpan.Attributes["http.route"] != "/v1/{name=children/*}" {
		t.Errorf("gateway span is named %q with route %q; want the route template", httpSpan.Name, httpSpan.Attributes["http.route"])
	}
	if clientSpan.ParentSpanID != httpSpan.SpanID {
		t.Errorf("gRPC client span's parent %s is not the HTTP span %s", clientSpan.ParentSpanID, httpSpan.SpanID)
	}
	if serverSpan.ParentSpanID != clientSpan.SpanID {
		t.Errorf("progress server span's parent %s is not the client span %s", serverSpan.ParentSpanID, clientSpan.SpanID)
	}
	for _, sp := range sqlSpans {
		if sp.ParentSpanID != serverSpan.SpanID {
			t.Errorf("SQL span %q's parent %s is not the progress server span %s", sp.Name, sp.ParentSpanID, serverSpan.SpanID)
		}
		if !strings.Contains(sp.Attributes["db.query.text"], "children") {
			t.Errorf("SQL span %q lacks its query text: %v", sp.Name, sp.Attributes)
		}
	}
	for _, sp := range collector.Spans() {
		for k, v := range sp.Attributes {
			if strings.Contains(v, s.adminToken) {
				t.Errorf("span %q attribute %s carries the bearer token", sp.Name, k)
			}
		}
	}
}

// TestTracezWithoutJaeger checks the zero-setup view: with no exporter
// configured, recent spans and their latencies are on /debug/tracez of the
// metrics listener, and not on the gateway, whose port is public.
func TestTracezWithoutJaeger(t *testing.T) {
	s := startSuite(t)
	s.family(t)
	resp, err := http.Get(strings.TrimSuffix(s.metrics, "/metrics") + "/debug/tracez")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("tracez: %d %v", resp.StatusCode, err)
	}
	for _, want := range []string{"kinbridge.progress.v1.ProgressService/CreateChild", "POST /v1/children"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("tracez lacks %q", want)
		}
	}
	for _, path := range []string{"/debug/tracez", "/metrics"} {
		if r := s.call(t, "GET", path, s.adminToken, ""); r.status != http.StatusNotFound {
			t.Errorf("the gateway answers %s: %d", path, r.status)
		}
	}
}

// TestRecordingIsOneTraceAcrossTheOutbox follows "a teacher records a
// grade -> the parent's feed" as one trace: the REST call, progress and its
// SQL, the outbox relay's delivery (asynchronous, continuing the request's
// trace), notification's Publish, its question to progress about the
// guardians, the inbox write, and the live push to each of the parent's
// open feeds (the browser's SSE through the gateway's Watch, and a gRPC
// stream). Caches are off so every hop shows.
func TestRecordingIsOneTraceAcrossTheOutbox(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t, "--guardian-cache-ttl", "0", "--access-cache-ttl", "0")
	child := s.family(t)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	s.settled(t, maria, "teacher may now follow")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	sse, stream := s.sse(t, ctx, maria, ""), s.grpcFeed(t, ctx, maria)
	// A recording that reaches both feeds proves they are subscribed, so
	// the traced one after it is pushed live rather than replayed from the
	// inbox. A feed may still be subscribing when the first goes out (it
	// then starts after it), so warm-ups go on until both have seen one.
	sawSSE, sawGRPC := false, false
	for i := 1; !sawSSE || !sawGRPC; i++ {
		if i > 20 {
			t.Fatalf("the feeds never went live (SSE %v, gRPC %v)", sawSSE, sawGRPC)
		}
		s.record(t, child, teacher, fmt.Sprintf("Warm-up quiz %d", i))
		for wait := time.After(time.Second); !sawSSE || !sawGRPC; {
			select {
			case ev := <-sse:
				sawSSE = sawSSE || ev.event == "notification"
				continue
			case n := <-stream:
				sawGRPC = sawGRPC || n != nil
				continue
			case <-wait:
			}
			break
		}
	}
	nextSSE := func(title string) sseEvent {
		t.Helper()
		for {
			if ev := next(t, sse, "maria's SSE"); ev.event == "notification" && strings.Contains(ev.data, title) {
				return ev
			}
		}
	}
	nextGRPC := func(title string) {
		t.Helper()
		for {
			if n := next(t, stream, "maria's gRPC stream"); strings.Contains(n.GetTitle()+" "+n.GetBody(), title) {
				return
			}
		}
	}

	r := s.call(t, "POST", "/v1/"+child+"/assessments", teacher,
		`{"subject":"Math","title":"Traced quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`)
	if r.status != 200 {
		t.Fatalf("record: %d %s", r.status, r.body)
	}
	traceID := r.header.Get("X-Trace-Id")
	pushed := nextSSE("Traced quiz")
	nextGRPC("Traced quiz")
	pushes := func(spans []telemetrytest.Span) []*telemetrytest.Span {
		var out []*telemetrytest.Span
		for i := range spans {
			if sp := &spans[i]; sp.TraceID == traceID && sp.Name == "notification.live.push" {
				out = append(out, sp)
			}
		}
		return out
	}

	find := func(spans []telemetrytest.Span, service string, kind int32, name string) *telemetrytest.Span {
		for i := range spans {
			sp := &spans[i]
			if sp.TraceID == traceID && sp.Service == service && sp.Kind == kind && strings.Contains(sp.Name, name) {
				return sp
			}
		}
		return nil
	}
	var spans []telemetrytest.Span
	collector.WaitFor(t, 20*time.Second, func(all []telemetrytest.Span) bool {
		spans = all
		for _, want := range []struct {
			service string
			kind    int32
			name    string
		}{{"gateway", kindServer, "POST"}, {"progress", kindServer, "CreateAssessment"}, {"progress", kindProducer, "outbox"},
			{"progress", kindClient, "Publish"}, {"notification", kindServer, "Publish"},
			{"notification", kindClient, "ListGuardians"}, {"progress", kindServer, "ListGuardians"}} {
			if find(all, want.service, want.kind, want.name) == nil {
				return false
			}
		}
		return len(pushes(all)) >= 2
	})
	httpSpan := find(spans, "gateway", kindServer, "POST")
	create := find(spans, "progress", kindServer, "CreateAssessment")
	deliver := find(spans, "progress", kindProducer, "outbox")
	publishClient := find(spans, "progress", kindClient, "Publish")
	publish := find(spans, "notification", kindServer, "Publish")
	guardiansClient := find(spans, "notification", kindClient, "ListGuardians")
	guardians := find(spans, "progress", kindServer, "ListGuardians")
	for name, sp := range map[string]*telemetrytest.Span{"gateway HTTP": httpSpan, "progress CreateAssessment": create,
		"outbox delivery": deliver, "Publish client": publishClient, "notification Publish": publish,
		"ListGuardians client": guardiansClient, "progress ListGuardians": guardians} {
		if sp == nil {
			t.Fatalf("no %s span in trace %s", name, traceID)
		}
	}
	parent := func(child, parent *telemetrytest.Span, what string) {
		t.Helper()
		if child.ParentSpanID != parent.SpanID {
			t.Errorf("%s: parent %s, want %s (%s)", what, child.ParentSpanID, parent.SpanID, parent.Name)
		}
	}
	parent(publishClient, deliver, "the Publish call runs inside the outbox delivery")
	parent(publish, publishClient, "notification's Publish continues progress's call")
	parent(guardiansClient, publish, "the guardian lookup is made while publishing")
	parent(guardians, guardiansClient, "progress answers the guardian lookup")
	// The delivery is asynchronous, yet it stays in the request's trace.
	if deliver.TraceID != create.TraceID {
		t.Errorf("the outbox delivery left the request's trace")
	}
	inbox := false
	for _, sp := range spans {
		if sp.TraceID == traceID && sp.Service == "notification" && strings.Contains(sp.Attributes["db.query.text"], "INSERT INTO notifications") {
			inbox = true
		}
	}
	if !inbox {
		t.Error("no inbox write in the trace")
	}

	// One push per open feed, each a child of the Publish that stored the
	// notification, linked to the long-lived stream it went out on (whose
	// span is in a trace of its own).
	live := pushes(spans)
	if len(live) != 2 {
		t.Fatalf("%d live push spans in the trace, want one per feed (2)", len(live))
	}
	streams := map[string]bool{}
	for _, sp := range live {
		if sp.Service != "notification" || sp.Kind != kindProducer {
			t.Errorf("live push span of %s, kind %d; want notification's, producer", sp.Service, sp.Kind)
		}
		parent(sp, publish, "the live push follows the Publish that stored the notification")
		if got := sp.Attributes["kinbridge.notification.sequence"]; got != pushed.id {
			t.Errorf("live push of sequence %s, but the SSE event's id is %s", got, pushed.id)
		}
		if len(sp.Links) != 1 || sp.Links[0].TraceID == traceID {
			t.Errorf("a live push should link to its stream's span, in another trace: %+v", sp.Links)
		} else {
			streams[sp.Links[0].SpanID] = true
		}
	}
	if len(streams) != 2 {
		t.Errorf("the two pushes link to %d streams, want 2 (the gateway's Watch and the gRPC stream)", len(streams))
	}
	noSecrets(t, collector.Spans(), s.adminToken, teacher, maria)
}

// noSecrets fails the test if any span attribute carries one of tokens.
func noSecrets(t *testing.T, spans []telemetrytest.Span, tokens ...string) {
	t.Helper()
	for _, sp := range spans {
		for k, v := range sp.Attributes {
			for _, tok := range tokens {
				if strings.Contains(v, tok) {
					t.Errorf("span %s/%q attribute %s carries a bearer token", sp.Service, sp.Name, k)
				}
			}
		}
	}
}

// TestTusUploadIsOneTrace follows "a teacher uploads a photo -> it is
// ready -> the parents hear of it" as one trace: the gateway's tus
// requests, media and its access checks at progress, the blob write, then
// (asynchronously, from the durable job queue) the thumbnail job, and the
// MEDIA_READY event's delivery to notification. The access and guardian
// caches are off so that every hop shows.
//
// A tus upload is several HTTP requests. The client here sends the same
// traceparent on each, as an instrumented client doing one "upload" would,
// so all of them share its trace id, each request's server span a child of
// the client's span. The request that finishes the upload (the last PATCH,
// whose FinishUploadSession turns the session into an item and enqueues
// its job) is the one the job continues: the job span is a child of
// media's FinishUploadSession server span.
func TestTusUploadIsOneTrace(t *testing.T) {
	collector := telemetrytest.NewCollector(t)
	collector.Env(t)
	s := startSuite(t, "--access-cache-ttl", "0", "--guardian-cache-ttl", "0")
	child := s.family(t)
	teacher := s.userToken(t, "teacher", false)
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	const traceID, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	traceparent := "00-" + traceID + "-" + clientSpan + "-01"

	created := s.tusRequest(t, "POST", "/v1/uploads/", teacher, nil, "traceparent", traceparent,
		"Upload-Length", strconv.Itoa(len(photo)), "Upload-Metadata", tusMetadata("child", child, "filename", "sports-day.jpg", "title", "Sports day"))
	loc := created.Header.Get("Location")
	if created.StatusCode != 201 || loc == "" {
		t.Fatalf("create: %d %v", created.StatusCode, created.Header)
	}
	half := len(photo) / 2
	for _, part := range []struct{ from, to int }{{0, half}, {half, len(photo)}} {
		r := s.tusRequest(t, "PATCH", loc, teacher, photo[part.from:part.to], "traceparent", traceparent,
			"Upload-Offset", strconv.Itoa(part.from), "Content-Type", "application/offset+octet-stream")
		if r.StatusCode != 204 {
			t.Fatalf("PATCH at %d: %d %v", part.from, r.StatusCode, r.Header)
		}
		if got := r.Header.Get("X-Trace-Id"); got != traceID {
			t.Errorf("PATCH at %d answered in trace %q, want the client's %s", part.from, got, traceID)
		}
		created = r
	}
	item := created.Header.Get("Kinbridge-Media-Item")
	if !strings.Contains(item, "/media/") {
		t.Fatalf("the last PATCH names no item: %v", created.Header)
	}

	// What the trace must hold, found by service, kind and name; parent
	// links are checked below.
	type want struct {
		service string
		kind    int32
		name    string
	}
	var (
		mediaFinish, job                            = want{"media", kindServer, "FinishUploadSession"}, want{"media", kindConsumer, "media.job thumbnail"}
		gwFinish, gwCreate                          = want{"gateway", kindClient, "FinishUploadSession"}, want{"gateway", kindClient, "CreateUploadSession"}
		mediaCreate                                 = want{"media", kindServer, "CreateUploadSession"}
		blobPut, thumbnails                         = want{"media", kindInternal, "blob.Put"}, want{"media", kindInternal, "thumb.Make"}
		blobAdopt                                   = want{"media", kindInternal, "blob.Adopt"} // a local store's write of a finished upload
		deliver, publishClient, publish, notifyList = want{"media", kindProducer, "outbox.deliver"}, want{"media", kindClient, "Publish"},
			want{"notification", kindServer, "Publish"}, want{"notification", kindClient, "ListGuardians"}
	)
	all := []want{mediaFinish, job, gwFinish, gwCreate, mediaCreate, blobPut, thumbnails, deliver, publishClient, publish, notifyList}
	inTrace := func(spans []telemetrytest.Span, w want) []*telemetrytest.Span {
		var out []*telemetrytest.Span
		for i := range spans {
			sp := &spans[i]
			if sp.TraceID == traceID && sp.Service == w.service && sp.Kind == w.kind && strings.Contains(sp.Name, w.name) {
				out = append(out, sp)
			}
		}
		return out
	}
	var spans []telemetrytest.Span
	collector.WaitFor(t, 30*time.Second, func(got []telemetrytest.Span) bool {
		spans = got
		for _, w := range all {
			if len(inTrace(got, w)) == 0 {
				return false
			}
		}
		return true
	})
	one := func(w want) *telemetrytest.Span {
		t.Helper()
		found := inTrace(spans, w)
		if len(found) != 1 {
			t.Fatalf("%d %s spans %q of kind %d in the trace, want 1", len(found), w.service, w.name, w.kind)
		}
		return found[0]
	}
	byID := map[string]*telemetrytest.Span{}
	for i := range spans {
		if spans[i].TraceID == traceID {
			byID[spans[i].SpanID] = &spans[i]
		}
	}
	defer func() {
		if t.Failed() {
			t.Logf("the trace under the client's span:")
			logTree(t, byID, clientSpan)
		}
	}()
	parentOf := func(sp *telemetrytest.Span) *telemetrytest.Span {
		t.Helper()
		p := byID[sp.ParentSpanID]
		if p == nil {
			t.Fatalf("%s span %q: parent %s is not in the trace", sp.Service, sp.Name, sp.ParentSpanID)
		}
		return p
	}
	parent := func(child, parent *telemetrytest.Span, what string) {
		t.Helper()
		if child.ParentSpanID != parent.SpanID {
			t.Errorf("%s: %s span %q has parent %s, want %s span %q (%s)", what, child.Service, child.Name,
				child.ParentSpanID, parent.Service, parent.Name, parent.SpanID)
		}
	}
	// checkAccess returns progress's CheckAccess server span answering a
	// call made directly under the media server span.
	checkAccess := func(server *telemetrytest.Span) {
		t.Helper()
		for _, cl := range inTrace(spans, want{"media", kindClient, "CheckAccess"}) {
			if cl.ParentSpanID != server.SpanID {
				continue
			}
			for _, sv := range inTrace(spans, want{"progress", kindServer, "CheckAccess"}) {
				if sv.ParentSpanID == cl.SpanID {
					return
				}
			}
		}
		t.Errorf("no progress CheckAccess server span under media's %q (through its client span)", server.Name)
	}

	// The request that began the upload: the client's span -> the gateway's
	// POST -> CreateUploadSession -> media -> progress's access check.
	create := one(gwCreate)
	post := parentOf(create)
	if post.Service != "gateway" || post.Kind != kindServer || post.Name != "POST /v1/uploads/" || post.Attributes["http.route"] != "/v1/uploads/" || post.ParentSpanID != clientSpan {
		t.Errorf("CreateUploadSession was called from %s span %q (kind %d, method %s, parent %s); want the gateway's POST, child of the client's span",
			post.Service, post.Name, post.Kind, post.Attributes["http.request.method"], post.ParentSpanID)
	}
	parent(one(mediaCreate), create, "media serves the gateway's CreateUploadSession")
	checkAccess(one(mediaCreate))

	// The request that finished it: the last PATCH.
	finishClient := one(gwFinish)
	patch := parentOf(finishClient)
	if patch.Service != "gateway" || patch.Kind != kindServer || patch.Name != "PATCH /v1/uploads/{upload}" || patch.Attributes["http.route"] != "/v1/uploads/{upload}" || patch.ParentSpanID != clientSpan {
		t.Errorf("FinishUploadSession was called from %s span %q (kind %d, method %s, parent %s); want the gateway's PATCH, child of the client's span",
			patch.Service, patch.Name, patch.Kind, patch.Attributes["http.request.method"], patch.ParentSpanID)
	}
	finish := one(mediaFinish)
	parent(finish, finishClient, "media serves the gateway's FinishUploadSession")
	checkAccess(finish)
	// Blob writes: the upload's rebuilt file while finishing (adopted by
	// the local store), and the thumbnails' inside the job.
	putsUnder := func(sp *telemetrytest.Span) int {
		n := 0
		for _, put := range append(inTrace(spans, blobPut), inTrace(spans, blobAdopt)...) {
			if put.ParentSpanID == sp.SpanID {
				n++
			}
		}
		return n
	}
	if n := putsUnder(finish); n != 1 {
		t.Errorf("%d blob writes under FinishUploadSession, want 1", n)
	}

	// The asynchronous part, in the same trace.
	jobSpan := one(job)
	parent(jobSpan, finish, "the thumbnail job continues the request that enqueued it")
	if len(jobSpan.Links) != 0 {
		t.Errorf("the job span links to %+v; its parent is the only reference it needs", jobSpan.Links)
	}
	if jobSpan.Attributes["media.item"] != item || jobSpan.Attributes["media.job.attempt"] != "1" {
		t.Errorf("job span attributes %v; want item %s, attempt 1", jobSpan.Attributes, item)
	}
	parent(one(thumbnails), jobSpan, "thumbnails are made inside the job")
	if putsUnder(jobSpan) == 0 {
		t.Error("no thumbnail blob write under the job span")
	}
	// under reports whether sp descends from ancestor.
	under := func(sp, ancestor *telemetrytest.Span) bool {
		for p := byID[sp.ParentSpanID]; p != nil; p = byID[p.ParentSpanID] {
			if p == ancestor {
				return true
			}
		}
		return false
	}
	ready := false
	for _, sp := range byID {
		if sp.Service == "media" && strings.Contains(sp.Attributes["db.query.text"], "INSERT INTO outbox_messages") {
			ready = ready || under(sp, jobSpan)
		}
	}
	if !ready {
		t.Error("the MEDIA_READY outbox write is not under the job span")
	}
	parent(one(deliver), jobSpan, "the outbox relay delivers MEDIA_READY in the job's trace")
	parent(one(publishClient), one(deliver), "the Publish call runs inside the delivery")
	parent(one(publish), one(publishClient), "notification's Publish continues media's call")
	parent(one(notifyList), one(publish), "notification asks progress for the guardians while publishing")

	// One trace: the job ran once, and only in it.
	for _, sp := range spans {
		if sp.Name == "media.job thumbnail" && sp.TraceID != traceID {
			t.Errorf("a thumbnail job span in another trace, %s", sp.TraceID)
		}
	}
	for _, sp := range byID {
		switch sp.Service {
		case "gateway", "media", "progress", "notification":
		default:
			t.Errorf("span %q in the trace has service.name %q", sp.Name, sp.Service)
		}
	}
	noSecrets(t, collector.Spans(), s.adminToken, teacher)
}

// logTree logs the spans of one trace as an indented tree under root (a
// span id), for the failure message of a test that checks the tree.
func logTree(t *testing.T, spans map[string]*telemetrytest.Span, root string) {
	t.Helper()
	var walk func(id string, depth int)
	walk = func(id string, depth int) {
		for _, sp := range spans {
			if sp.ParentSpanID == id {
				t.Logf("%s%s %q kind=%d links=%v", strings.Repeat("  ", depth), sp.Service, sp.Name, sp.Kind, sp.Links)
				walk(sp.SpanID, depth+1)
			}
		}
	}
	walk(root, 0)
}
