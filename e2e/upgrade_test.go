//go:build e2e

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/internal/releases"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// maxSwitchFailures bounds the requests that may fail while the previous
// release's gateway drains: each only with a status that tells the client
// to retry (503 or 429). A graceful drain should leave none.
const maxSwitchFailures = 3

// TestRollingUpgrade upgrades a running suite from the last release in
// RELEASES to the build of this tree without stopping it. On one set of
// PostgreSQL databases and one NATS deployment, the release's progress,
// media, notification and gateway processes serve while families go about
// their day (child, guardians, an assessment, a milestone, a photo, the
// inbox) and a guardian follows a live SSE feed. The new build's processes
// then start on the same databases (migrating them forward while the old
// ones serve) and take half the requests; then the old gateway leaves the
// rotation and every old process is stopped with SIGTERM, and the families
// carry on through the new gateway. Afterwards, through the new build,
// every write that was acknowledged is found exactly once, every
// notification is in its inbox exactly once, and the live feed delivered
// each one exactly once. No request may fail through the new gateway;
// through the old one only with a retryable status, at most
// maxSwitchFailures times.
//
// The release is built from its commit in this repository's history; when
// that commit or its build is missing the test fails, never skips.
func TestRollingUpgrade(t *testing.T) {
	began := time.Now()
	rel, err := releases.Last(repoRoot)
	if err != nil {
		t.Fatalf("the rolling upgrade needs the previous release: %v", err)
	}
	oldBin, built := buildRelease(t, rel)
	t.Logf("built %s (%s) in %v", rel.Version, rel.Commit[:12], built.Round(time.Second))

	dataDir := t.TempDir()
	env := []string{
		"KINBRIDGE_PROGRESS_DB=" + testenv.Postgres(t),
		"KINBRIDGE_MEDIA_DB=" + testenv.Postgres(t),
		"KINBRIDGE_NOTIFICATION_DB=" + testenv.Postgres(t),
		"KINBRIDGE_NATS_URL=" + testenv.NATS(t),
		// The machine's NATS is shared: a deployment name of this run's own.
		"KINBRIDGE_NATS_DEPLOYMENT=upgrade-" + strings.ToLower(rand.Text()[:12]),
	}
	old := startSuite(t, oldBin, dataDir, env)
	lb := &balancer{}
	lb.set(old.gateway.gateway)
	u := newUpgradeJourneys(t, dataDir, lb)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }() // a failed wait leaves no journey behind
	const workers = 3
	for w := range workers {
		wg.Go(func() { u.family(ctx, w) })
	}
	wg.Go(func() { u.liveRecorder(ctx) })
	wg.Go(u.liveReader)

	// Phase 1: the release alone.
	u.waitRounds(t, workers, 2)
	// Phase 2: the new build beside it, both gateways in the rotation.
	newer := startSuite(t, bin, dataDir, env)
	lb.set(old.gateway.gateway, newer.gateway.gateway)
	// A release instance that restarts now (a crash, a rescheduled pod)
	// must start on the schema the new build migrated to.
	restarted := startBinary(t, oldBin, "progress", dataDir, env, "--progress-listen", "127.0.0.1:0",
		"--notification-addr", newer.notificationAddr, "--metrics-listen", "")
	u.waitServed(t, newer.gateway.gateway, 40)
	restarted.stop(t)
	// Phase 3: the old gateway leaves the rotation, then every old process
	// is stopped gracefully (stop fails the test on anything but a clean
	// exit within 30s).
	lb.set(newer.gateway.gateway)
	switched := time.Now()
	for _, p := range []*process{old.gateway, old.media, old.notification, old.progress} {
		p.stop(t)
	}
	t.Logf("the release's processes stopped in %v", time.Since(switched).Round(time.Millisecond))
	// Phase 4: the new build alone.
	u.waitRounds(t, workers, 2)
	cancel()
	wg.Wait()

	u.check(t, newer.gateway.gateway)
	t.Logf("%s -> this build: %d family rounds, %d live assessments, %d requests (%s), %d failed; %d feed reconnects; %v in all (%v building %s)",
		rel.Version, u.rounds(), len(u.live), u.total(), u.servedSummary(), len(u.failures), u.reconnects,
		time.Since(began).Round(time.Second), built.Round(time.Second), rel.Version)
}

