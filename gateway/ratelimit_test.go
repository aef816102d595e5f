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
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// slowLimit holds burst requests and refills once in 1000 s: never, within
// a test.
func slowLimit(burst int) ratelimit.Limit { return ratelimit.Limit{Rate: 0.001, Burst: burst} }

// limitedServices answer as a rate-limited service would: progress reads
// every child, notification's stream and media's uploads are refused with
// RESOURCE_EXHAUSTED.
type limitedServices struct {
	progressv1.UnimplementedProgressServiceServer
	notificationv1.UnimplementedNotificationServiceServer
	mediav1.UnimplementedMediaServiceServer
}

func (limitedServices) GetChild(context.Context, *progressv1.GetChildRequest) (*progressv1.Child, error) {
	return &progressv1.Child{Name: "children/a"}, nil
}

func (limitedServices) StreamNotifications(*notificationv1.StreamNotificationsRequest, notificationv1.NotificationService_StreamNotificationsServer) error {
	limiter := ratelimit.New(ratelimit.NewLocal(0), "notification", ratelimit.Limits{User: slowLimit(1)}, nil)
	_ = limiter.Allow(context.Background(), ratelimit.User, "maria")
	return limiter.Allow(context.Background(), ratelimit.User, "maria") // refused, with RetryInfo
}

func (limitedServices) CreateUploadSession(context.Context, *mediav1.CreateUploadSessionRequest) (*mediav1.UploadSession, error) {
	return nil, status.Error(codes.ResourceExhausted, "too many upload sessions open") // a cap: no RetryInfo
}

type limitedFixture struct {
	url    string
	issuer *auth.UserIssuer
}

func newLimitedFixture(t *testing.T, limits ratelimit.Limits, trusted ...string) *limitedFixture {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	progressv1.RegisterProgressServiceServer(gs, limitedServices{})
	notificationv1.RegisterNotificationServiceServer(gs, limitedServices{})
	mediav1.RegisterMediaServiceServer(gs, limitedServices{})
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	target := lis.Addr().String()

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	proxies, err := ratelimit.ParseTrustedProxies(trusted)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{
		ProgressTarget:     target,
		MediaTarget:        target,
		NotificationTarget: target,
		Verifier:           v,
		Timeout:            5 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		RateLimiter:        ratelimit.New(ratelimit.NewLocal(0), "gateway", limits, nil),
		TrustedProxies:     proxies,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return &limitedFixture{url: srv.URL, issuer: auth.NewUserIssuer(userKey)}
}

func (f *limitedFixture) token(t *testing.T, user string) string {
	t.Helper()
	tok, err := f.issuer.Issue(user, false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// send makes one request; headers are name, value pairs.
func (f *limitedFixture) send(t *testing.T, method, path, token string, headers ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func wantOK(t *testing.T, resp *http.Response) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: %d %s, want 200", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b)
	}
}

// want429 checks a rate-limit answer: 429, Retry-After in whole seconds
// (at least 1), and the one error shape with RESOURCE_EXHAUSTED.
func want429(t *testing.T, resp *http.Response, reason string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("%s %s: %d %s, want 429", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b)
	}
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
		t.Fatalf("Retry-After %q, want whole seconds, at least 1", resp.Header.Get("Retry-After"))
	}
	if reason == "" {
		return
	}
	var body struct {
		Code    int
		Details []map[string]any
	}
	if err := json.Unmarshal(b, &body); err != nil || body.Code != int(codes.ResourceExhausted) {
		t.Fatalf("body %s, want code %d", b, codes.ResourceExhausted)
	}
	if !strings.Contains(string(b), `"reason":"`+reason+`"`) {
		t.Fatalf("body %s lacks reason %s", b, reason)
	}
}

func TestGatewayLimitsEachUser(t *testing.T) {
	f := newLimitedFixture(t, ratelimit.Limits{User: slowLimit(3)})
	maria := f.token(t, "maria")
	// A live feed's token is checked twice (by the API, then by the route
	// that also reads ?access_token=); the request costs one all the same.
	if resp := f.send(t, "GET", "/v1/notifications/events", maria, "Last-Event-ID", "not-a-position"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("feed with a bad position: %d, want 400", resp.StatusCode)
	}
	wantOK(t, f.send(t, "GET", "/v1/children/a", maria))
	wantOK(t, f.send(t, "GET", "/v1/children/a", maria))
	want429(t, f.send(t, "GET", "/v1/children/a", maria), "RATE_LIMITED")
	// On every route, the query token too.
	want429(t, f.send(t, "GET", "/v1/notifications/events?access_token="+maria, ""), "RATE_LIMITED")
	// Others are not held back by maria, nor are unauthenticated requests
	// by her bucket.
	wantOK(t, f.send(t, "GET", "/v1/children/a", f.token(t, "olga")))
	wantOK(t, f.send(t, "GET", "/openapi.json", ""))
}

