package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// fakeProgress stands in for the progress service: the gateway only needs
// a gRPC neighbour that answers as told.
type fakeProgress struct {
	progressv1.UnimplementedProgressServiceServer
	getChild func(ctx context.Context) (*progressv1.Child, error)
}

func (f *fakeProgress) GetChild(ctx context.Context, _ *progressv1.GetChildRequest) (*progressv1.Child, error) {
	return f.getChild(ctx)
}

type fixture struct {
	srv   *httptest.Server
	token string
}

func newFixture(t *testing.T, upstreamTimeout time.Duration, fake *fakeProgress, cors ...string) *fixture {
	t.Helper()
	target := "127.0.0.1:1" // nothing listens: upstream down
	if fake != nil {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		gs := grpc.NewServer()
		progressv1.RegisterProgressServiceServer(gs, fake)
		go gs.Serve(lis)
		t.Cleanup(gs.Stop)
		target = lis.Addr().String()
	}
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{
		ProgressTarget: target,
		Verifier:       v,
		CORSOrigins:    cors,
		Timeout:        upstreamTimeout,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	tok, err := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{srv: srv, token: tok}
}

func (f *fixture) get(t *testing.T, path string, headers ...string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+f.token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &body)
	return resp, body
}

func TestStatusMapping(t *testing.T) {
	tests := []struct {
		name   string
		answer func(ctx context.Context) (*progressv1.Child, error)
		status int
		code   codes.Code
	}{
		{"ok", func(context.Context) (*progressv1.Child, error) { return &progressv1.Child{Name: "children/a"}, nil }, 200, codes.OK},
		{"upstream deadline", func(ctx context.Context) (*progressv1.Child, error) { <-ctx.Done(); return nil, ctx.Err() }, 504, codes.DeadlineExceeded},
		{"not found", func(context.Context) (*progressv1.Child, error) { return nil, status.Error(codes.NotFound, "nope") }, 404, codes.NotFound},
		{"aborted", func(context.Context) (*progressv1.Child, error) { return nil, status.Error(codes.Aborted, "stale") }, 409, codes.Aborted},
		{"permission", func(context.Context) (*progressv1.Child, error) {
			return nil, status.Error(codes.PermissionDenied, "no")
		}, 403, codes.PermissionDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, 200*time.Millisecond, &fakeProgress{getChild: tt.answer})
			resp, body := f.get(t, "/v1/children/a")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%v)", resp.StatusCode, tt.status, body)
			}
			if tt.code != codes.OK && body["code"] != float64(tt.code) {
				t.Fatalf("body %v, want code %d", body, tt.code)
			}
		})
	}
}

func TestErrorHandlerHeaders(t *testing.T) {
	// Cancelled calls map to 499, and exhausted or unavailable ones carry
	// Retry-After.
	st, _ := status.New(codes.ResourceExhausted, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)})
	open, _ := status.New(codes.Unavailable, "the media service is unavailable; retry in 8s").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(7200 * time.Millisecond)})
	for _, tt := range []struct {
		err    error
		status int
		header string
	}{
		{status.Error(codes.Canceled, "gone"), 499, ""},
		{st.Err(), 429, "Retry-After: 2"},
		{open.Err(), 503, "Retry-After: 8"},                                       // an open breaker: the rest of its cool-down
		{status.Error(codes.Unavailable, "retry shortly"), 503, "Retry-After: 1"}, // a service that just failed
		{status.Error(codes.Unauthenticated, "who"), 401, `Www-Authenticate: Bearer realm="kinbridge"`},
	} {
		rec := httptest.NewRecorder()
		errorHandler(context.Background(), nil, jsonMarshaler, rec, httptest.NewRequest("GET", "/", nil), tt.err)
		if rec.Code != tt.status {
			t.Errorf("%v: status %d, want %d", tt.err, rec.Code, tt.status)
		}
		if tt.header != "" {
			name, value, _ := strings.Cut(tt.header, ": ")
			if got := rec.Header().Get(name); got != value {
				t.Errorf("%v: %s = %q, want %q", tt.err, name, got, value)
			}
		}
	}
}

func TestHealthAndReadiness(t *testing.T) {
	down := newFixture(t, time.Second, nil)
	if resp, _ := down.get(t, "/healthz"); resp.StatusCode != 200 {
		t.Errorf("healthz %d", resp.StatusCode)
	}
	if resp, body := down.get(t, "/readyz"); resp.StatusCode != 503 || !strings.Contains(body["progress"].(string), "unreachable") {
		t.Errorf("readyz with progress down: %d %v", resp.StatusCode, body)
	}
	if resp, body := down.get(t, "/v1/children/a"); resp.StatusCode != 503 || body["code"] != float64(codes.Unavailable) {
		t.Errorf("call with progress down: %d %v", resp.StatusCode, body)
	}
	if resp, body := down.get(t, "/nowhere"); resp.StatusCode != 404 || body["code"] != float64(codes.NotFound) {
		t.Errorf("unknown route: %d %v", resp.StatusCode, body)
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t, time.Second, &fakeProgress{getChild: func(context.Context) (*progressv1.Child, error) { return &progressv1.Child{}, nil }}, "https://app.example.test")

	preflight := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", f.srv.URL+"/v1/children/a", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "PATCH")
		req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	ok := preflight("https://app.example.test")
	if ok.StatusCode != 204 || ok.Header.Get("Access-Control-Allow-Origin") != "https://app.example.test" ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Methods"), "PATCH") ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("allowed preflight: %d %v", ok.StatusCode, ok.Header)
	}
	if bad := preflight("https://evil.example.test"); bad.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign origin was allowed: %v", bad.Header)
	}
	resp, _ := f.get(t, "/v1/children/a", "Origin", "https://app.example.test")
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example.test" {
		t.Errorf("simple request: %v", resp.Header)
	}
	// What a page must read: ranged downloads, a tus client (offsets, where
	// the upload is, which item it became), the trace id to report.
	exposed := resp.Header.Get("Access-Control-Expose-Headers")
	for _, h := range []string{"ETag", "Content-Range", "Location", "Upload-Offset", "Upload-Length", "Kinbridge-Media-Item", "X-Trace-Id"} {
		if !strings.Contains(", "+exposed+",", ", "+h+",") {
			t.Errorf("Access-Control-Expose-Headers %q lacks %s", exposed, h)
		}
	}
}
