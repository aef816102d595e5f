package gateway_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kinbridge/kinbridge/gateway"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/gen/openapi"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/httpserver"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// Limits before work, seen from outside: a gateway on a real HTTP server
// whose connections count every byte the server reads. Its services are
// down: what these tests send must be settled before any service is asked.

// slack is what the server may read besides what a limit allows: the
// request's headers and the rest of its first buffered read.
const slack = 64 << 10

// discardLimit is what net/http reads of a body nobody read, to reuse the
// connection, before it gives up and closes it instead.
const discardLimit = 256 << 10

type limitedGateway struct {
	addr  string
	read  sync.Map // client address -> *atomic.Int64, the bytes the server read from it
	token string
	spool string
}

// readFrom returns how many bytes the server read from the client at addr.
func (lg *limitedGateway) readFrom(addr string) int64 {
	if n, ok := lg.read.Load(addr); ok {
		return n.(*atomic.Int64).Load()
	}
	return 0
}

// startLimited runs the gateway; mediaTarget, when given, is its media
// service (the others are down).
func startLimited(t *testing.T, limits gateway.Limits, mediaTarget ...string) *limitedGateway {
	t.Helper()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	lg := &limitedGateway{spool: t.TempDir()}
	down, media := "127.0.0.1:1", "127.0.0.1:1"
	if len(mediaTarget) > 0 {
		media = mediaTarget[0]
	}
	g, err := gateway.New(context.Background(), gateway.Config{
		ProgressTarget: down, MediaTarget: media, NotificationTarget: down,
		Verifier: v, Limits: limits, SpoolDir: lg.spool, Timeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lg.addr = lis.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- httpserver.Serve(ctx, countingListener{lis, &lg.read}, httpserver.New(g.Handler(), limits.Timeouts), time.Second)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		g.Close()
	})
	if lg.token, err = auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour); err != nil {
		t.Fatal(err)
	}
	return lg
}

type countingListener struct {
	net.Listener
	read *sync.Map
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.read.Store(c.RemoteAddr().String(), n)
	return &countingConn{Conn: c, read: n}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

// CloseWrite lets the server half-close as it does on a bare TCP
// connection: its answer is followed by EOF at once.
func (c *countingConn) CloseWrite() error { return c.Conn.(*net.TCPConn).CloseWrite() }

// request is one request of the tests, with a body of size bytes that
// starts with prefix, goes on with 'a's and ends with suffix; chunked when
// chunked, else with its Content-Length.
type request struct {
	method, path string
	header       []string // name, value, ...
	prefix       string
	suffix       string
	size         int64
	chunked      bool
	json         bool // a grpc-gateway route of the OpenAPI spec
}

// answer is what came back, and what the server had read when the
// exchange was over.
type answer struct {
	status int
	header http.Header
	body   string
	read   int64
	closed bool // the server closed the connection after answering
}

// exchange sends req on a connection of its own, writing the body while
// it waits for the answer, as a client that streams a big body does. The
// body is cut off once the answer is in, so the count is what the server
// read of its own accord.
func (lg *limitedGateway) exchange(t *testing.T, req request) answer {
	t.Helper()
	conn, err := net.Dial("tcp", lg.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(time.Minute)) // a broken test fails instead of hanging
	head := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: kinbridge\r\n", req.method, req.path)
	for i := 0; i+1 < len(req.header); i += 2 {
		head += req.header[i] + ": " + req.header[i+1] + "\r\n"
	}
	if req.chunked {
		head += "Transfer-Encoding: chunked\r\n\r\n"
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n", req.size)
	}
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		writeBody(conn, req)
	}()
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", req.method, req.path, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header, body: string(body), closed: resp.Close}
	if a.closed {
		// Wait for the server to hang up: what it read is final then.
		_, _ = io.Copy(io.Discard, br)
	}
	conn.Close()
	<-sent
	a.read = lg.readFrom(conn.LocalAddr().String())
	return a
}