// buildRelease builds the kinbridge binary of rel from its commit in this
// repository, extracted with git archive into a temporary directory and
// built with -trimpath, which keeps the directory out of the Go build
// cache's keys, so a rebuild of the same commit is served from the cache.
// It fails the test when the commit is not here or does not build.
func buildRelease(t *testing.T, rel releases.Release) (string, time.Duration) {
	t.Helper()
	start := time.Now()
	if out, err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", rel.Commit+"^{commit}").CombinedOutput(); err != nil {
		t.Fatalf("%s: %s is at commit %s, which this repository does not have (a shallow clone? `git fetch --unshallow`): %v %s",
			releases.File, rel.Version, rel.Commit, err, out)
	}
	src := t.TempDir()
	out := filepath.Join(t.TempDir(), "kinbridge-"+rel.Version)
	for _, step := range [][]string{
		{"bash", "-o", "pipefail", "-c", `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`, "extract", repoRoot, rel.Commit, src},
		{"go", "build", "-trimpath", "-ldflags", "-X main.version=" + rel.Version, "-o", out, "./cmd/kinbridge"},
	} {
		cmd := exec.Command(step[0], step[1:]...)
		cmd.Dir = src
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s from %s: %s: %v\n%s", rel.Version, rel.Commit, strings.Join(step, " "), err, b)
		}
	}
	if b, err := exec.Command(out, "version").Output(); err != nil || !strings.Contains(string(b), rel.Version) {
		t.Fatalf("the binary built from %s says %q (%v), want %s", rel.Commit, b, err, rel.Version)
	}
	return out, time.Since(start)
}

// suite is one build's processes: progress, notification, media and a
// gateway calling them, on the shared databases, NATS and data directory.
type suite struct {
	progress, notification, media, gateway *process
	notificationAddr                       string
}

func startSuite(t *testing.T, binary, dataDir string, env []string) *suite {
	t.Helper()
	progressAddr, notificationAddr, mediaAddr := freePort(t), freePort(t), freePort(t)
	s := &suite{notificationAddr: notificationAddr}
	s.progress = startBinary(t, binary, "progress", dataDir, env, "--progress-listen", progressAddr,
		"--notification-addr", notificationAddr, "--metrics-listen", "")
	s.notification = startBinary(t, binary, "notification", dataDir, env, "--notification-listen", notificationAddr,
		"--progress-addr", progressAddr, "--metrics-listen", "")
	s.media = startBinary(t, binary, "media", dataDir, env, "--media-listen", mediaAddr,
		"--progress-addr", progressAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	s.gateway = startBinary(t, binary, "gateway", dataDir, env, "--gateway-listen", "127.0.0.1:0",
		"--progress-addr", progressAddr, "--media-addr", mediaAddr, "--notification-addr", notificationAddr, "--metrics-listen", "")
	return s
}

// balancer is the load balancer in front of the gateways: each request
// goes to the next gateway in the rotation.
type balancer struct {
	mu       sync.Mutex
	gateways []string
	next     int
}

func (b *balancer) set(gateways ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gateways = gateways
}

func (b *balancer) pick() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	return b.gateways[b.next%len(b.gateways)]
}

// acked is a write the suite acknowledged.
type acked struct {
	kind, name string // kind: assessment, milestone, media
	title      string
	child      string
	guardian   string // the user who must be notified
}

// upgradeJourneys runs the families and the live feed and keeps the score.
type upgradeJourneys struct {
	t      *testing.T
	lb     *balancer
	issuer *auth.UserIssuer
	admin  string // token
	photo  []byte
	client *http.Client

	mu         sync.Mutex
	done       map[int]int       // worker -> rounds finished
	children   map[string]string // acknowledged child -> its display name
	writes     []acked
	served     map[string]int // gateway -> requests answered
	failures   []string
	liveChild  string
	live       []string // acknowledged live assessments, in order
	feed       []string // links the live feed delivered
	reconnects int
	feedOpen   chan struct{} // closed when the live feed has sent its start position
	recorded   chan struct{} // closed when liveRecorder has recorded its last
	// feedDeadline is when the reader stops waiting for the feed to
	// catch up, once the journeys ended.
	feedDeadline time.Time
}

func newUpgradeJourneys(t *testing.T, dataDir string, lb *balancer) *upgradeJourneys {
	t.Helper()
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	u := &upgradeJourneys{t: t, lb: lb, issuer: auth.NewUserIssuer(key), photo: testdata(t, "plain.jpg"),
		client: &http.Client{Timeout: 30 * time.Second}, done: map[int]int{}, children: map[string]string{}, served: map[string]int{}, recorded: make(chan struct{}), feedOpen: make(chan struct{})}
	u.admin = u.token("admin", true)
	// The live family exists before the journeys start.
	var child struct{ Name string }
	if err := u.call(u.admin, "POST", "/v1/children", `{"displayName":"Live"}`, &child); err != nil {
		t.Fatal(err)
	}
	u.liveChild = child.Name
	for _, g := range []string{`{"user":"live-guardian","role":"ROLE_GUARDIAN"}`, `{"user":"teacher","role":"ROLE_CONTRIBUTOR"}`} {
		if err := u.call(u.admin, "POST", "/v1/"+child.Name+"/guardians", g, nil); err != nil {
			t.Fatal(err)
		}
	}
	return u
}

