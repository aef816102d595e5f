//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// The public surfaces journey: two families use a built `kinbridge serve
// all` the way people do (children, guardians, assessments, milestones,
// summaries, photos and a video that fails processing, notifications, the
// live feed, and every kind of mistake), and then a split deployment loses
// its progress and notification services. Every answer a caller receives is
// recorded, REST (status, headers and body on the gateway's port) and gRPC
// (messages, error messages and details), and then searched for what no
// caller may learn: the server's files (the data directory, any absolute
// path), addresses inside the suite (any host:port but the gateway's own,
// DSNs, dial errors), and the other family's child, records, media and
// people. Saying back what the caller sent (a 404 quoting the name asked
// for) tells nothing and is allowed.

// publicAnswer is one answer a caller received.
type publicAnswer struct {
	caller  string // whose token; "" for none
	request string // what was sent
	answer  string // all that came back
	gateway string // host:port of the gateway it came through, the one address it may name
}

// surfaceLog records every answer of a journey.
type surfaceLog struct {
	mu      sync.Mutex
	answers []publicAnswer
	client  *http.Client
}

func newSurfaceLog() *surfaceLog {
	return &surfaceLog{client: &http.Client{Timeout: 30 * time.Second}}
}

func (l *surfaceLog) add(a publicAnswer) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.answers = append(l.answers, a)
}

// rest sends one request to the gateway gw (host:port) and records it; a
// caller of "" sends no token.
func (l *surfaceLog) rest(t *testing.T, gw, caller, token, method, path string, body []byte, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+gw+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := l.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	l.add(publicAnswer{caller: caller, gateway: gw,
		request: method + " " + path + "\n" + strings.Join(headers, "\n") + "\n" + string(body),
		answer:  fmt.Sprintf("HTTP %d\n%s\n%s", resp.StatusCode, headerText(resp.Header), got)})
	return resp.StatusCode, resp.Header, got
}

// restJSON is rest for a JSON body, decoding a JSON answer into out (when
// not nil) and requiring status want.
func (l *surfaceLog) restJSON(t *testing.T, gw, caller, token, method, path, body string, want int, out any) {
	t.Helper()
	code, _, got := l.rest(t, gw, caller, token, method, path, []byte(body))
	if code != want {
		t.Fatalf("%s %s as %q: %d %s, want %d", method, path, caller, code, got, want)
	}
	if out != nil {
		if err := json.Unmarshal(got, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, got)
		}
	}
}

func headerText(h http.Header) string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(h[k], ", "))
	}
	return b.String()
}

// grpc records the answer of one gRPC call: the response, or the error's
// code, message and every detail.
func (l *surfaceLog) grpc(caller, request string, resp proto.Message, err error) {
	var b strings.Builder
	if err != nil {
		st := status.Convert(err)
		fmt.Fprintf(&b, "%s: %s\n", st.Code(), st.Message())
		for _, d := range st.Proto().GetDetails() {
			j, _ := protojson.Marshal(d)
			b.Write(j)
			b.WriteByte('\n')
		}
	} else if resp != nil {
		j, _ := protojson.Marshal(resp)
		b.Write(j)
	}
	l.add(publicAnswer{caller: caller, request: request, answer: b.String()})
}

// sse opens caller's live feed, runs act, and records everything the feed
// said until a line containing marker arrived.
func (l *surfaceLog) sse(t *testing.T, gw, caller, token, marker string, act func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+gw+"/v1/notifications/events", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("SSE: %d %s", resp.StatusCode, b)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
	}()
	// The first line ("retry: ...") says the feed is open.
	var seen []string
	select {
	case line := <-lines:
		seen = append(seen, line)
	case <-time.After(10 * time.Second):
		t.Fatal("SSE said nothing")
	}
	act()
	deadline := time.After(20 * time.Second)
	for !strings.Contains(strings.Join(seen, "\n"), marker) {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("SSE ended before %q: %s", marker, strings.Join(seen, "\n"))
			}
			seen = append(seen, line)
		case <-deadline:
			t.Fatalf("SSE never said %q: %s", marker, strings.Join(seen, "\n"))
		}
	}
	l.add(publicAnswer{caller: caller, gateway: gw, request: "GET /v1/notifications/events",
		answer: fmt.Sprintf("HTTP %d\n%s\n%s", resp.StatusCode, headerText(resp.Header), strings.Join(seen, "\n"))})
}