func writeBody(w io.Writer, req request) {
	buf := make([]byte, 32<<10)
	for i := range buf {
		buf[i] = 'a'
	}
	left := req.size
	for first := true; left > 0; first = false {
		chunk := buf[:min(int64(len(buf)), left)]
		if first && req.prefix != "" {
			chunk = append([]byte(req.prefix), chunk[:max(0, len(chunk)-len(req.prefix))]...)
		}
		if int64(len(chunk)) == left && req.suffix != "" {
			chunk = append(chunk[:len(chunk)-len(req.suffix):len(chunk)-len(req.suffix)], req.suffix...)
		}
		var err error
		if req.chunked {
			_, err = fmt.Fprintf(w, "%x\r\n%s\r\n", len(chunk), chunk)
		} else {
			_, err = w.Write(chunk)
		}
		if err != nil {
			return // the server hung up
		}
		left -= int64(len(chunk))
	}
	if req.chunked {
		_, _ = io.WriteString(w, "0\r\n\r\n")
	}
}

const jsonPrefix = `{"displayName": "`

// huge is a body far larger than any limit of these tests.
const huge = 256 << 20

func TestNoTokenIsRefusedBeforeTheBody(t *testing.T) {
	lg := startLimited(t, gateway.Limits{})
	multipart := "multipart/form-data; boundary=xyz"
	routes := []request{
		{method: "POST", path: "/v1/children", prefix: jsonPrefix},
		{method: "PATCH", path: "/v1/children/a", prefix: jsonPrefix},
		{method: "POST", path: "/v1/children/a/assessments", prefix: jsonPrefix},
		{method: "POST", path: "/v1/children/a/media:upload?kind=video"},
		{method: "POST", path: "/v1/children/a/media:upload", header: []string{"Content-Type", multipart},
			prefix: "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"},
		{method: "POST", path: "/v1/uploads/", header: []string{"Tus-Resumable", "1.0.0", "Upload-Length", "1000",
			"Content-Type", "application/offset+octet-stream"}},
		{method: "PATCH", path: "/v1/uploads/a.b", header: []string{"Tus-Resumable", "1.0.0", "Upload-Offset", "0",
			"Content-Type", "application/offset+octet-stream"}},
		{method: "GET", path: "/v1/children/a/media/b:content"},
		{method: "GET", path: "/v1/notifications/events"},
		{method: "POST", path: "/v1/children/a/notifications:markRead", prefix: "{"},
	}
	t.Run("routes", func(t *testing.T) {
		for _, route := range routes {
			for _, token := range []string{"", "Bearer not-a-token", "Basic bWFyaWE6cGFzcw=="} {
				for _, chunked := range []bool{false, true} {
					req := route
					req.size, req.chunked = huge, chunked
					if token != "" {
						req.header = append(slices.Clone(req.header), "Authorization", token)
					}
					name := fmt.Sprintf("%s %s (token %q, chunked %v)", req.method, req.path, token, chunked)
					t.Run(name, func(t *testing.T) {
						t.Parallel()
						a := lg.exchange(t, req)
						if a.status != http.StatusUnauthorized || a.header.Get("WWW-Authenticate") == "" {
							t.Errorf("%d %s, want 401 with WWW-Authenticate", a.status, a.body)
						}
						if !a.closed {
							t.Error("the connection stays open, to read a body nobody wants")
						}
						if a.read > slack {
							t.Errorf("the server read %d bytes before refusing (at most %d allowed)", a.read, slack)
						}
					})
				}
			}
		}
	})
	if files, _ := filepath.Glob(filepath.Join(lg.spool, "*")); len(files) > 0 {
		t.Errorf("refused uploads left spool files: %v", files)
	}
}

