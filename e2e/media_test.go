//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// The media journeys: big resumable uploads over tus 1.0 that survive cut
// connections, a second gateway and a crashed media service, and never
// hold the file in memory.

// tusBytes is the size of the big upload: 1 GiB, or
// KINBRIDGE_E2E_TUS_BYTES to iterate quickly.
func tusBytes(t *testing.T) int64 {
	t.Helper()
	size := int64(1 << 30)
	if v := os.Getenv("KINBRIDGE_E2E_TUS_BYTES"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1<<20 {
			t.Fatalf("KINBRIDGE_E2E_TUS_BYTES=%q: want a byte count of at least 1 MiB", v)
		}
		size = n
	}
	return size
}

// bigMP4 writes an MP4 of size bytes to dir, streaming
// (mediacheck.WriteMovie: pseudo-random samples that the media service
// stores as they are), and returns its path and SHA-256, computed while
// writing.
func bigMP4(t *testing.T, dir string, size int64) (string, string) {
	t.Helper()
	path := filepath.Join(dir, "big.mp4")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if err := mediacheck.WriteMovie(io.MultiWriter(f, h), size, [32]byte{'k', 'i', 'n', 'b', 'r', 'i', 'd', 'g', 'e'}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path, hex.EncodeToString(h.Sum(nil))
}

// mediaFamily creates a child with a contributor through progress gRPC
// and returns the child's name and tokens for an admin and the contributor.
type mediaFamily struct {
	child, admin, teacher string
}

func newMediaFamily(t *testing.T, dataDir, progressAddr string) mediaFamily {
	t.Helper()
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
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
	f := mediaFamily{admin: issue("admin", true), teacher: issue("teacher", false)}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	client := progressv1.NewProgressServiceClient(dialGRPC(t, progressAddr))
	child, err := client.CreateChild(as(ctx, f.admin), &progressv1.CreateChildRequest{Child: &progressv1.Child{DisplayName: "Ada"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.CreateGuardianship(as(ctx, f.admin), &progressv1.CreateGuardianshipRequest{Parent: child.Name,
		Guardianship: &progressv1.Guardianship{User: "teacher", Role: progressv1.Role_ROLE_CONTRIBUTOR}}); err != nil {
		t.Fatal(err)
	}
	f.child = child.Name
	return f
}

// splitMedia is a split deployment with media: progress, media and
// notification each in a process of its own, on one data dir.
type splitMedia struct {
	dataDir                                  string
	progressAddr, mediaAddr, notificationAdr string
	media                                    *process
	mediaArgs                                []string
}

func newSplitMedia(t *testing.T, mediaArgs ...string) *splitMedia {
	t.Helper()
	s := &splitMedia{dataDir: t.TempDir(), progressAddr: freePort(t), mediaAddr: freePort(t), notificationAdr: freePort(t), mediaArgs: mediaArgs}
	start(t, "progress", s.dataDir, nil, "--progress-listen", s.progressAddr, "--notification-addr", s.notificationAdr, "--metrics-listen", "")
	start(t, "notification", s.dataDir, nil, "--notification-listen", s.notificationAdr, "--progress-addr", s.progressAddr, "--metrics-listen", "")
	s.startMedia(t)
	return s
}

func (s *splitMedia) startMedia(t *testing.T) {
	t.Helper()
	s.media = start(t, "media", s.dataDir, nil, append([]string{"--media-listen", s.mediaAddr, "--metrics-listen", "",
		"--progress-addr", s.progressAddr, "--notification-addr", s.notificationAdr}, s.mediaArgs...)...)
}

func (s *splitMedia) gateway(t *testing.T) *process {
	t.Helper()
	return start(t, "gateway", s.dataDir, nil, "--gateway-listen", "127.0.0.1:0", "--progress-addr", s.progressAddr,
		"--media-addr", s.mediaAddr, "--notification-addr", s.notificationAdr, "--metrics-listen", "")
}

// tusCall sends one tus 1.0 request; body may be nil. It returns the
// response with its body read and closed.
func tusCall(t *testing.T, method, url, token string, body io.Reader, size int64, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.ContentLength = size
	}
	req.Header.Set("Tus-Resumable", "1.0.0")
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	out, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp, string(out)
}

func tusMeta(pairs ...string) string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		out = append(out, pairs[i]+" "+base64.StdEncoding.EncodeToString([]byte(pairs[i+1])))
	}
	return strings.Join(out, ",")
}

// tusCreate creates an upload of size bytes through a gateway and returns
// its absolute URL.
func tusCreate(t *testing.T, gateway, token, child string, size int64) string {
	t.Helper()
	resp, body := tusCall(t, "POST", "http://"+gateway+"/v1/uploads/", token, nil, 0,
		"Upload-Length", strconv.FormatInt(size, 10), "Upload-Metadata", tusMeta("child", child, "filename", "big.mp4", "title", "Big video", "kind", "video"))
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusCreated || loc == "" {
		t.Fatalf("create: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + gateway + loc
	}
	return loc
}

// onGateway moves an upload URL onto another gateway.
func onGateway(loc, gateway string) string {
	i := strings.Index(loc, "/v1/uploads/")
	return "http://" + gateway + loc[i:]
}

// tusPatch sends bytes [from, to) of the file at offset from and returns
// the response.
func tusPatch(t *testing.T, loc, token, path string, from, to int64) (*http.Response, string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return tusCall(t, "PATCH", loc, token, io.NewSectionReader(f, from, to-from), to-from,
		"Upload-Offset", strconv.FormatInt(from, 10), "Content-Type", "application/offset+octet-stream")
}

func tusOffset(t *testing.T, loc, token string) int64 {
	t.Helper()
	resp, body := tusCall(t, "HEAD", loc, token, nil, 0)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HEAD %s: %d %s", loc, resp.StatusCode, body)
	}
	n, err := strconv.ParseInt(resp.Header.Get("Upload-Offset"), 10, 64)
	if err != nil {
		t.Fatalf("HEAD %s: Upload-Offset %q", loc, resp.Header.Get("Upload-Offset"))
	}
	return n
}

// restGet GETs a gateway path and decodes a JSON answer into out.
func restGet(t *testing.T, gateway, path, token string, out any) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+gateway+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

type mediaItemJSON struct {
	Name           string `json:"name"`
	SizeBytes      string `json:"sizeBytes"`
	ContentType    string `json:"contentType"`
	OriginalSha256 string `json:"originalSha256"`
}

func getItem(t *testing.T, gateway, token, item string) mediaItemJSON {
	t.Helper()
	var it mediaItemJSON
	restGet(t, gateway, "/v1/"+item, token, &it)
	return it
}

func listItems(t *testing.T, gateway, token, child string) []mediaItemJSON {
	t.Helper()
	var resp struct {
		MediaItems []mediaItemJSON `json:"mediaItems"`
	}
	restGet(t, gateway, "/v1/"+child+"/media", token, &resp)
	return resp.MediaItems
}

// contentSHA256 streams an item's bytes (GET :content) and hashes them.
func contentSHA256(t *testing.T, gateway, token, item string) (string, int64) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+gateway+"/v1/"+item+":content", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s:content: %d %s", item, resp.StatusCode, body)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	if err != nil {
		t.Fatalf("reading %s:content: %v", item, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

// vmHWM reads a process's resident-set high-water mark, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc here to read the memory high-water mark: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM line %q: %v", line, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// tusLine is one JSON line tus.mjs printed.
type tusLine struct {
	Kind    string `json:"kind"`
	Percent int    `json:"percent"`
	Status  int    `json:"status"`
	Item    string `json:"item"`
	URL     string `json:"url"`
	Message string `json:"message"`
	raw     string
}

// runTusScript starts tus.mjs and returns its lines (closed at its end)
// and a channel with its exit. It is killed when the test ends.
func runTusScript(t *testing.T, dir string, timeout time.Duration, args ...string) (<-chan tusLine, <-chan error, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	args = append(append([]string{"tus.mjs"}, args...), strconv.FormatInt(timeout.Milliseconds(), 10))
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	output := &syncBuffer{}
	cmd.Stderr = output
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines, done := make(chan tusLine, 1000), make(chan error, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			output.Write(append(sc.Bytes(), '\n'))
			var l tusLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l.Kind = "unparsable"
			}
			l.raw = sc.Text()
			lines <- l
		}
		io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	// The exit goes both to the test and to the cleanup, which kills the
	// script if it still runs and waits for it.
	exited, relay := make(chan error, 1), make(chan error, 1)
	t.Cleanup(func() { cancel(); <-exited })
	go func() {
		err := <-done
		exited <- err
		relay <- err
	}()
	return lines, relay, output
}

// TestTusJSClientSurvivesCuts uploads a big video (1 GiB by default) with
// tus-js-client through a proxy that cuts every connection twice mid-way;
// the client resumes by itself, the item's original SHA-256 is the file's,
// and the gateway never holds more than a bounded amount of it in memory.
func TestTusJSClientSurvivesCuts(t *testing.T) {
	dir := nodeClients(t)
	size := tusBytes(t)
	path, sum := bigMP4(t, t.TempDir(), size)
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	fam := newMediaFamily(t, dataDir, p.progress)
	proxy := newCutProxy(t, p.gateway)
	endpoint := "http://" + proxy.lis.Addr().String() + "/v1/uploads/"

	// 64 MiB PATCHes, and at least eight of them for a shrunk file, so
	// the cuts land mid-upload.
	chunk := min(int64(64<<20), max(size/8, 1<<20))
	began := time.Now()
	lines, done, output := runTusScript(t, dir, 15*time.Minute, endpoint, path, fam.teacher, fam.child, strconv.FormatInt(chunk, 10))
	cuts := []int{30, 60} // cut when the client reports more than these percentages
	retries := 0
	var item string
	idle := time.NewTimer(2 * time.Minute)
	defer idle.Stop()
wait:
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				break wait
			}
			idle.Reset(2 * time.Minute)
			switch l.Kind {
			case "progress":
				if len(cuts) > 0 && l.Percent > cuts[0] {
					t.Logf("cutting every connection at %d%% (%s)", l.Percent, time.Since(began).Round(time.Millisecond))
					proxy.setCut(true)
					time.Sleep(300 * time.Millisecond) // the client sees refused connections, then retries
					proxy.setCut(false)
					cuts = cuts[1:]
				}
			case "retry":
				retries++
			case "done":
				item = l.Item
			case "failed", "timeout", "unparsable":
				t.Fatalf("tus.mjs: %s; it printed:\n%s", l.raw, output)
			}
		case <-idle.C:
			t.Fatalf("tus.mjs printed nothing for 2 minutes; it printed:\n%s", output)
		}
	}
	if err := <-done; err != nil {
		t.Fatalf("tus.mjs: %v; it printed:\n%s", err, output)
	}
	elapsed := time.Since(began)
	if len(cuts) > 0 {
		t.Fatalf("the upload finished before cuts at %v%%: it printed:\n%s", cuts, output)
	}
	if retries == 0 {
		t.Fatalf("tus-js-client never retried, so the cuts were not felt; it printed:\n%s", output)
	}
	if !strings.Contains(item, "/media/") {
		t.Fatalf("no Kinbridge-Media-Item on the last PATCH: %q; it printed:\n%s", item, output)
	}
	it := getItem(t, p.gateway, fam.teacher, item)
	if it.OriginalSha256 != sum || it.SizeBytes != strconv.FormatInt(size, 10) || it.ContentType != "video/mp4" {
		t.Fatalf("the item %+v; want originalSha256 %s, %d bytes of video/mp4", it, sum, size)
	}
	hwm := vmHWM(t, p.cmd.Process.Pid)
	t.Logf("%d bytes in %s (%.1f MiB/s) with %d retries; serve all VmHWM %d MiB",
		size, elapsed.Round(time.Millisecond), float64(size)/(1<<20)/elapsed.Seconds(), retries, hwm>>20)
	if limit := int64(512 << 20); hwm >= limit || (size >= 1<<30 && hwm >= size/2) {
		t.Fatalf("serve all's resident set reached %d MiB for a %d MiB upload: bytes are held in memory", hwm>>20, size>>20)
	}
}

