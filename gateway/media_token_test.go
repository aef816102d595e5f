package gateway

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// fakeMedia stands in for the media service behind the download route: one
// item, served in small messages from any offset, and a thumbnail. It notes
// the authorization metadata of every call and refuses calls without it,
// as the real service does.
type fakeMedia struct {
	mediav1.UnimplementedMediaServiceServer
	content, thumb []byte

	mu    sync.Mutex
	auths []string
}

const fakeItem = "children/c1/media/m1"

func (f *fakeMedia) caller(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	a := strings.Join(md.Get("authorization"), ",")
	f.mu.Lock()
	f.auths = append(f.auths, a)
	f.mu.Unlock()
	if a == "" {
		return status.Error(codes.Unauthenticated, "no token")
	}
	return nil
}

func (f *fakeMedia) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.auths...)
}

func (f *fakeMedia) GetMediaItem(ctx context.Context, req *mediav1.GetMediaItemRequest) (*mediav1.MediaItem, error) {
	if err := f.caller(ctx); err != nil {
		return nil, err
	}
	if req.GetName() != fakeItem {
		return nil, status.Error(codes.NotFound, "no such item")
	}
	sum := sha256.Sum256(f.content)
	return &mediav1.MediaItem{Name: fakeItem, Title: "Sports day", ContentType: "video/webm",
		SizeBytes: int64(len(f.content)), ContentSha256: hex.EncodeToString(sum[:]),
		CreateTime: timestamppb.New(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))}, nil
}

func (f *fakeMedia) ReadMediaContent(req *mediav1.ReadMediaContentRequest, stream mediav1.MediaService_ReadMediaContentServer) error {
	if err := f.caller(stream.Context()); err != nil {
		return err
	}
	data := f.content
	if req.GetThumbnail() != "" {
		data = f.thumb
	}
	for off := req.GetOffset(); off < int64(len(data)); off += 1000 {
		if err := stream.Send(&mediav1.ReadMediaContentResponse{Data: data[off:min(off+1000, int64(len(data)))]}); err != nil {
			return err
		}
	}
	return nil
}