// publicRoutes are every public HTTP route of the gateway: each route of
// the OpenAPI spec (so a route added there is covered without touching
// this test), with its path parameters filled, and the routes the
// gateway serves by hand.
func publicRoutes(t *testing.T) []request {
	t.Helper()
	var spec struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(openapi.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	var out []request
	for path, methods := range spec.Paths {
		for method, raw := range methods {
			var op struct{ OperationID string }
			if err := json.Unmarshal(raw, &op); err != nil || !grpcGatewayRoute(op.OperationID) {
				continue // path-level fields, or a route served by hand (listed below)
			}
			out = append(out, request{method: strings.ToUpper(method), path: param.ReplaceAllString(path, "a"), prefix: jsonPrefix, json: true})
		}
	}
	if len(out) < 20 {
		t.Fatalf("only %d routes in the OpenAPI spec", len(out))
	}
	tus := []string{"Tus-Resumable", "1.0.0", "Content-Type", "application/offset+octet-stream"}
	return append(out,
		request{method: "GET", path: "/v1/notifications/events"},
		request{method: "GET", path: "/v1/notifications/ws"},
		request{method: "GET", path: "/v1/children/a/media/b:content"},
		request{method: "HEAD", path: "/v1/children/a/media/b:content"},
		request{method: "POST", path: "/v1/uploads/", header: append([]string{"Upload-Length", "100"}, tus...)},
		request{method: "PATCH", path: "/v1/uploads/a.b", header: append([]string{"Upload-Offset", "0"}, tus...)},
		request{method: "GET", path: "/healthz"},
		request{method: "GET", path: "/readyz"},
		request{method: "GET", path: "/docs"},
		request{method: "GET", path: "/docs/swagger-ui/swagger-ui-bundle.js"},
		request{method: "GET", path: "/openapi.json"},
		request{method: "GET", path: "/"},
		request{method: "POST", path: "/no/such/route"},
		request{method: "POST", path: "/v1/no/such/route", prefix: jsonPrefix},
	)
}

// grpcGatewayRoute says the spec's operation id names a method of a public
// service, which grpc-gateway routes.
func grpcGatewayRoute(operationID string) bool {
	for _, fd := range []protoreflect.FileDescriptor{progressv1.File_kinbridge_progress_v1_progress_proto,
		mediav1.File_kinbridge_media_v1_media_proto, notificationv1.File_kinbridge_notification_v1_notification_proto} {
		if fd.Services().Get(0).Methods().ByName(protoreflect.Name(operationID)) != nil {
			return true
		}
	}
	return false
}

// TestEveryRouteBoundsItsBody sends every public route a body far over the
// JSON limit, declared and chunked, with a valid token. A route that reads
// bodies answers 413 as soon as the body runs past its limit (or at once,
// when Content-Length says so); no route lets the server read more than
// the limit, and every answer closes the connection rather than read the
// rest.
func TestEveryRouteBoundsItsBody(t *testing.T) {
	const limit = 64 << 10
	lg := startLimited(t, gateway.Limits{JSONBytes: limit, PhotoBytes: 1 << 20, VideoBytes: 2 << 20})
	bound := int64(limit + slack)
	for _, route := range publicRoutes(t) {
		for _, chunked := range []bool{false, true} {
			req := route
			req.size, req.chunked = 16<<20, chunked
			req.header = append(slices.Clone(req.header), "Authorization", "Bearer "+lg.token)
			t.Run(fmt.Sprintf("%s %s (chunked %v)", req.method, req.path, chunked), func(t *testing.T) {
				t.Parallel()
				a := lg.exchange(t, req)
				if a.read > bound {
					t.Errorf("the server read %d bytes of a 16 MiB body (%d allowed): %d %s", a.read, bound, a.status, a.body)
				}
				if !a.closed {
					t.Errorf("%d, and the connection stays open to read the rest", a.status)
				}
				takesJSON := req.json && (req.method == "POST" || req.method == "PATCH")
				if takesJSON && (a.status != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "TOO_LARGE")) {
					t.Errorf("%d %s, want 413 TOO_LARGE", a.status, a.body)
				}
			})
		}
	}
}