// TestUploadResumesThroughAnotherGateway writes the first half of an
// upload through one gateway and the rest through another: no gateway
// keeps upload state.
func TestUploadResumesThroughAnotherGateway(t *testing.T) {
	size := min(tusBytes(t), 64<<20)
	path, sum := bigMP4(t, t.TempDir(), size)
	s := newSplitMedia(t, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	gw1, gw2 := s.gateway(t), s.gateway(t)
	fam := newMediaFamily(t, s.dataDir, s.progressAddr)

	loc := tusCreate(t, gw1.gateway, fam.teacher, fam.child, size)
	half := size / 2
	if resp, body := tusPatch(t, loc, fam.teacher, path, 0, half); resp.StatusCode != http.StatusNoContent || resp.Header.Get("Upload-Offset") != strconv.FormatInt(half, 10) {
		t.Fatalf("first half through gateway 1: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	loc2 := onGateway(loc, gw2.gateway)
	if got := tusOffset(t, loc2, fam.teacher); got != half {
		t.Fatalf("gateway 2 reports offset %d; want %d", got, half)
	}
	resp, body := tusPatch(t, loc2, fam.teacher, path, half, size)
	item := resp.Header.Get("Kinbridge-Media-Item")
	if resp.StatusCode != http.StatusNoContent || !strings.Contains(item, "/media/") {
		t.Fatalf("the rest through gateway 2: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	for _, gw := range []*process{gw1, gw2} {
		if it := getItem(t, gw.gateway, fam.teacher, item); it.OriginalSha256 != sum {
			t.Fatalf("the item through %s: %+v; want originalSha256 %s", gw.gateway, it, sum)
		}
	}
	if got, n := contentSHA256(t, gw1.gateway, fam.teacher, item); got != sum || n != size {
		t.Fatalf("GET :content: %d bytes with SHA-256 %s; want %d bytes with %s", n, got, size, sum)
	}
}

// TestMediaKilledMidUpload SIGKILLs media while a PATCH streams into it.
// After a restart on the same address and data dir, HEAD reports what was
// committed, no item exists yet, and the upload resumes from there.
func TestMediaKilledMidUpload(t *testing.T) {
	size := min(tusBytes(t), 256<<20)
	path, sum := bigMP4(t, t.TempDir(), size)
	s := newSplitMedia(t, "--max-video-bytes", strconv.FormatInt(size+1<<20, 10))
	gw := s.gateway(t)
	fam := newMediaFamily(t, s.dataDir, s.progressAddr)
	loc := tusCreate(t, gw.gateway, fam.teacher, fam.child, size)

	// The PATCH body is paced: a quarter at once, then a trickle, so media
	// is surely killed with part, not all, of the upload committed.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pr, pw := io.Pipe()
	sent := make(chan struct{})
	go func() {
		defer pw.Close()
		if _, err := io.Copy(pw, io.NewSectionReader(f, 0, size/4)); err != nil {
			return
		}
		close(sent)
		trickle := io.NewSectionReader(f, size/4, size-size/4)
		buf := make([]byte, 64<<10)
		for {
			n, err := trickle.Read(buf)
			if n > 0 {
				if _, werr := pw.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	patched := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", loc, pr)
		req.ContentLength = size
		req.Header.Set("Tus-Resumable", "1.0.0")
		req.Header.Set("Authorization", "Bearer "+fam.teacher)
		req.Header.Set("Upload-Offset", "0")
		req.Header.Set("Content-Type", "application/offset+octet-stream")
		resp, err := (&http.Client{Timeout: 2 * time.Minute}).Do(req)
		if err != nil {
			pr.CloseWithError(err)
			patched <- nil
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		pr.CloseWithError(io.ErrClosedPipe) // the gateway answered: stop feeding it
		patched <- resp
	}()
	select {
	case <-sent:
	case resp := <-patched:
		t.Fatalf("the PATCH ended before a quarter was sent: %v", resp)
	case <-time.After(2 * time.Minute):
		t.Fatal("a quarter of the upload was not accepted within 2 minutes")
	}
	time.Sleep(time.Second) // media commits what it has received
	s.media.kill(t)
	var resp *http.Response
	select {
	case resp = <-patched:
	case <-time.After(time.Minute):
		t.Fatal("the PATCH did not end within a minute of media being killed")
	}
	if resp != nil {
		t.Logf("the PATCH interrupted by the kill answered %d, Upload-Offset %q", resp.StatusCode, resp.Header.Get("Upload-Offset"))
	}

	s.startMedia(t)
	// The gateway answers 503 until its connection to media is back (gRPC
	// reconnects with a backoff); a tus client retries, and so does this.
	for deadline := time.Now().Add(30 * time.Second); ; {
		resp, _ := tusCall(t, "HEAD", loc, fam.teacher, nil, 0)
		if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	committed := tusOffset(t, loc, fam.teacher)
	if committed <= 0 || committed >= size {
		t.Fatalf("after the restart HEAD reports offset %d of %d; want part of the upload", committed, size)
	}
	if items := listItems(t, gw.gateway, fam.teacher, fam.child); len(items) != 0 {
		t.Fatalf("an item exists before the upload finished: %+v", items)
	}
	t.Logf("media killed with %d of %d bytes committed", committed, size)

	r, body := tusPatch(t, loc, fam.teacher, path, committed, size)
	item := r.Header.Get("Kinbridge-Media-Item")
	if r.StatusCode != http.StatusNoContent || !strings.Contains(item, "/media/") {
		t.Fatalf("resuming at %d: %d %v %s", committed, r.StatusCode, r.Header, body)
	}
	if it := getItem(t, gw.gateway, fam.teacher, item); it.OriginalSha256 != sum {
		t.Fatalf("the item %+v; want originalSha256 %s", it, sum)
	}
	if got, n := contentSHA256(t, gw.gateway, fam.teacher, item); got != sum || n != size {
		t.Fatalf("GET :content: %d bytes with SHA-256 %s; want %d bytes with %s", n, got, size, sum)
	}
	if items := listItems(t, gw.gateway, fam.teacher, fam.child); len(items) != 1 {
		t.Fatalf("want exactly one item, got %+v", items)
	}
}