// mediaFixture is a gateway in front of fakeMedia with telemetry recorded
// in memory and its log kept, to look for tokens where they must not be.
type mediaFixture struct {
	srv            *httptest.Server
	media          *fakeMedia
	user, service  string // tokens
	spans          *tracetest.SpanRecorder
	metrics        *sdkmetric.ManualReader
	logs           *syncLog
	tracerProvider *sdktrace.TracerProvider
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newMediaFixture(t *testing.T) *mediaFixture {
	t.Helper()
	content := make([]byte, 10_000)
	for i := range content {
		content[i] = byte(i*7 + i/256)
	}
	fake := &fakeMedia{content: content, thumb: []byte("\xff\xd8\xff\xe0 a small jpeg")}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	mediav1.RegisterMediaServiceServer(gs, fake)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	f := &mediaFixture{media: fake, spans: tracetest.NewSpanRecorder(), metrics: sdkmetric.NewManualReader(), logs: &syncLog{}}
	f.tracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(f.spans))
	g, err := New(context.Background(), Config{
		ProgressTarget:     "127.0.0.1:1",
		NotificationTarget: "127.0.0.1:1",
		MediaTarget:        lis.Addr().String(),
		Verifier:           v,
		Timeout:            5 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		TracerProvider:     f.tracerProvider,
		MeterProvider:      sdkmetric.NewMeterProvider(sdkmetric.WithReader(f.metrics)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	f.srv = httptest.NewServer(g.Handler())
	t.Cleanup(f.srv.Close)
	if f.user, err = auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour); err != nil {
		t.Fatal(err)
	}
	if f.service, err = auth.NewServiceIdentity(serviceKey, "gateway").Token(); err != nil {
		t.Fatal(err)
	}
	return f
}

type mediaResponse struct {
	status int
	header http.Header
	body   []byte
}

// call GETs (or HEADs) the item's content; headers are name, value pairs.
func (f *mediaFixture) call(t *testing.T, method, query string, headers ...string) mediaResponse {
	t.Helper()
	u := f.srv.URL + "/v1/" + fakeItem + ":content"
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return mediaResponse{resp.StatusCode, resp.Header, body}
}

func tokenQuery(token string, more ...string) string {
	q := url.Values{"access_token": {token}}
	for i := 0; i+1 < len(more); i += 2 {
		q.Set(more[i], more[i+1])
	}
	return q.Encode()
}

// TestContentAccessTokenParameter: the download route takes the token from
// ?access_token= when there is no Authorization header, as a <video src>
// needs, with the same Range, ETag, 304 and nosniff behaviour as with the
// header.
func TestContentAccessTokenParameter(t *testing.T) {
	f := newMediaFixture(t)
	content := f.media.content
	sum := sha256.Sum256(content)
	etag := `"` + hex.EncodeToString(sum[:]) + `"`

	for _, tc := range []struct {
		name    string
		query   string
		headers []string
	}{
		{"header", "", []string{"Authorization", "Bearer " + f.user}},
		{"access_token", tokenQuery(f.user), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := f.call(t, "GET", tc.query, tc.headers...)
			if full.status != http.StatusOK || !bytes.Equal(full.body, content) {
				t.Fatalf("GET: %d, %d bytes (want 200, %d bytes): %s", full.status, len(full.body), len(content), full.body)
			}
			for name, want := range map[string]string{"Content-Type": "video/webm", "ETag": etag, "Accept-Ranges": "bytes",
				"X-Content-Type-Options": "nosniff", "Content-Length": fmt.Sprint(len(content))} {
				if got := full.header.Get(name); got != want {
					t.Errorf("GET: %s %q, want %q", name, got, want)
				}
			}
			for _, rg := range []struct {
				header   string
				from, to int // the bytes expected, [from, to)
			}{
				{"bytes=0-99", 0, 100},
				{"bytes=4321-5320", 4321, 5321},
				{"bytes=-300", len(content) - 300, len(content)},
				{"bytes=9000-", 9000, len(content)},
			} {
				part := f.call(t, "GET", tc.query, append([]string{"Range", rg.header}, tc.headers...)...)
				wantRange := fmt.Sprintf("bytes %d-%d/%d", rg.from, rg.to-1, len(content))
				if part.status != http.StatusPartialContent || !bytes.Equal(part.body, content[rg.from:rg.to]) || part.header.Get("Content-Range") != wantRange {
					t.Errorf("Range %s: %d, Content-Range %q, %d bytes; want 206, %q and bytes [%d,%d)",
						rg.header, part.status, part.header.Get("Content-Range"), len(part.body), wantRange, rg.from, rg.to)
				}
			}
			if r := f.call(t, "GET", tc.query, append([]string{"Range", "bytes=20000-"}, tc.headers...)...); r.status != http.StatusRequestedRangeNotSatisfiable {
				t.Errorf("unsatisfiable Range: %d, want 416", r.status)
			}
			if r := f.call(t, "GET", tc.query, append([]string{"If-None-Match", etag}, tc.headers...)...); r.status != http.StatusNotModified || len(r.body) != 0 {
				t.Errorf("If-None-Match: %d with %d bytes, want 304 and none", r.status, len(r.body))
			}
			if r := f.call(t, "HEAD", tc.query, tc.headers...); r.status != http.StatusOK || r.header.Get("Content-Length") != fmt.Sprint(len(content)) {
				t.Errorf("HEAD: %d, Content-Length %q", r.status, r.header.Get("Content-Length"))
			}
			thumbQuery := "thumbnail=small"
			if tc.query != "" {
				thumbQuery = tokenQuery(f.user, "thumbnail", "small")
			}
			th := f.call(t, "GET", thumbQuery, tc.headers...)
			if th.status != http.StatusOK || !bytes.Equal(th.body, f.media.thumb) || th.header.Get("Content-Type") != "image/jpeg" ||
				th.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("thumbnail: %d %v %q", th.status, th.header, th.body)
			}
			if r := f.call(t, "GET", thumbQuery, append([]string{"Range", "bytes=2-5"}, tc.headers...)...); r.status != http.StatusPartialContent || !bytes.Equal(r.body, f.media.thumb[2:6]) {
				t.Errorf("thumbnail Range: %d %q", r.status, r.body)
			}
		})
	}
	for i, a := range f.media.calls() {
		if a != "Bearer "+f.user {
			t.Fatalf("call %d reached media with authorization %q, want the user's bearer token", i, a)
		}
	}
}