func (u *upgradeJourneys) token(user string, admin bool) string {
	tok, err := u.issuer.Issue(user, admin, time.Hour)
	if err != nil {
		panic(err)
	}
	return tok
}

// call sends one JSON request through the balancer; anything but 200 is
// recorded as a failure and returned as an error.
func (u *upgradeJourneys) call(token, method, path, body string, out any) error {
	gw := u.lb.pick()
	ct := "application/json"
	var rd io.Reader = strings.NewReader(body)
	if method == "UPLOAD" {
		method, ct, rd = "POST", "image/jpeg", bytes.NewReader(u.photo)
	}
	req, err := http.NewRequest(method, "http://"+gw+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", ct)
	resp, err := u.client.Do(req)
	if err != nil {
		return u.fail(gw, fmt.Sprintf("%s %s: %v", method, path, err))
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return u.fail(gw, fmt.Sprintf("%s %s: %d %s", method, path, resp.StatusCode, b))
	}
	u.mu.Lock()
	u.served[gw]++
	u.mu.Unlock()
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func (u *upgradeJourneys) fail(gw, what string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failures = append(u.failures, gw+": "+what)
	return errors.New(what)
}

// family runs rounds until ctx ends: a child, its guardian and teacher,
// an assessment, a milestone and a photo recorded, the guardian reading
// the inbox and the records. A failed step ends the round.
func (u *upgradeJourneys) family(ctx context.Context, w int) {
	for round := 0; ctx.Err() == nil; round++ {
		tag := fmt.Sprintf("w%d-r%d", w, round)
		guardian := "guardian-" + tag
		gtok, teacher := u.token(guardian, false), u.token("teacher", false)
		var named struct{ Name string }
		if u.call(u.admin, "POST", "/v1/children", `{"displayName":"Kid `+tag+`"}`, &named) != nil {
			continue
		}
		child := named.Name
		u.mu.Lock()
		u.children[child] = "Kid " + tag
		u.mu.Unlock()
		if u.call(u.admin, "POST", "/v1/"+child+"/guardians", `{"user":"`+guardian+`","role":"ROLE_GUARDIAN"}`, nil) != nil ||
			u.call(u.admin, "POST", "/v1/"+child+"/guardians", `{"user":"teacher","role":"ROLE_CONTRIBUTOR"}`, nil) != nil {
			continue
		}
		ok := true
		for _, rec := range []struct{ kind, title, method, path, body string }{
			{"assessment", "Quiz " + tag, "POST", "/assessments", `{"subject":"Math","title":"Quiz ` + tag + `","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01","score":{"points":{"earned":18,"possible":20}}}`},
			{"milestone", "Milestone " + tag, "POST", "/milestones", `{"title":"Milestone ` + tag + `","category":"MILESTONE_CATEGORY_ACADEMIC","achievedDate":"2026-03-20"}`},
			{"media", "Photo " + tag, "UPLOAD", "/media:upload?kind=photo&filename=day.jpg&title=Photo+" + tag, ""},
		} {
			if u.call(teacher, rec.method, "/v1/"+child+rec.path, rec.body, &named) != nil {
				ok = false
				break
			}
			u.mu.Lock()
			u.writes = append(u.writes, acked{kind: rec.kind, name: named.Name, title: rec.title, child: child, guardian: guardian})
			u.mu.Unlock()
		}
		if ok && u.call(gtok, "GET", "/v1/users/me/notifications?pageSize=50", "", nil) == nil &&
			u.call(gtok, "GET", "/v1/"+child+"/assessments", "", nil) == nil {
			u.mu.Lock()
			u.done[w]++
			u.mu.Unlock()
		}
	}
}

// liveRecorder records an assessment for the live child every 100ms, from
// when the live feed is open: what is stored before its start position
// rightly precedes it, and would be missing from it.
func (u *upgradeJourneys) liveRecorder(ctx context.Context) {
	defer close(u.recorded)
	teacher := u.token("teacher", false)
	select {
	case <-u.feedOpen:
	case <-ctx.Done():
		return
	}
	for i := 0; ctx.Err() == nil; i++ {
		var named struct{ Name string }
		if u.call(teacher, "POST", "/v1/"+u.liveChild+"/assessments",
			fmt.Sprintf(`{"subject":"Reading","title":"Live %d","kind":"ASSESSMENT_KIND_TEST","assessedDate":"2026-03-01"}`, i), &named) == nil {
			u.mu.Lock()
			u.live = append(u.live, named.Name)
			u.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// liveReader follows the live guardian's SSE feed through the balancer,
// reconnecting with Last-Event-ID whenever the stream ends (as a draining
// gateway ends it), as EventSource does, until the feed has everything
// liveRecorder recorded.
func (u *upgradeJourneys) liveReader() {
	tok := u.token("live-guardian", false)
	// The feed is read on until it has caught up with the last live
	// assessment recorded.
	reading, stop := context.WithCancel(context.Background())
	go func() {
		<-u.recorded
		for !u.feedComplete() {
			time.Sleep(50 * time.Millisecond)
		}
		stop()
	}()
	lastID, opened := "", false
	for reading.Err() == nil {
		gw := u.lb.pick()
		req, _ := http.NewRequestWithContext(reading, "GET", "http://"+gw+"/v1/notifications/events", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Accept", "text/event-stream")
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := http.DefaultClient.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			err = fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		if err != nil {
			if reading.Err() != nil {
				return
			}
			u.fail(gw, "live feed: "+err.Error())
			time.Sleep(200 * time.Millisecond)
			continue
		}
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if id, ok := strings.CutPrefix(line, "id: "); ok {
				if !opened {
					opened = true
					close(u.feedOpen) // the first connection's start position
				}
				lastID = id
			}
			if data, ok := strings.CutPrefix(line, "data: "); ok && strings.HasPrefix(data, "{") {
				var n struct{ Type, Link string }
				if json.Unmarshal([]byte(data), &n) == nil && n.Type == "EVENT_TYPE_ASSESSMENT_RECORDED" {
					u.mu.Lock()
					u.feed = append(u.feed, n.Link)
					u.mu.Unlock()
				}
			}
		}
		resp.Body.Close()
		u.mu.Lock()
		u.reconnects++
		u.mu.Unlock()
	}
}

// feedComplete reports whether the feed has delivered every acknowledged
// live assessment; it gives up (true) 60s after it is first asked once
// the journeys ended, so a lost notification fails check, not the wait.
func (u *upgradeJourneys) feedComplete() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	got := map[string]bool{}
	for _, l := range u.feed {
		got[l] = true
	}
	for _, l := range u.live {
		if !got[l] {
			if u.feedDeadline.IsZero() {
				u.feedDeadline = time.Now().Add(60 * time.Second)
			}
			return time.Now().After(u.feedDeadline)
		}
	}
	return true
}

func (u *upgradeJourneys) rounds() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, r := range u.done {
		n += r
	}
	return n
}

func (u *upgradeJourneys) total() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	n := 0
	for _, c := range u.served {
		n += c
	}
	return n
}

func (u *upgradeJourneys) servedSummary() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	var parts []string
	for gw, c := range u.served {
		parts = append(parts, fmt.Sprintf("%d by %s", c, gw))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// waitRounds waits until every worker has finished n more rounds.
func (u *upgradeJourneys) waitRounds(t *testing.T, workers, n int) {
	t.Helper()
	u.mu.Lock()
	want := map[int]int{}
	for w := range workers {
		want[w] = u.done[w] + n
	}
	u.mu.Unlock()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		u.mu.Lock()
		behind := 0
		for w := range workers {
			if u.done[w] < want[w] {
				behind++
			}
		}
		u.mu.Unlock()
		if behind == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the families did not finish %d rounds each in time; failures: %q", n, u.failures)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitServed waits until gateway has answered n requests.
func (u *upgradeJourneys) waitServed(t *testing.T, gateway string, n int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		u.mu.Lock()
		got := u.served[gateway]
		u.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new gateway answered %d requests, want %d; failures: %q", got, n, u.failures)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// check reads everything back through the new build's gateway.
func (u *upgradeJourneys) check(t *testing.T, gateway string) {
	t.Helper()
	u.lb.set(gateway)
	u.checkFailures(t, gateway)
	u.checkChildren(t)
	u.checkRecords(t, gateway)
	u.checkInboxes(t)
	u.checkFeed(t)
}

// checkFailures: none through the new gateway, a few retryable ones
// through the old.
func (u *upgradeJourneys) checkFailures(t *testing.T, gateway string) {
	t.Helper()
	var hard, soft []string
	for _, f := range u.failures {
		gw, _, _ := strings.Cut(f, ": ")
		switch {
		case gw == gateway:
			hard = append(hard, f)
		case strings.Contains(f, ": 503 ") || strings.Contains(f, ": 429 "):
			soft = append(soft, f)
		default:
			hard = append(hard, f)
		}
	}
	if len(hard) > 0 || len(soft) > maxSwitchFailures {
		t.Errorf("%d requests failed through the new gateway or without a retryable status, %d retryable ones (at most %d allowed):\n%s",
			len(hard), len(soft), maxSwitchFailures, strings.Join(append(hard, soft...), "\n"))
	}

}

// checkChildren: every acknowledged child exactly once among the
// administrator's.
func (u *upgradeJourneys) checkChildren(t *testing.T) {
	t.Helper()
	names := map[string]string{} // display name -> child
	seen := map[string]int{}
	for page := ""; ; {
		var resp struct {
			Children      []struct{ Name, DisplayName string }
			NextPageToken string
		}
		if err := u.call(u.admin, "GET", "/v1/children?pageSize=100&pageToken="+url.QueryEscape(page), "", &resp); err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.Children {
			seen[c.DisplayName]++
			names[c.DisplayName] = c.Name
		}
		if page = resp.NextPageToken; page == "" {
			break
		}
	}
	for name, display := range u.children {
		if n := seen[display]; n != 1 || names[display] != name {
			t.Errorf("%s (%s) is listed %d times (as %s), want once", name, display, n, names[display])
		}
	}

}

// checkRecords: every acknowledged record exactly once in its child's
// list, every photo processed.
func (u *upgradeJourneys) checkRecords(t *testing.T, gateway string) {
	t.Helper()
	lists := map[string]map[string]int{} // child+kind -> name -> count
	teacher := u.token("teacher", false)
	for _, w := range u.writes {
		key := w.child + "/" + map[string]string{"assessment": "assessments", "milestone": "milestones", "media": "media"}[w.kind]
		if lists[key] == nil {
			var resp map[string]json.RawMessage
			if err := u.call(teacher, "GET", "/v1/"+key+"?pageSize=100", "", &resp); err != nil {
				t.Fatal(err)
			}
			lists[key] = map[string]int{}
			for _, items := range resp {
				var named []struct{ Name, Title string }
				if json.Unmarshal(items, &named) == nil {
					for _, n := range named {
						lists[key][n.Name]++
						lists[key]["title "+n.Title]++
					}
				}
			}
		}
		if n, m := lists[key][w.name], lists[key]["title "+w.title]; n != 1 || m != 1 {
			t.Errorf("the acknowledged %s %s is listed %d times, and %d under its title %q; want once", w.kind, w.name, n, m, w.title)
		}
		if w.kind == "media" {
			waitReady(t, gateway, teacher, w.name)
		}
	}
}

// checkInboxes: every acknowledged record notified to its guardian exactly
// once.
func (u *upgradeJourneys) checkInboxes(t *testing.T) {
	t.Helper()
	want := map[string][]string{} // guardian -> "TYPE link"
	types := map[string]string{"assessment": "EVENT_TYPE_ASSESSMENT_RECORDED", "milestone": "EVENT_TYPE_MILESTONE_ACHIEVED", "media": "EVENT_TYPE_MEDIA_READY"}
	for _, w := range u.writes {
		want[w.guardian] = append(want[w.guardian], types[w.kind]+" "+w.name)
	}
	for _, l := range u.live {
		want["live-guardian"] = append(want["live-guardian"], "EVENT_TYPE_ASSESSMENT_RECORDED "+l)
	}
	for guardian, notes := range want {
		tok := u.token(guardian, false)
		counts := map[string]int{}
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			var resp struct{ Notifications []inboxNote }
			if err := u.call(tok, "GET", "/v1/users/me/notifications?pageSize=1000", "", &resp); err != nil {
				t.Fatal(err)
			}
			clear(counts)
			for _, n := range resp.Notifications {
				counts[n.Type+" "+n.Link]++
			}
			missing := 0
			for _, n := range notes {
				if counts[n] == 0 {
					missing++
				}
			}
			if missing == 0 || time.Now().After(deadline) {
				break
			}
		}
		for _, n := range notes {
			if counts[n] != 1 {
				t.Errorf("%s's inbox holds %q %d times, want once", guardian, n, counts[n])
			}
		}
	}

}

// checkFeed: the live feed delivered each live assessment exactly once
// across its reconnections.
func (u *upgradeJourneys) checkFeed(t *testing.T) {
	t.Helper()
	delivered := map[string]int{}
	for _, l := range u.feed {
		delivered[l]++
	}
	for i, l := range u.live {
		if delivered[l] != 1 {
			t.Errorf("the live feed delivered live assessment %d of %d (%s) %d times, want once", i+1, len(u.live), l, delivered[l])
		}
	}
}
