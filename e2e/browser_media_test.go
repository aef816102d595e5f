//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// Video in a real browser: a stored WebM is played and seeked by Debian's
// headless Chromium, driven by e2e/clients/play.mjs (playwright-core), the
// way a frontend page shows it: <video src> on the download route, with
// the token in ?access_token= because a media element cannot send an
// Authorization header. Chromium is optional locally: without it the
// browser test skips, unless KINBRIDGE_TEST_REQUIRE names "chromium".

// chromiumPath is Debian's Chromium (package chromium).
const chromiumPath = "/usr/bin/chromium"

// The fixture, e2e/testdata/clip.webm (see e2e/testdata/README): VP9,
// 160x120, 4 s at 25 fps, a keyframe every second, no audio.
const (
	clipFile              = "clip.webm"
	clipSeconds           = 4.0
	clipWidth, clipHeight = 160, 120
)

// needChromium returns the browser binary, or skips (fails when required).
func needChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		testenv.SkipOrFail(t, "chromium", chromiumPath+" is missing: install Debian's chromium package (apt-get install chromium) to play media in a real browser")
	}
	return chromiumPath
}

// storedClip is the fixture uploaded as a video of a child that maria
// follows, and READY.
type storedClip struct {
	item     string
	maria    string // token
	uploaded []byte // the fixture's bytes
	size     int64
	sha256   string // of the stored content
	duration string // as the service measured it ("" without ffprobe)
}

// apiCall sends a JSON (or raw) request to the gateway and returns the
// status and the body.
func apiCall(t *testing.T, gateway, method, path, token, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+gateway+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// uploadClip creates a child as the admin the process printed a token
// for, lets teacher record and maria follow, uploads the WebM as teacher
// in one request, and waits until the item is READY.
func uploadClip(t *testing.T, p *process) storedClip {
	t.Helper()
	if p.adminToken == "" {
		t.Fatal("the process printed no admin token")
	}
	clip, err := os.ReadFile(filepath.Join(repoRoot, "e2e", "testdata", clipFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.LoadKey(filepath.Join(p.dataDir, "keys", "user.pem"))
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
	c := storedClip{maria: issue("maria"), uploaded: clip}
	teacher := issue("teacher")

	code, body := apiCall(t, p.gateway, "POST", "/v1/children", p.adminToken, "application/json", []byte(`{"displayName": "Ada"}`))
	var child struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &child); code != http.StatusOK || err != nil || child.Name == "" {
		t.Fatalf("creating a child: %d %s", code, body)
	}
	for user, role := range map[string]string{"maria": "ROLE_GUARDIAN", "teacher": "ROLE_CONTRIBUTOR"} {
		if code, body := apiCall(t, p.gateway, "POST", "/v1/"+child.Name+"/guardians", p.adminToken, "application/json",
			fmt.Appendf(nil, `{"user": %q, "role": %q}`, user, role)); code != http.StatusOK {
			t.Fatalf("adding %s: %d %s", user, code, body)
		}
	}

	q := url.Values{"title": {"Sports day"}, "kind": {"video"}, "filename": {clipFile}}
	code, body = apiCall(t, p.gateway, "POST", "/v1/"+child.Name+"/media:upload?"+q.Encode(), teacher, "video/webm", clip)
	var item struct {
		Name           string `json:"name"`
		ContentType    string `json:"contentType"`
		SizeBytes      string `json:"sizeBytes"`
		ContentSha256  string `json:"contentSha256"`
		OriginalSha256 string `json:"originalSha256"`
		State          string `json:"state"`
		FailureReason  string `json:"failureReason"`
		Duration       string `json:"duration"`
	}
	if err := json.Unmarshal(body, &item); code != http.StatusOK || err != nil || item.Name == "" {
		t.Fatalf("uploading %s: %d %s", clipFile, code, body)
	}
	sum := sha256.Sum256(clip)
	if item.ContentType != "video/webm" || item.OriginalSha256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("the uploaded item %s; want video/webm with originalSha256 %x", body, sum)
	}
	deadline := time.Now().Add(time.Minute)
	for item.State != "MEDIA_STATE_READY" {
		if item.State == "MEDIA_STATE_FAILED" {
			t.Fatalf("processing %s failed: %s", item.Name, item.FailureReason)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s is not READY after a minute: %+v", item.Name, item)
		}
		time.Sleep(100 * time.Millisecond)
		code, body := apiCall(t, p.gateway, "GET", "/v1/"+item.Name, c.maria, "", nil)
		if err := json.Unmarshal(body, &item); code != http.StatusOK || err != nil {
			t.Fatalf("GET %s: %d %s", item.Name, code, body)
		}
	}
	size, err := strconv.ParseInt(item.SizeBytes, 10, 64)
	if err != nil {
		t.Fatalf("the item's sizeBytes %q", item.SizeBytes)
	}
	c.item, c.size, c.sha256, c.duration = item.Name, size, item.ContentSha256, item.Duration
	if c.duration != "" {
		d, err := time.ParseDuration(c.duration)
		if err != nil || math.Abs(d.Seconds()-clipSeconds) > 0.1 {
			t.Fatalf("the service measured the clip as %q; want %gs", c.duration, clipSeconds)
		}
	}
	return c
}

// rangeGet GETs the clip's content with the given Range header ("" for
// none), authenticated by header or by access_token.
func rangeGet(t *testing.T, gateway string, c storedClip, byQuery bool, rangeHeader string) (*http.Response, []byte) {
	t.Helper()
	u := "http://" + gateway + "/v1/" + c.item + ":content"
	if byQuery {
		u += "?" + url.Values{"access_token": {c.maria}}.Encode()
	}
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !byQuery {
		req.Header.Set("Authorization", "Bearer "+c.maria)
	}
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading %s: %v", rangeHeader, err)
	}
	return resp, body
}