func TestBodiesWithinTheirLimitPass(t *testing.T) {
	lg := startLimited(t, gateway.Limits{JSONBytes: 64 << 10, PhotoBytes: 1 << 20, VideoBytes: 2 << 20})
	auth := []string{"Authorization", "Bearer " + lg.token}
	for _, req := range []request{
		{method: "POST", path: "/v1/children", prefix: jsonPrefix, size: 60 << 10},
		{method: "POST", path: "/v1/children", prefix: jsonPrefix, size: 60 << 10, chunked: true},
		{method: "POST", path: "/v1/children/a/media:upload?kind=photo", size: 1 << 20},
		{method: "POST", path: "/v1/children/a/media:upload?kind=video", size: 2 << 20},
		{method: "POST", path: "/v1/children/a/media:upload?kind=photo", size: 1 << 20, header: []string{"Content-Type", "multipart/form-data; boundary=xyz"},
			prefix: "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n", suffix: "\r\n--xyz--\r\n"},
	} {
		req.header = append(req.header, auth...)
		// The body is taken whole and reaches for the service, which is
		// down (503): no limit stood in the way.
		if a := lg.exchange(t, req); a.status != http.StatusServiceUnavailable && a.status != http.StatusBadRequest {
			t.Errorf("%s %s (%d bytes, chunked %v): %d %s", req.method, req.path, req.size, req.chunked, a.status, a.body)
		}
	}
}

func TestUploadBodiesAreBoundedByKind(t *testing.T) {
	lg := startLimited(t, gateway.Limits{PhotoBytes: 1 << 20, VideoBytes: 2 << 20})
	auth := []string{"Authorization", "Bearer " + lg.token}
	multipart := []string{"Content-Type", "multipart/form-data; boundary=xyz"}
	filePart := "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
	for _, tc := range []struct {
		req   request
		limit int64
	}{
		{request{method: "POST", path: "/v1/children/a/media:upload?kind=photo", size: huge}, 1 << 20},
		{request{method: "POST", path: "/v1/children/a/media:upload?kind=artwork", size: (1 << 20) + 1}, 1 << 20},
		{request{method: "POST", path: "/v1/children/a/media:upload?kind=video", size: huge}, 2 << 20},
		{request{method: "POST", path: "/v1/children/a/media:upload", size: huge}, 2 << 20},
		{request{method: "POST", path: "/v1/children/a/media:upload?kind=photo", size: huge, header: multipart, prefix: filePart}, 1 << 20},
		{request{method: "POST", path: "/v1/children/a/media:upload?kind=photo", size: huge, header: multipart, prefix: filePart, chunked: true}, 1 << 20},
		// tus: an Upload-Length over the largest upload is refused before
		// any session exists, with or without bytes sent along.
		{request{method: "POST", path: "/v1/uploads/", size: huge, header: []string{"Tus-Resumable", "1.0.0",
			"Upload-Length", strconv.Itoa(2<<20 + 1), "Content-Type", "application/offset+octet-stream"}}, 0},
		{request{method: "POST", path: "/v1/uploads/", size: huge, chunked: true, header: []string{"Tus-Resumable", "1.0.0",
			"Upload-Length", strconv.Itoa(2<<20 + 1), "Content-Type", "application/offset+octet-stream"}}, 0},
	} {
		req := tc.req
		req.header = append(slices.Clone(req.header), auth...)
		name := fmt.Sprintf("%s %s (%v, chunked %v)", req.method, req.path, req.header, req.chunked)
		a := lg.exchange(t, req)
		// The gateway's refusals say TOO_LARGE; tusd's, "maximum size exceeded".
		saysWhy := strings.Contains(a.body, "TOO_LARGE") || strings.Contains(a.body, "maximum size exceeded")
		if a.status != http.StatusRequestEntityTooLarge || !saysWhy {
			t.Errorf("%s: %d %s, want 413", name, a.status, a.body)
		}
		if a.read > tc.limit+slack {
			t.Errorf("%s: the server read %d bytes (limit %d)", name, a.read, tc.limit)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(lg.spool, "*")); len(files) > 0 {
		t.Errorf("refused uploads left spool files: %v", files)
	}
}

// TestSpoolFilesHaveNoName: a multipart upload is spooled to a file that
// has no name while it is written, so a crash cannot leave it behind; and
// what an older crash left in the spool directory is removed when a
// gateway starts.
func TestSpoolFilesHaveNoName(t *testing.T) {
	dir := t.TempDir()
	left := filepath.Join(dir, "kinbridge-upload-123456")
	other := filepath.Join(dir, "someone-elses-file")
	for _, f := range []string{left, other} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	userPub, _, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), gateway.Config{Verifier: v, SpoolDir: dir,
		ProgressTarget: "127.0.0.1:1", MediaTarget: "127.0.0.1:1", NotificationTarget: "127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Errorf("a spool file a crash left is still there (%v)", err)
	}
	if _, err := os.Stat(other); err != nil {
		t.Errorf("a file that is no spool file was touched: %v", err)
	}

	lg := startLimited(t, gateway.Limits{})
	conn, err := net.Dial("tcp", lg.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	part := "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n"
	fmt.Fprintf(conn, "POST /v1/children/a/media:upload HTTP/1.1\r\nHost: kinbridge\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: %d\r\n\r\n%s", lg.token, 10<<20, part)
	if _, err := conn.Write(make([]byte, 512<<10)); err != nil {
		t.Fatal(err)
	}
	// The upload is being spooled (the server read what was sent), and
	// stalls there: the spool directory shows no name.
	testenv.Eventually(t, "the gateway reads the upload", func() string {
		if n := lg.readFrom(conn.LocalAddr().String()); n < 512<<10 {
			return fmt.Sprintf("read %d bytes", n)
		}
		return ""
	})
	if runtime.GOOS == "linux" {
		testenv.Eventually(t, "a spool file is open", func() string {
			if !openDeleted(lg.spool) {
				return "no open, nameless file in the spool directory"
			}
			return ""
		})
	}
	if files, _ := filepath.Glob(filepath.Join(lg.spool, "*")); len(files) > 0 {
		t.Errorf("a spool file in use has a name a crash would leave behind: %v", files)
	}
}

// openDeleted reports whether this process holds a file of dir open that
// has no name any more (Linux: /proc/self/fd).
func openDeleted(dir string) bool {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, dir+string(filepath.Separator)) && strings.HasSuffix(target, " (deleted)") {
			return true
		}
	}
	return false
}

