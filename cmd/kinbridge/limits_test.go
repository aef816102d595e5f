package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// The suite's HTTP timeouts, set short, against what must take longer.

// shortTimeouts are HTTP timeouts a test can outlast in a second or two.
var shortTimeouts = []string{"--http-read-timeout", "1s", "--http-write-timeout", "1s",
	"--http-idle-timeout", "1s", "--http-read-header-timeout", "300ms"}

// TestLongRequestsOutliveShortTimeouts runs the suite with HTTP timeouts of
// a second and checks that what must take longer does: the live feeds
// (SSE, WebSocket, the NDJSON stream) still deliver, uploads trickled over
// longer than the read timeout (one request, tus) are stored, and a
// download read slowly arrives whole. A control request on an ordinary
// route, begun after them and stalled, shows when the timeouts have
// passed: the server cuts it, and by then every default deadline of the
// long requests, which began earlier, has passed too.
func TestLongRequestsOutliveShortTimeouts(t *testing.T) {
	s := startSuite(t, shortTimeouts...)
	child := s.family(t)
	maria, teacher := s.userToken(t, "maria", false), s.userToken(t, "teacher", false)
	s.settled(t, maria, "teacher may now follow")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The feeds, each read until its first line or frame: it is open.
	sse := s.lines(t, ctx, "/v1/notifications/events", maria)
	ndjson := s.lines(t, ctx, "/v1/users/me/notifications:stream", maria)
	ws := s.frames(t, ctx, maria)
	for name, feed := range map[string]<-chan string{"SSE": sse, "NDJSON": ndjson, "WebSocket": ws} {
		next(t, feed, name+" opening")
	}

	// The uploads, trickled until the control request is cut.
	release := make(chan struct{})
	big := noisePNG(t, 3000, 1500) // far more than socket buffers hold
	upload := make(chan response, 1)
	go func() {
		upload <- s.paced(t, "POST", "/v1/"+child+"/media:upload?kind=photo&title=Big", teacher, big, release)
	}()
	small := noisePNG(t, 512, 512)
	created := s.tusRequest(t, "POST", "/v1/uploads/", teacher, nil,
		"Upload-Length", strconv.Itoa(len(small)), "Upload-Metadata", tusMetadata("child", child, "kind", "photo"))
	if created.StatusCode != http.StatusCreated {
		t.Fatalf("tus create: %d", created.StatusCode)
	}
	patch := make(chan response, 1)
	go func() {
		patch <- s.paced(t, "PATCH", created.Header.Get("Location"), teacher, small, release,
			"Tus-Resumable", "1.0.0", "Upload-Offset", "0", "Content-Type", "application/offset+octet-stream")
	}()

	s.waitForCut(t)
	close(release)

	if r := <-upload; r.status != http.StatusOK {
		t.Fatalf("the trickled upload: %d %s", r.status, r.body)
	}
	if r := <-patch; r.status != http.StatusNoContent || r.header.Get("Upload-Offset") != strconv.Itoa(len(small)) {
		t.Fatalf("the trickled tus PATCH: %d %v %s", r.status, r.header, r.body)
	}

	s.record(t, child, teacher, "after the timeouts")
	for name, feed := range map[string]<-chan string{"SSE": sse, "NDJSON": ndjson, "WebSocket": ws} {
		for line := next(t, feed, name); !strings.Contains(line, "after the timeouts"); line = next(t, feed, name) {
		}
	}

	// A download read slowly, past the write timeout.
	items := s.call(t, "GET", "/v1/"+child+"/media?pageSize=10", maria, "").json(t)["mediaItems"].([]any)
	var item map[string]any
	for _, it := range items {
		if it.(map[string]any)["title"] == "Big" {
			item = it.(map[string]any)
		}
	}
	if item == nil {
		t.Fatalf("the big upload is not listed: %v", items)
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+"/v1/"+item["name"].(string)+":content", nil)
	req.Header.Set("Authorization", "Bearer "+maria)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("download: %v %v", resp, err)
	}
	defer resp.Body.Close()
	release = make(chan struct{})
	read := make(chan error, 1)
	h := sha256.New()
	var got int64
	go func() {
		var err error
		got, err = io.Copy(h, &pacedReader{r: resp.Body, release: release})
		read <- err
	}()
	s.waitForCut(t)
	close(release)
	if err := <-read; err != nil {
		t.Fatalf("the slow download broke off after %d bytes: %v", got, err)
	}
	if got != resp.ContentLength || hex.EncodeToString(h.Sum(nil)) != item["contentSha256"] {
		t.Fatalf("the slow download: %d bytes of %d, sha %x, want %s", got, resp.ContentLength, h.Sum(nil), item["contentSha256"])
	}
}