// TestWebMRangeRequests: ranged GETs of a stored WebM return exactly the
// requested bytes of the stored content, with the header token and with
// ?access_token=, and an unsatisfiable range answers 416.
func TestWebMRangeRequests(t *testing.T) {
	p := serve(t, t.TempDir(), nil)
	c := uploadClip(t, p)

	resp, whole := rangeGet(t, p.gateway, c, false, "")
	sum := sha256.Sum256(whole)
	if resp.StatusCode != http.StatusOK || int64(len(whole)) != c.size || hex.EncodeToString(sum[:]) != c.sha256 {
		t.Fatalf("the whole content: %d, %d bytes with SHA-256 %x; want 200, %d bytes with %s", resp.StatusCode, len(whole), sum, c.size, c.sha256)
	}
	if resp.Header.Get("Accept-Ranges") != "bytes" || resp.Header.Get("Content-Type") != "video/webm" || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the whole content's headers: %v", resp.Header)
	}
	t.Logf("%s: %d bytes stored; the same bytes as the fixture: %v", c.item, len(whole), bytes.Equal(whole, c.uploaded))
	etag := resp.Header.Get("ETag")

	n := int64(len(whole))
	for _, byQuery := range []bool{false, true} {
		t.Run(map[bool]string{false: "header", true: "access_token"}[byQuery], func(t *testing.T) {
			for _, tc := range []struct {
				name, header string
				from, to     int64 // the bytes expected, [from, to)
			}{
				{"first bytes", "bytes=0-99", 0, 100},
				{"first byte", "bytes=0-0", 0, 1},
				{"middle", fmt.Sprintf("bytes=%d-%d", n/2-1000, n/2+1000), n/2 - 1000, n/2 + 1001},
				{"suffix", "bytes=-777", n - 777, n},
				{"open-ended", fmt.Sprintf("bytes=%d-", n-5000), n - 5000, n},
				{"last byte", fmt.Sprintf("bytes=%d-%d", n-1, n-1), n - 1, n},
				{"end past the size", fmt.Sprintf("bytes=%d-%d", n-10, n+1000), n - 10, n},
				{"suffix longer than the file", fmt.Sprintf("bytes=-%d", n+50), 0, n},
			} {
				resp, body := rangeGet(t, p.gateway, c, byQuery, tc.header)
				wantRange := fmt.Sprintf("bytes %d-%d/%d", tc.from, tc.to-1, n)
				if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != wantRange ||
					resp.Header.Get("Content-Length") != strconv.FormatInt(tc.to-tc.from, 10) || !bytes.Equal(body, whole[tc.from:tc.to]) {
					t.Errorf("%s (%s): %d, Content-Range %q, Content-Length %q, %d bytes (equal: %v); want 206, %q and bytes [%d,%d)",
						tc.name, tc.header, resp.StatusCode, resp.Header.Get("Content-Range"), resp.Header.Get("Content-Length"), len(body),
						bytes.Equal(body, whole[tc.from:tc.to]), wantRange, tc.from, tc.to)
				}
				if resp.Header.Get("ETag") != etag || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("%s: headers %v", tc.name, resp.Header)
				}
			}
			for _, unsatisfiable := range []string{fmt.Sprintf("bytes=%d-", n), fmt.Sprintf("bytes=%d-%d", n+10, n+20)} {
				resp, body := rangeGet(t, p.gateway, c, byQuery, unsatisfiable)
				if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes */%d", n) {
					t.Errorf("%s: %d, Content-Range %q: %s; want 416 and bytes */%d", unsatisfiable, resp.StatusCode, resp.Header.Get("Content-Range"), body, n)
				}
			}
		})
	}
}

