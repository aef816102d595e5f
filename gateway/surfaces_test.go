package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestNoMetricsOrTracesOnThePublicPort: metrics and recent traces name
// children, media and users; the gateway answers 404 for them, with or
// without a token (they live on the metrics listener only).
func TestNoMetricsOrTracesOnThePublicPort(t *testing.T) {
	f := newFixture(t, time.Second, nil)
	for _, path := range []string{"/metrics", "/debug/tracez", "/debug/tracez?zspanname=GET&ztype=1"} {
		for _, token := range []string{f.token, ""} {
			req, _ := http.NewRequest("GET", f.srv.URL+path, nil)
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s (token %v): %d %s", path, token != "", resp.StatusCode, body)
			}
		}
	}
}

// hangUp returns the address of a listener that accepts connections and
// closes them at once, as a crashing service would.
func hangUp(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return lis.Addr().String()
}

// newGatewayTo serves a gateway whose every upstream is target.
func newGatewayTo(t *testing.T, target string) (*httptest.Server, string) {
	t.Helper()
	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{
		ProgressTarget: target, MediaTarget: target, NotificationTarget: target,
		Verifier: v, Timeout: 2 * time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
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
	return srv, tok
}

// TestUpstreamDownIsNotToldWhere: a service that does not answer is named,
// never its address, on every kind of route: REST, the live feeds, media
// content and uploads, readiness.
func TestUpstreamDownIsNotToldWhere(t *testing.T) {
	for _, down := range []struct{ name, addr string }{
		{"nothing listens", testenv.FreeAddr(t)},
		{"the connection is dropped", hangUp(t)},
	} {
		t.Run(down.name, func(t *testing.T) {
			srv, tok := newGatewayTo(t, down.addr)
			_, port, _ := net.SplitHostPort(down.addr)
			for _, c := range []struct {
				method, path, body string
				status             int
				says               string
			}{
				{"GET", "/v1/children/a", "", 503, "the progress service is unavailable"},
				{"GET", "/v1/children/a/media/b", "", 503, "the media service is unavailable"},
				{"GET", "/v1/children/a/media/b:content", "", 503, "the media service is unavailable"},
				{"POST", "/v1/children/a/media:upload", "hello", 503, "the media service is unavailable"},
				{"GET", "/v1/users/me/notifications", "", 503, "the notification service is unavailable"},
				{"GET", "/v1/notifications/events", "", 503, "the notification service is unavailable"},
				{"GET", "/v1/notifications/ws", "", 503, "the notification service is unavailable"},
				{"GET", "/readyz", "", 503, "unreachable"},
			} {
				var rd io.Reader
				if c.body != "" {
					rd = strings.NewReader(c.body)
				}
				req, _ := http.NewRequest(c.method, srv.URL+c.path, rd)
				req.Header.Set("Authorization", "Bearer "+tok)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != c.status || !strings.Contains(string(body), c.says) {
					t.Errorf("%s %s: %d %s, want %d saying %q", c.method, c.path, resp.StatusCode, body, c.status, c.says)
				}
				for _, leak := range []string{port, "127.0.0.1", "dial", "tcp", "transport"} {
					if strings.Contains(string(body), leak) {
						t.Errorf("%s %s tells %q: %s", c.method, c.path, leak, body)
					}
				}
			}
		})
	}
}

// TestServiceErrorsPassAsSent: what a service itself answers reaches the
// caller unchanged, whatever its code.
func TestServiceErrorsPassAsSent(t *testing.T) {
	for _, st := range []*status.Status{
		status.New(codes.Unavailable, "the stored bytes are being cleaned up; retry shortly"),
		status.New(codes.Internal, "storage error"),
		status.New(codes.DeadlineExceeded, "deadline exceeded"),
	} {
		f := newFixture(t, time.Second, &fakeProgress{getChild: func(context.Context) (*progressv1.Child, error) { return nil, st.Err() }})
		_, body := f.get(t, "/v1/children/a")
		if msg, _ := body["message"].(string); !strings.Contains(msg, st.Message()) || body["code"] != float64(st.Code()) {
			t.Errorf("the service said %v; the caller heard %v", st, body)
		}
	}
}