// TestContentTokenPrecedenceAndRefusals: the header wins over the
// parameter; a bad, empty or service token in the parameter is refused
// before anything reaches media, and its value is not echoed.
func TestContentTokenPrecedenceAndRefusals(t *testing.T) {
	f := newMediaFixture(t)

	before := len(f.media.calls())
	if r := f.call(t, "GET", tokenQuery("not-a-token"), "Authorization", "Bearer "+f.user); r.status != http.StatusOK {
		t.Fatalf("header and a bad parameter: %d %s; the header should win", r.status, r.body)
	}
	for _, a := range f.media.calls()[before:] {
		if a != "Bearer "+f.user {
			t.Fatalf("media saw %q; want the header's token", a)
		}
	}

	for _, tc := range []struct {
		name, token string
	}{
		{"garbage", "not-a-token-0123456789"},
		{"empty", ""},
		{"blank", "   "},
		{"service identity", f.service},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(f.media.calls())
			r := f.call(t, "GET", tokenQuery(tc.token))
			if r.status != http.StatusUnauthorized {
				t.Fatalf("GET with access_token %s: %d %s, want 401", tc.name, r.status, r.body)
			}
			if strings.TrimSpace(tc.token) != "" && bytes.Contains(r.body, []byte(tc.token)) {
				t.Errorf("the error echoes the token: %s", r.body)
			}
			if n := len(f.media.calls()) - before; n != 0 {
				t.Errorf("%d calls reached media with a refused token", n)
			}
		})
	}

	// A service token in the header is refused as before.
	if r := f.call(t, "GET", "", "Authorization", "Bearer "+f.service); r.status != http.StatusUnauthorized {
		t.Errorf("service token in the header: %d, want 401", r.status)
	}
	// No token at all goes on to media, which refuses it.
	if r := f.call(t, "GET", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no token: %d, want 401", r.status)
	}
}

// TestContentAccessTokenStaysOutOfTelemetry: a token given in the URL
// appears in no span (name, attribute, event), metric attribute or log
// line, while the spans and metrics still name the route.
func TestContentAccessTokenStaysOutOfTelemetry(t *testing.T) {
	f := newMediaFixture(t)
	for _, headers := range [][]string{nil, {"Range", "bytes=10-19"}, {"Range", "bytes=99999-"}} {
		f.call(t, "GET", tokenQuery(f.user), headers...)
	}
	f.call(t, "GET", tokenQuery(f.user, "thumbnail", "large"))
	bad := f.user[:len(f.user)-4] + "AAAA" // a well-formed token with a wrong signature
	f.call(t, "GET", tokenQuery(bad))
	if err := f.tracerProvider.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	secrets := []string{f.user, bad, signature(f.user), signature(bad)}
	leak := func(where, s string) {
		t.Helper()
		for _, secret := range secrets {
			if secret != "" && strings.Contains(s, secret) {
				t.Errorf("the token appears in %s", where)
			}
		}
	}
	route := "/v1/{name=children/*/media/*}:content"
	routed := false
	for _, s := range f.spans.Ended() {
		leak("a span name", s.Name())
		if strings.Contains(s.Name(), route) {
			routed = true
		}
		for _, a := range s.Attributes() {
			leak("span attribute "+string(a.Key), a.Value.Emit())
		}
		for _, e := range s.Events() {
			leak("a span event", e.Name)
			for _, a := range e.Attributes {
				leak("span event attribute "+string(a.Key), a.Value.Emit())
			}
		}
		leak("a span status", s.Status().Description)
	}
	if !routed {
		t.Errorf("no span is named after the route %s", route)
	}

	var rm metricdata.ResourceMetrics
	if err := f.metrics.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	labelled := false
	check := func(set attribute.Set) {
		for _, a := range set.ToSlice() {
			leak("metric attribute "+string(a.Key), a.Value.Emit())
			if a.Value.Emit() == route {
				labelled = true
			}
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			case metricdata.Histogram[int64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			case metricdata.Sum[float64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					check(p.Attributes)
				}
			}
		}
	}
	if !labelled {
		t.Errorf("no metric is labelled with the route %s", route)
	}
	leak("the gateway's log", f.logs.String())
}

// signature is a JWT's last part, which alone would let nobody in but
// still must not leak.
func signature(token string) string {
	if i := strings.LastIndexByte(token, '.'); i >= 0 {
		return token[i+1:]
	}
	return ""
}