// proxied is one request the browser made, as the recording proxy saw it.
type proxied struct {
	method, rangeHeader    string
	authorization, inQuery bool // where the token was
	status                 int
	contentRange           string
}

// recordingProxy forwards to the gateway and notes every request and the
// gateway's answer, so the test sees the browser's requests on the wire.
type recordingProxy struct {
	srv  *httptest.Server
	mu   sync.Mutex
	seen []proxied
}

func newRecordingProxy(t *testing.T, gateway string) *recordingProxy {
	t.Helper()
	rp := &recordingProxy{}
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: gateway})
	proxy.ModifyResponse = func(resp *http.Response) error {
		req := resp.Request
		rp.mu.Lock()
		defer rp.mu.Unlock()
		rp.seen = append(rp.seen, proxied{method: req.Method, rangeHeader: req.Header.Get("Range"),
			authorization: req.Header.Get("Authorization") != "", inQuery: req.URL.Query().Has("access_token"),
			status: resp.StatusCode, contentRange: resp.Header.Get("Content-Range")})
		return nil
	}
	rp.srv = httptest.NewServer(proxy)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *recordingProxy) requests() []proxied {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]proxied(nil), rp.seen...)
}

// playerPage is the frontend page: nothing but the video element.
var playerPage = template.Must(template.New("player").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Kinbridge player</title><link rel="icon" href="data:,"></head>
<body><video muted playsinline preload="metadata" src="{{.}}"></video></body></html>
`))

// playResult is what play.mjs printed.
type playResult struct {
	Kind         string      `json:"kind"`
	Message      string      `json:"message"`
	Duration     float64     `json:"duration"`
	VideoWidth   int         `json:"videoWidth"`
	VideoHeight  int         `json:"videoHeight"`
	PlayResolved bool        `json:"playResolved"`
	StartedAt    float64     `json:"startedAt"`
	AdvancedTo   float64     `json:"advancedTo"`
	SeekTo       float64     `json:"seekTo"`
	SeekedAt     float64     `json:"seekedAt"`
	ContinuedTo  float64     `json:"continuedTo"`
	Paused       bool        `json:"paused"`
	Buffered     [][]float64 `json:"buffered"`
	Events       []struct {
		Type string  `json:"type"`
		At   float64 `json:"at"`
	} `json:"events"`
	Network []struct {
		Method       string `json:"method"`
		Range        string `json:"range"`
		Status       int    `json:"status"`
		ContentRange string `json:"contentRange"`
	} `json:"network"`
}

// TestBrowserPlaysAndSeeksWebM plays a stored WebM in headless Chromium
// from a page of another origin, with the token in the URL: the metadata
// loads with the clip's duration, play() resolves and time advances, a
// seek lands where asked and playback goes on, and the gateway answered
// the browser's ranged requests with 206.
func TestBrowserPlaysAndSeeksWebM(t *testing.T) {
	chromium := needChromium(t)
	dir := nodeClients(t)
	p := serve(t, t.TempDir(), nil)
	c := uploadClip(t, p)

	// The browser reaches the gateway through a recording proxy, which
	// changes nothing it forwards.
	gw := newRecordingProxy(t, p.gateway)
	src := gw.srv.URL + "/v1/" + c.item + ":content?" + url.Values{"access_token": {c.maria}}.Encode()
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = playerPage.Execute(w, src)
	}))
	t.Cleanup(page.Close)

	const seekTo = 2.5
	timeout := 90 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "play.mjs", chromium, page.URL+"/", strconv.FormatFloat(seekTo, 'f', -1, 64),
		strconv.FormatInt(timeout.Milliseconds(), 10))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	began := time.Now()
	runErr := cmd.Run()
	printed := strings.ReplaceAll(stdout.String()+stderr.String(), c.maria, "<token>")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res playResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || runErr != nil || res.Kind != "result" {
		t.Fatalf("play.mjs: %v; it printed:\n%s", runErr, printed)
	}
	t.Logf("play.mjs ran %s; it printed:\n%s", time.Since(began).Round(time.Millisecond), printed)

	if math.Abs(res.Duration-clipSeconds) > 0.1 {
		t.Errorf("the browser reports a duration of %gs; the clip is %gs", res.Duration, clipSeconds)
	}
	if res.VideoWidth != clipWidth || res.VideoHeight != clipHeight {
		t.Errorf("the browser reports %dx%d; the clip is %dx%d", res.VideoWidth, res.VideoHeight, clipWidth, clipHeight)
	}
	if !res.PlayResolved || res.AdvancedTo < res.StartedAt+0.5 {
		t.Errorf("play(): resolved %v, time went from %g to %g", res.PlayResolved, res.StartedAt, res.AdvancedTo)
	}
	if math.Abs(res.SeekedAt-seekTo) > 0.25 {
		t.Errorf("the seek to %g landed at %g", seekTo, res.SeekedAt)
	}
	if res.Paused || res.ContinuedTo < res.SeekedAt+0.4 {
		t.Errorf("after the seek: paused %v, time went from %g to %g", res.Paused, res.SeekedAt, res.ContinuedTo)
	}
	fired := map[string]bool{}
	for _, e := range res.Events {
		fired[e.Type] = true
	}
	for _, want := range []string{"loadedmetadata", "playing", "seeking", "seeked"} {
		if !fired[want] {
			t.Errorf("the video never fired %q; events: %+v", want, res.Events)
		}
	}
	if fired["error"] {
		t.Errorf("the video fired an error; events: %+v", res.Events)
	}

	// On the wire: every request carried the token in the URL only, and
	// the gateway answered the browser's ranges with 206.
	reqs := gw.requests()
	partial := 0
	for i, r := range reqs {
		t.Logf("request %d: %s Range %q -> %d %s", i+1, r.method, r.rangeHeader, r.status, r.contentRange)
		if r.authorization || !r.inQuery {
			t.Errorf("request %d: Authorization header %v, access_token %v; a <video> can only use the URL", i+1, r.authorization, r.inQuery)
		}
		switch {
		case r.status == http.StatusPartialContent && r.rangeHeader != "" && strings.HasPrefix(r.contentRange, "bytes ") &&
			strings.HasSuffix(r.contentRange, "/"+strconv.FormatInt(c.size, 10)):
			partial++
		case r.status == http.StatusOK:
		default:
			t.Errorf("request %d: %+v", i+1, r)
		}
	}
	if partial == 0 {
		t.Errorf("the gateway answered none of the browser's %d requests with 206: %+v", len(reqs), reqs)
	}

	// The token in the URL is in no log line and no metric of the process.
	if strings.Contains(p.stderr.String(), c.maria) {
		t.Error("the access_token appears in kinbridge's log")
	}
	if p.metrics != "" {
		resp, err := http.Get("http://" + p.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(metrics, []byte(c.maria)) || bytes.Contains(metrics, []byte(c.maria[strings.LastIndexByte(c.maria, '.')+1:])) {
			t.Error("the access_token appears in the metrics")
		}
		if !bytes.Contains(metrics, []byte(`{name=children/*/media/*}:content`)) {
			t.Logf("no metric names the content route (metrics are %d bytes)", len(metrics))
		}
	}
}