// TestStalledUploadIsCut: an upload's body may take as long as it keeps
// coming, but one that stops for longer than the read timeout is cut,
// with an answer that says so (and names no address).
func TestStalledUploadIsCut(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	mediav1.RegisterMediaServiceServer(gs, drainingMedia{})
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	lg := startLimited(t, gateway.Limits{Timeouts: httpserver.Timeouts{Read: 200 * time.Millisecond}}, lis.Addr().String())
	for _, tc := range []struct {
		name, contentType, head string
	}{
		{"raw", "image/jpeg", "\xff\xd8\xff"},
		{"multipart", "multipart/form-data; boundary=xyz", "--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff"},
	} {
		conn, err := net.Dial("tcp", lg.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(time.Minute))
		fmt.Fprintf(conn, "POST /v1/children/a/media:upload HTTP/1.1\r\nHost: kinbridge\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: %s\r\nContent-Length: 100000\r\n\r\n%s", lg.token, tc.contentType, tc.head)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("%s: no answer to a stalled upload: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "read timeout") || strings.Contains(string(body), "127.0.0.1") {
			t.Errorf("%s: %d %s, want 408 saying the body stopped arriving", tc.name, resp.StatusCode, body)
		}
	}
}

// drainingMedia takes uploads' bytes until their stream ends.
type drainingMedia struct {
	mediav1.UnimplementedMediaServiceServer
}

func (drainingMedia) UploadMedia(stream grpc.ClientStreamingServer[mediav1.UploadMediaRequest, mediav1.MediaItem]) error {
	for {
		if _, err := stream.Recv(); err != nil {
			return err
		}
	}
}