// familyOf is what one family's callers are: the child, its records and
// media, and the people on it.
type familyOf struct {
	child, name            string // the child's resource name and display name
	guardian, contributor  string // user ids
	records, media, people []string
}

// secrets is what someone outside the family may not learn: ids (bare,
// as they also appear inside other names) and names.
func (f familyOf) secrets() []string {
	var out []string
	for _, name := range append(append([]string{f.child}, f.records...), f.media...) {
		out = append(out, name[strings.LastIndex(name, "/")+1:])
	}
	return append(append(out, f.name), f.people...)
}

func TestPublicSurfacesTellNothingPrivate(t *testing.T) {
	log := newSurfaceLog()
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil)
	gw := p.gateway
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	token := func(user string) string {
		tok, err := auth.NewUserIssuer(key).Issue(user, false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := p.adminToken

	// Two families, with names that occur nowhere else.
	a := familyOf{name: "Adaqx", guardian: "mariaqx", contributor: "teacherqx"}
	b := familyOf{name: "Borislavzv", guardian: "olgazv", contributor: "coachzv"}
	for _, f := range []*familyOf{&a, &b} {
		var child struct{ Name string }
		log.restJSON(t, gw, "admin", admin, "POST", "/v1/children", fmt.Sprintf(`{"displayName":%q,"birthDate":"2017-05-02","timeZone":"Europe/Lisbon"}`, f.name), 200, &child)
		f.child = child.Name
		log.restJSON(t, gw, "admin", admin, "POST", "/v1/"+f.child+"/guardians", fmt.Sprintf(`{"user":%q,"role":"ROLE_GUARDIAN","relation":"mother"}`, f.guardian), 200, nil)
		log.restJSON(t, gw, "admin", admin, "POST", "/v1/"+f.child+"/guardians", fmt.Sprintf(`{"user":%q,"role":"ROLE_CONTRIBUTOR"}`, f.contributor), 200, nil)
		f.people = []string{f.guardian, f.contributor}
	}
	log.restJSON(t, gw, "admin", admin, "GET", "/v1/children", "", 200, nil)

	// Each family records and reads its progress.
	for _, f := range []*familyOf{&a, &b} {
		guardian, contributor := token(f.guardian), token(f.contributor)
		var rec struct{ Name string }
		log.restJSON(t, gw, f.contributor, contributor, "POST", "/v1/"+f.child+"/assessments?requestId=quiz-1",
			`{"subject":"Math","title":"Fractions quiz","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":18,"possible":20}},"teacherComment":"Careful work"}`, 200, &rec)
		f.records = append(f.records, rec.Name)
		log.restJSON(t, gw, f.contributor, contributor, "POST", "/v1/"+f.child+"/assessments",
			`{"subject":"Math","title":"Homework 3","kind":"ASSESSMENT_KIND_HOMEWORK","assessedDate":"2026-03-15","score":{"letterGrade":"B+"}}`, 200, &rec)
		f.records = append(f.records, rec.Name)
		log.restJSON(t, gw, f.contributor, contributor, "POST", "/v1/"+f.child+"/milestones",
			`{"title":"Read a chapter book alone","category":"MILESTONE_CATEGORY_ACADEMIC","achievedDate":"2026-03-20"}`, 200, &rec)
		f.records = append(f.records, rec.Name)
		for _, path := range []string{"", "/guardians", "/assessments?subject=Math&pageSize=1", "/milestones",
			"/progressSummary?startDate=2026-03-01&endDate=2026-03-31", "/gradingScale", "/media"} {
			log.restJSON(t, gw, f.guardian, guardian, "GET", "/v1/"+f.child+path, "", 200, nil)
		}
		log.restJSON(t, gw, f.guardian, guardian, "GET", "/v1/"+f.records[0], "", 200, nil)
		log.restJSON(t, gw, f.guardian, guardian, "GET", "/v1/children", "", 200, nil)

		// A photo in one request, and one over tus.
		photo, err := os.ReadFile(repoRoot + "/services/media/ingest/testdata/gps.jpg")
		if err != nil {
			t.Fatal(err)
		}
		code, _, body := log.rest(t, gw, f.contributor, contributor, "POST", "/v1/"+f.child+"/media:upload?title=Self-portrait&kind=artwork&filename=me.jpg", photo)
		var item struct{ Name string }
		if err := json.Unmarshal(body, &item); code != 200 || err != nil {
			t.Fatalf("upload: %d %s", code, body)
		}
		f.media = append(f.media, item.Name)
		f.media = append(f.media, tusPhoto(t, log, gw, f.contributor, contributor, f.child, photo))
	}

	// A video that ffmpeg cannot decode fails processing, and says so in
	// words for people. (Its three attempts take half a minute.)
	teacher, maria := token(a.contributor), token(a.guardian)
	var movie bytes.Buffer
	if err := mediacheck.WriteMovie(&movie, 64<<10, [32]byte{'s', 'u', 'r', 'f'}); err != nil {
		t.Fatal(err)
	}
	code, _, body := log.rest(t, gw, a.contributor, teacher, "POST", "/v1/"+a.child+"/media:upload?title=Sports+day&kind=video", movie.Bytes())
	var failing struct{ Name string }
	if err := json.Unmarshal(body, &failing); code != 200 || err != nil {
		t.Fatalf("video upload: %d %s", code, body)
	}
	a.media = append(a.media, failing.Name)
	var reason string
	for _, item := range a.media {
		state, why := waitProcessed(t, log, gw, a.guardian, maria, item, 2*time.Minute)
		if item == failing.Name {
			if state != "MEDIA_STATE_FAILED" {
				t.Fatalf("the undecodable video is %s", state)
			}
			reason = why
		}
	}
	if reason == "" || strings.Contains(reason, "ffmpeg") || strings.Contains(reason, "exit status") {
		t.Errorf("failure_reason %q", reason)
	}
	for _, path := range []string{":content", ":content?thumbnail=small"} {
		code, _, _ := log.rest(t, gw, a.guardian, maria, "GET", "/v1/"+a.media[0]+path, nil, "Range", "bytes=0-99")
		if code != 206 && code != 200 {
			t.Errorf("GET %s%s: %d", a.media[0], path, code)
		}
	}
	log.rest(t, gw, a.guardian, maria, "GET", "/v1/"+failing.Name+":content?thumbnail=small", nil)
	log.restJSON(t, gw, a.guardian, maria, "GET", "/v1/"+a.child+"/media", "", 200, nil)

	// Notifications: the inbox, subscriptions, and the live feed.
	log.sse(t, gw, a.guardian, maria, "Spelling bee", func() {
		log.restJSON(t, gw, a.contributor, teacher, "POST", "/v1/"+a.child+"/assessments",
			`{"subject":"English","title":"Spelling bee","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-21","score":{"points":{"earned":9,"possible":10}}}`, 200, nil)
	})
	for _, path := range []string{"/v1/users/me/notifications", "/v1/users/me/notifications:countUnread", "/v1/users/me/subscriptions"} {
		log.restJSON(t, gw, a.guardian, maria, "GET", path, "", 200, nil)
	}
	log.restJSON(t, gw, a.guardian, maria, "POST", "/v1/users/me/notifications:markRead", `{"upToSequence":"1"}`, 200, nil)
	log.restJSON(t, gw, a.guardian, maria, "POST", "/v1/users/me/subscriptions", `{"child":"`+a.child+`","muted":false}`, 200, nil)

	// Mistakes of every kind, over REST.
	olga := token(b.guardian)
	for _, c := range []struct {
		caller, token, method, path, body string
		want                              int
	}{
		{a.guardian, maria, "GET", "/v1/" + b.child, "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.records[0], "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.child + "/guardians", "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.child + "/progressSummary", "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.media[0], "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.media[0] + ":content", "", 404},
		{a.guardian, maria, "GET", "/v1/" + b.child + "/media", "", 404},
		{a.guardian, maria, "POST", "/v1/users/me/subscriptions", `{"child":"` + b.child + `"}`, 404},
		{a.guardian, maria, "POST", "/v1/users/me/subscriptions", `{"child":"children/doesnotexist"}`, 404},
		{a.guardian, maria, "GET", "/v1/users/" + b.guardian + "/notifications", "", 404},
		{a.guardian, maria, "POST", "/v1/" + a.child + "/milestones", `{"title":"Tied shoes","achievedDate":"2026-03-21"}`, 403},
		{a.guardian, maria, "PATCH", "/v1/" + a.child, `{"school":"Elsewhere"}`, 403},
		{a.contributor, teacher, "POST", "/v1/" + b.child + "/assessments", `{"subject":"Math","title":"X","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`, 404},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/assessments", `{"subject":"Math","title":"X","kind":"ASSESSMENT_KIND_TEST","assessedDate":"1899-12-31"}`, 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/assessments", `{"subject":"Math","title":"X","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":1e308,"possible":1e-300}}}`, 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/assessments", `{"subject":"Math","title":"X","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":"NaN","possible":1}}}`, 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/assessments", `{"subject":"Math",`, 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/assessments", `{"shoeSize":3}`, 400},
		{a.contributor, teacher, "GET", "/v1/" + a.child + "/assessments?startDate=0000-01-01", "", 400},
		{a.contributor, teacher, "GET", "/v1/" + a.child + "/assessments?pageToken=bm9wZQ", "", 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/media:upload?kind=sculpture", "x", 400},
		{a.contributor, teacher, "POST", "/v1/" + a.child + "/media:upload", "not a picture at all", 415},
		{a.contributor, teacher, "GET", "/v1/" + a.child + "/media/nosuchitem", "", 404},
		{a.contributor, teacher, "DELETE", "/v1/" + a.child + "/nonsense", "", 404},
		{a.contributor, teacher, "GET", "/nowhere", "", 404},
		{a.contributor, teacher, "GET", "/metrics", "", 404},
		{a.contributor, teacher, "GET", "/debug/tracez", "", 404},
		{"", "", "GET", "/metrics", "", 404},
		{"", "", "GET", "/debug/tracez", "", 404},
		{"", "", "GET", "/v1/" + a.child, "", 401},
		{"", "not-a-token", "GET", "/v1/" + a.child, "", 401},
		{"", "", "GET", "/v1/notifications/events", "", 401},
		{"", "", "GET", "/healthz", "", 200},
		{"", "", "GET", "/readyz", "", 200},
		{"", "", "GET", "/openapi.json", "", 200},
		{"", "", "GET", "/docs", "", 200},
		{b.guardian, olga, "GET", "/v1/" + a.child, "", 404},
		{b.guardian, olga, "GET", "/v1/" + a.media[0] + ":content?thumbnail=small", "", 404},
	} {
		if code, _, got := log.rest(t, gw, c.caller, c.token, c.method, c.path, []byte(c.body)); code != c.want {
			t.Errorf("%s %s as %q: %d %s, want %d", c.method, c.path, c.caller, code, got, c.want)
		}
	}

	// The same over gRPC, straight to the services.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	progress := progressv1.NewProgressServiceClient(dialGRPC(t, p.progress))
	media := mediav1.NewMediaServiceClient(dialGRPC(t, p.media))
	notification := notificationv1.NewNotificationServiceClient(dialGRPC(t, p.notification))
	call := func(caller, request string, resp proto.Message, err error) { log.grpc(caller, request, resp, err) }
	{
		r, err := progress.GetChild(as(ctx, maria), &progressv1.GetChildRequest{Name: a.child})
		call(a.guardian, a.child, r, err)
		r, err = progress.GetChild(as(ctx, maria), &progressv1.GetChildRequest{Name: b.child})
		call(a.guardian, b.child, r, err)
		r, err = progress.GetChild(ctx, &progressv1.GetChildRequest{Name: a.child})
		call("", a.child, r, err)
		s, err := progress.GetProgressSummary(as(ctx, maria), &progressv1.GetProgressSummaryRequest{Name: b.child + "/progressSummary"})
		call(a.guardian, b.child, s, err)
		s, err = progress.GetProgressSummary(as(ctx, maria), &progressv1.GetProgressSummaryRequest{Name: a.child + "/progressSummary", StartDate: "2200-01-01"})
		call(a.guardian, a.child+" 2200-01-01", s, err)
		as1, err := progress.CreateAssessment(as(ctx, teacher), &progressv1.CreateAssessmentRequest{Parent: a.child, Assessment: &progressv1.Assessment{
			Subject: "Math", Title: "X", Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_TEST, AssessedDate: "2026-03-01",
			Score: &progressv1.Score{Value: &progressv1.Score_Points{Points: &progressv1.Points{Earned: 1e308, Possible: 1e-300}}}}})
		call(a.contributor, a.child, as1, err)
		g, err := progress.ListGuardianships(as(ctx, maria), &progressv1.ListGuardianshipsRequest{Parent: a.child})
		call(a.guardian, a.child, g, err)
		up, err := progress.UpdateChild(as(ctx, admin), &progressv1.UpdateChildRequest{Child: &progressv1.Child{Name: a.child, BirthDate: "0000-01-01"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"birth_date"}}})
		call("admin", a.child+" 0000-01-01", up, err)

		m, err := media.GetMediaItem(as(ctx, maria), &mediav1.GetMediaItemRequest{Name: failing.Name})
		call(a.guardian, failing.Name, m, err)
		m, err = media.GetMediaItem(as(ctx, maria), &mediav1.GetMediaItemRequest{Name: b.media[0]})
		call(a.guardian, b.media[0], m, err)
		ml, err := media.ListMediaItems(as(ctx, maria), &mediav1.ListMediaItemsRequest{Parent: a.child})
		call(a.guardian, a.child, ml, err)
		ml, err = media.ListMediaItems(as(ctx, maria), &mediav1.ListMediaItemsRequest{Parent: b.child})
		call(a.guardian, b.child, ml, err)
		rd, err := media.ReadMediaContent(as(ctx, maria), &mediav1.ReadMediaContentRequest{Name: b.media[0]})
		if err == nil {
			_, err = rd.Recv()
		}
		call(a.guardian, b.media[0], nil, err)

		sub, err := notification.CreateSubscription(as(ctx, maria), &notificationv1.CreateSubscriptionRequest{Parent: "users/me",
			Subscription: &notificationv1.Subscription{Child: b.child}})
		call(a.guardian, b.child, sub, err)
		inbox, err := notification.ListNotifications(as(ctx, maria), &notificationv1.ListNotificationsRequest{Parent: "users/me"})
		call(a.guardian, "users/me", inbox, err)
		inbox, err = notification.ListNotifications(as(ctx, maria), &notificationv1.ListNotificationsRequest{Parent: "users/" + b.guardian})
		call(a.guardian, "users/"+b.guardian, inbox, err)
	}

	// Nothing private anywhere, in this deployment's answers.
	private := map[string][]string{
		a.guardian: b.secrets(), a.contributor: b.secrets(),
		b.guardian: a.secrets(), b.contributor: a.secrets(),
		"": append(a.secrets(), b.secrets()...),
	}
	checkAnswers(t, log.answers, private, []string{dataDir, repoRoot, bin}, gw)

	// An outage: a split deployment loses progress, then notification.
	outage := newSurfaceLog()
	splitOutage(t, outage)
}

// tusPhoto uploads data over tus 1.0 (create, one PATCH, HEAD) and
// returns the item it became.
func tusPhoto(t *testing.T, log *surfaceLog, gw, caller, token, child string, data []byte) string {
	t.Helper()
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	code, h, body := log.rest(t, gw, caller, token, "POST", "/v1/uploads/", nil, "Tus-Resumable", "1.0.0",
		"Upload-Length", strconv.Itoa(len(data)), "Upload-Metadata", "child "+b64(child)+",filename "+b64("tus.jpg")+",title "+b64("Over tus"))
	loc := h.Get("Location")
	if code != http.StatusCreated || loc == "" {
		t.Fatalf("tus create: %d %v %s", code, h, body)
	}
	loc = strings.TrimPrefix(loc, "http://"+gw)
	code, h, body = log.rest(t, gw, caller, token, "PATCH", loc, data, "Tus-Resumable", "1.0.0",
		"Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	item := h.Get("Kinbridge-Media-Item")
	if code != http.StatusNoContent || item == "" {
		t.Fatalf("tus PATCH: %d %v %s", code, h, body)
	}
	log.rest(t, gw, caller, token, "HEAD", loc, nil, "Tus-Resumable", "1.0.0")
	return item
}

// waitProcessed polls an item until it is READY or FAILED, recording every
// answer, and returns its state and failure reason.
func waitProcessed(t *testing.T, log *surfaceLog, gw, caller, token, item string, wait time.Duration) (string, string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		var it struct{ State, FailureReason string }
		log.restJSON(t, gw, caller, token, "GET", "/v1/"+item, "", 200, &it)
		if it.State == "MEDIA_STATE_READY" || it.State == "MEDIA_STATE_FAILED" {
			return it.State, it.FailureReason
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still %s after %v", item, it.State, wait)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// splitOutage runs progress, media, notification and the gateway as
// processes of their own, stops progress, then notification, and records
// what callers hear meanwhile, over REST and gRPC.
func splitOutage(t *testing.T, log *surfaceLog) {
	dataDir := t.TempDir()
	progressAddr, mediaAddr, notificationAddr := freePort(t), freePort(t), freePort(t)
	progress := start(t, "progress", dataDir, nil, "--progress-listen", progressAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	notification := start(t, "notification", dataDir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr, "--metrics-listen", "")
	start(t, "media", dataDir, nil, "--media-listen", mediaAddr, "--progress-addr", progressAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	gateway := start(t, "gateway", dataDir, nil, "--gateway-listen", "127.0.0.1:0", "--progress-addr", progressAddr,
		"--media-addr", mediaAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	gw := gateway.gateway
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := auth.NewUserIssuer(key).Issue("admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	maria, err := auth.NewUserIssuer(key).Issue("mariaqx", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var child struct{ Name string }
	log.restJSON(t, gw, "admin", admin, "POST", "/v1/children", `{"displayName":"Adaqx"}`, 200, &child)
	log.restJSON(t, gw, "admin", admin, "POST", "/v1/"+child.Name+"/guardians", `{"user":"mariaqx","role":"ROLE_CONTRIBUTOR"}`, 200, nil)

	progress.stop(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/" + child.Name, ""},
		{"GET", "/v1/" + child.Name + "/progressSummary", ""},
		{"GET", "/v1/" + child.Name + "/media", ""},
		{"POST", "/v1/" + child.Name + "/media:upload?title=x", "not a picture at all"},
		{"POST", "/v1/users/me/subscriptions", `{"child":"` + child.Name + `"}`},
		{"GET", "/readyz", ""},
	} {
		code, _, body := log.rest(t, gw, "mariaqx", maria, c.method, c.path, []byte(c.body))
		if code != http.StatusServiceUnavailable {
			t.Errorf("%s %s with progress down: %d %s, want 503", c.method, c.path, code, body)
		}
	}
	ml, err := mediav1.NewMediaServiceClient(dialGRPC(t, mediaAddr)).ListMediaItems(as(ctx, maria), &mediav1.ListMediaItemsRequest{Parent: child.Name})
	log.grpc("mariaqx", child.Name, ml, err)
	sub, err := notificationv1.NewNotificationServiceClient(dialGRPC(t, notificationAddr)).CreateSubscription(as(ctx, maria),
		&notificationv1.CreateSubscriptionRequest{Parent: "users/me", Subscription: &notificationv1.Subscription{Child: child.Name}})
	log.grpc("mariaqx", child.Name, sub, err)

	notification.stop(t)
	for _, path := range []string{"/v1/notifications/events", "/v1/notifications/ws", "/v1/users/me/notifications"} {
		if code, _, body := log.rest(t, gw, "mariaqx", maria, "GET", path, nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s with notification down: %d %s, want 503", path, code, body)
		}
	}
	checkAnswers(t, log.answers, nil, []string{dataDir, repoRoot, bin}, gw)
}

var (
	// absolutePath finds a path on the server: under a root directory a
	// server keeps files in. API paths (/v1/..., /docs) are not among them.
	absolutePath = regexp.MustCompile(`(?:^|[^A-Za-z0-9._~-])/(?:tmp|home|root|var|srv|usr|etc|proc|opt|run|dev|mnt|work|data|private|Users|nix)/[^\s"'<>]*`)
	// hostPort finds a loopback or unspecified address with a port.
	hostPort = regexp.MustCompile(`(?:127\.\d+\.\d+\.\d+|localhost|\[::1?\]|0\.0\.0\.0):(\d{1,5})`)
	// internals are words only an internal error has.
	internals = []string{"dial tcp", "dial unix", "connection refused", "connection reset", "transport:", "sqlite:", "postgres://",
		"nats://", "goroutine ", "exit status", ".go:"}
)

// checkAnswers fails the test for every answer that names a server path
// (paths, or one of files), an address other than the gateway's own
// (gw), an internal error, or something private to its caller
// (private[caller]) that the caller did not send itself.
func checkAnswers(t *testing.T, answers []publicAnswer, private map[string][]string, files []string, gw string) {
	t.Helper()
	_, gwPort, _ := net.SplitHostPort(gw)
	var leaks []string
	leak := func(a publicAnswer, what string) {
		leaks = append(leaks, fmt.Sprintf("%s (caller %q, asked %q):\n%s", what, a.caller, firstLine(a.request), a.answer))
	}
	for _, a := range answers {
		for _, f := range files {
			if f != "" && strings.Contains(a.answer, f) {
				leak(a, "a server path "+f)
			}
		}
		if m := absolutePath.FindString(a.answer); m != "" {
			leak(a, "an absolute path "+strings.TrimSpace(m))
		}
		for _, m := range hostPort.FindAllStringSubmatch(a.answer, -1) {
			if m[1] != gwPort {
				leak(a, "an address inside the suite "+m[0])
			}
		}
		for _, w := range internals {
			if strings.Contains(a.answer, w) {
				leak(a, "an internal error ("+w+")")
			}
		}
		for _, secret := range private[a.caller] {
			if strings.Contains(a.answer, secret) && !strings.Contains(a.request, secret) {
				leak(a, "what the caller may not see: "+secret)
			}
		}
	}
	slices.Sort(leaks)
	leaks = slices.Compact(leaks)
	for _, l := range leaks {
		t.Error(l)
	}
	t.Logf("%d public answers checked, %d leaks", len(answers), len(leaks))
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}