func TestGatewayLimitsEachAddress(t *testing.T) {
	f := newLimitedFixture(t, ratelimit.Limits{Address: slowLimit(3)})
	wantOK(t, f.send(t, "GET", "/openapi.json", ""))
	wantOK(t, f.send(t, "GET", "/v1/children/a", f.token(t, "maria")))
	wantOK(t, f.send(t, "GET", "/v1/children/a", f.token(t, "olga")))
	// Whoever asks next from this address, it is refused, before the token
	// is even looked at.
	want429(t, f.send(t, "GET", "/v1/children/a", f.token(t, "ivan")), "RATE_LIMITED")
	want429(t, f.send(t, "GET", "/v1/children/a", "not-a-token"), "RATE_LIMITED")
	want429(t, f.send(t, "POST", "/v1/uploads/", ""), "RATE_LIMITED")
	// Health checks are never counted.
	for range 10 {
		if resp := f.send(t, "GET", "/healthz", ""); resp.StatusCode != http.StatusOK {
			t.Fatalf("healthz: %d", resp.StatusCode)
		}
	}
}

// TestGatewayBelievesXForwardedForOnlyFromTrustedProxies: behind a trusted
// proxy each client has its own bucket; from anywhere else the header is
// ignored, so a client cannot buy fresh buckets by inventing addresses.
func TestGatewayBelievesXForwardedForOnlyFromTrustedProxies(t *testing.T) {
	t.Run("trusted proxy", func(t *testing.T) {
		f := newLimitedFixture(t, ratelimit.Limits{Address: slowLimit(1)}, "127.0.0.1")
		wantOK(t, f.send(t, "GET", "/openapi.json", "", "X-Forwarded-For", "198.51.100.1"))
		wantOK(t, f.send(t, "GET", "/openapi.json", "", "X-Forwarded-For", "198.51.100.2"))
		// What a client wrote left of the proxy's entry changes nothing.
		want429(t, f.send(t, "GET", "/openapi.json", "", "X-Forwarded-For", "203.0.113.50, 198.51.100.1"), "RATE_LIMITED")
		// The proxy's own requests count for the proxy.
		wantOK(t, f.send(t, "GET", "/openapi.json", ""))
	})
	t.Run("untrusted client", func(t *testing.T) {
		f := newLimitedFixture(t, ratelimit.Limits{Address: slowLimit(1)}, "10.0.0.0/8")
		wantOK(t, f.send(t, "GET", "/openapi.json", "", "X-Forwarded-For", "198.51.100.1"))
		want429(t, f.send(t, "GET", "/openapi.json", "", "X-Forwarded-For", "198.51.100.2"), "RATE_LIMITED")
		want429(t, f.send(t, "GET", "/openapi.json", ""), "RATE_LIMITED")
	})
}

// TestEvery429SaysWhenToRetry: RESOURCE_EXHAUSTED from a service becomes a
// 429 with Retry-After on every path, including those outside the unary
// error handler: a stream refused before its first message, and tus.
func TestEvery429SaysWhenToRetry(t *testing.T) {
	f := newLimitedFixture(t, ratelimit.Limits{})
	maria := f.token(t, "maria")
	stream := f.send(t, "GET", "/v1/users/me/notifications:stream", maria)
	if got := stream.Header.Get("Retry-After"); stream.StatusCode != http.StatusTooManyRequests || got != "1000" {
		t.Fatalf("refused stream: %d, Retry-After %q; want 429, 1000 (the service's RetryInfo)", stream.StatusCode, got)
	}
	upload := f.send(t, "POST", "/v1/uploads/", maria, "Tus-Resumable", "1.0.0", "Upload-Length", "10",
		"Upload-Metadata", "child Y2hpbGRyZW4vYQ==")
	want429(t, upload, "")
	// A 429 from the one error handler without RetryInfo still says when.
	rec := httptest.NewRecorder()
	errorHandler(context.Background(), nil, jsonMarshaler, rec, httptest.NewRequest("GET", "/", nil),
		status.Error(codes.ResourceExhausted, "too many feeds open"))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "1" {
		t.Fatalf("RESOURCE_EXHAUSTED without RetryInfo: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	// A cap on what the caller holds open is not lifted by waiting: no
	// Retry-After invites a retry on a timer.
	for _, reason := range []string{"TOO_MANY_FEEDS", "TOO_MANY_SUBSCRIPTIONS"} {
		st, err := status.New(codes.ResourceExhausted, "too many").WithDetails(&errdetails.ErrorInfo{Reason: reason, Domain: "notification.kinbridge"})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		errorHandler(context.Background(), nil, jsonMarshaler, rec, httptest.NewRequest("GET", "/", nil), st.Err())
		if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") != "" {
			t.Errorf("%s: %d, Retry-After %q; want 429 without one", reason, rec.Code, rec.Header().Get("Retry-After"))
		}
	}
}