// TestSlowHeadersAreCutOnEveryHTTPPort: the gateway's and the metrics
// listener's servers both cut a client that never finishes its headers.
func TestSlowHeadersAreCutOnEveryHTTPPort(t *testing.T) {
	s := startSuite(t, shortTimeouts...)
	metrics, err := url.Parse(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	for name, addr := range map[string]string{"gateway": strings.TrimPrefix(s.gateway, "http://"), "metrics": metrics.Host} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: kinbridge\r\nX-Slow: "); err != nil {
			t.Fatal(err)
		}
		if !closedByServer(conn) {
			t.Errorf("%s: a request whose headers never end was not cut", name)
		}
	}
}

// closedByServer waits until the server closes conn. The client's own
// deadline only keeps a broken test from hanging.
func closedByServer(conn net.Conn) bool {
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, err := io.Copy(io.Discard, conn)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// waitForCut starts a request on an ordinary route, stalls its body, and
// waits until the server cuts it: the server's read timeout has passed
// since it began.
func (s *suite) waitForCut(t *testing.T) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.gateway, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /v1/children HTTP/1.1\r\nHost: kinbridge\r\nAuthorization: Bearer %s\r\nContent-Length: 100\r\n\r\n{", s.adminToken)
	if !closedByServer(conn) {
		t.Fatal("a stalled request on an ordinary route was never cut")
	}
}

// paced sends a request whose body comes slowly until release is closed,
// then at once, and returns the answer.
func (s *suite) paced(t *testing.T, method, path, token string, body []byte, release <-chan struct{}, headers ...string) response {
	if !strings.HasPrefix(path, "http") {
		path = s.gateway + path
	}
	req, _ := http.NewRequest(method, path, &pacedReader{r: bytes.NewReader(body), release: release})
	req.ContentLength = int64(len(body))
	req.Header.Set("Authorization", "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{status: -1, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// pacedReader reads 16 KiB every 20 ms until release is closed, then as
// fast as it can.
type pacedReader struct {
	r       io.Reader
	release <-chan struct{}
}

func (p *pacedReader) Read(b []byte) (int, error) {
	select {
	case <-p.release:
		return p.r.Read(b)
	case <-time.After(20 * time.Millisecond):
		return p.r.Read(b[:min(len(b), 16<<10)])
	}
}

// lines reads an HTTP feed line by line (empty lines skipped).
func (s *suite) lines(t *testing.T, ctx context.Context, path, token string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %v %v", path, resp, err)
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if sc.Text() != "" {
				out <- sc.Text()
			}
		}
	}()
	return out
}

// frames reads the WebSocket feed, frame by frame.
func (s *suite) frames(t *testing.T, ctx context.Context, token string) <-chan string {
	t.Helper()
	conn, _, err := websocket.Dial(ctx, strings.Replace(s.gateway, "http://", "ws://", 1)+"/v1/notifications/ws?access_token="+token, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan string, 100)
	go func() {
		defer close(out)
		defer conn.CloseNow()
		for {
			_, b, err := conn.Read(ctx)
			if err != nil {
				return
			}
			var frame map[string]any
			if json.Unmarshal(b, &frame) == nil {
				out <- string(b)
			}
		}
	}()
	return out
}

// noisePNG is an uncompressed PNG of w x h random pixels: w*h*4 bytes.
func noisePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = byte(r.Uint32())
	}
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
