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
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/grpc"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
)

// hungNotification is a notification service that takes calls and never
// answers them (until the test ends), counting every call that reaches it.
type hungNotification struct {
	notificationv1.UnimplementedNotificationServiceServer
	notificationpeerv1.UnimplementedLiveServiceServer
	calls   atomic.Int32
	release chan struct{}
}

func (h *hungNotification) ListNotifications(context.Context, *notificationv1.ListNotificationsRequest) (*notificationv1.ListNotificationsResponse, error) {
	<-h.release
	return &notificationv1.ListNotificationsResponse{}, nil
}

func (h *hungNotification) Watch(notificationpeerv1.LiveService_WatchServer) error {
	<-h.release
	return nil
}

// serveGRPC serves register's services on a fresh port, counting the calls
// that reach them in calls (when not nil).
func serveGRPC(t *testing.T, calls *atomic.Int32, register func(*grpc.Server)) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	count := func() {
		if calls != nil {
			calls.Add(1)
		}
	}
	gs := grpc.NewServer(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			count()
			return h(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			count()
			return h(srv, ss)
		}))
	register(gs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// TestGatewayFailsFastWhileAServiceIsDown: notification takes calls and
// answers none. After three calls that ran into the deadline, the
// gateway's breaker for notification opens: its routes, REST and live
// feeds alike, answer 503 with Retry-After at once, and no further call
// reaches the service; progress and media routes answer as ever.
func TestGatewayFailsFastWhileAServiceIsDown(t *testing.T) {
	hung := &hungNotification{release: make(chan struct{})}
	notificationAddr := serveGRPC(t, &hung.calls, func(s *grpc.Server) {
		notificationv1.RegisterNotificationServiceServer(s, hung)
		notificationpeerv1.RegisterLiveServiceServer(s, hung)
	})
	t.Cleanup(func() { close(hung.release) }) // before the server stops
	progressAddr := serveGRPC(t, nil, func(s *grpc.Server) {
		progressv1.RegisterProgressServiceServer(s, &fakeProgress{getChild: func(context.Context) (*progressv1.Child, error) {
			return &progressv1.Child{Name: "children/a"}, nil
		}})
	})
	mediaAddr := serveGRPC(t, nil, func(s *grpc.Server) { mediav1.RegisterMediaServiceServer(s, &fakeMedia{}) })

	userPub, userKey, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, serviceKey, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	metrics := sdkmetric.NewManualReader()
	g, err := New(context.Background(), Config{
		ProgressTarget: progressAddr, MediaTarget: mediaAddr, NotificationTarget: notificationAddr,
		ServiceIdentity: auth.NewServiceIdentity(serviceKey, "gateway"),
		Verifier:        v,
		Timeout:         300 * time.Millisecond,
		BreakerFailures: 3,
		BreakerCoolDown: time.Hour,
		Logger:          slog.New(slog.NewTextHandler(io.Discard, nil)),
		MeterProvider:   sdkmetric.NewMeterProvider(sdkmetric.WithReader(metrics)),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(func() {
		srv.Close()
		g.Close()
	})
	token, err := auth.NewUserIssuer(userKey).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}

	for i := range 3 {
		if resp, body := get("/v1/users/me/notifications"); resp.StatusCode != http.StatusGatewayTimeout {
			t.Fatalf("call %d to a service that does not answer: %d %s, want 504", i, resp.StatusCode, body)
		}
	}
	if s := g.breakers["notification"].State().String(); s != "open" {
		t.Fatalf("notification's breaker is %s after 3 calls it did not answer, want open", s)
	}
	reached := hung.calls.Load()
	_, port, _ := net.SplitHostPort(notificationAddr)
	for _, path := range []string{"/v1/users/me/notifications", "/v1/users/me/notifications:countUnread",
		"/v1/notifications/events", "/v1/notifications/ws"} {
		resp, body := get(path)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "the notification service is unavailable") {
			t.Errorf("GET %s with the breaker open: %d %s, want 503 naming the service", path, resp.StatusCode, body)
		}
		if strings.Contains(body, port) || strings.Contains(body, "127.0.0.1") {
			t.Errorf("GET %s tells where the service lives: %s", path, body)
		}
		if after, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || after < 3000 || after > 3600 {
			t.Errorf("GET %s: Retry-After %q, want the rest of the hour's cool-down", path, resp.Header.Get("Retry-After"))
		}
	}
	if got := hung.calls.Load(); got != reached {
		t.Fatalf("notification saw %d calls after its breaker opened", got-reached)
	}

	// What does not depend on notification goes on.
	if resp, body := get("/v1/children/a"); resp.StatusCode != http.StatusOK {
		t.Errorf("progress read while notification is down: %d %s", resp.StatusCode, body)
	}
	if resp, body := get("/v1/" + fakeItem); resp.StatusCode != http.StatusOK {
		t.Errorf("media read while notification is down: %d %s", resp.StatusCode, body)
	}

	state, refused := breakerMetrics(t, metrics)
	for upstream, want := range map[string]int64{"progress": 0, "media": 0, "notification": 2} {
		if got, ok := state[upstream]; !ok || got != want {
			t.Errorf("%s{upstream=%s} = %d (reported %v), want %d", grpcclient.MetricBreakerState, upstream, got, ok, want)
		}
	}
	if refused["notification"] < 4 || refused["progress"] != 0 {
		t.Errorf("%s = %v, want the 4 refused notification calls", grpcclient.MetricBreakerRefused, refused)
	}
}

// breakerMetrics reads the breakers' state gauges and refusal counters by
// upstream.
func breakerMetrics(t *testing.T, reader *sdkmetric.ManualReader) (state, refused map[string]int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	state, refused = map[string]int64{}, map[string]int64{}
	upstreamOf := func(set attribute.Set) string {
		if caller, _ := set.Value(grpcclient.AttrCaller); caller.AsString() != "gateway" {
			t.Errorf("breaker metric with caller %q, want gateway", caller.AsString())
		}
		v, _ := set.Value(grpcclient.AttrUpstream)
		return v.AsString()
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch data := m.Data.(type) {
			case metricdata.Gauge[int64]:
				if m.Name == grpcclient.MetricBreakerState {
					for _, p := range data.DataPoints {
						state[upstreamOf(p.Attributes)] = p.Value
					}
				}
			case metricdata.Sum[int64]:
				if m.Name == grpcclient.MetricBreakerRefused {
					for _, p := range data.DataPoints {
						refused[upstreamOf(p.Attributes)] += p.Value
					}
				}
			}
		}
	}
	return state, refused
}
