package grpcclient

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// upstream is a real gRPC server standing in for a service. It counts every
// call that reaches it (with an interceptor, so refused calls are seen to
// stay away) and answers GetChild as told.
type upstream struct {
	progressv1.UnimplementedProgressServiceServer
	addr    string
	calls   atomic.Int32
	answer  func(ctx context.Context) error
	release chan struct{} // closed when the test ends: what blocks, returns
	srv     *grpc.Server
}

// startUpstream serves on addr ("127.0.0.1:0" for any port).
func startUpstream(t *testing.T, addr string, answer func(ctx context.Context) error) *upstream {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	u := &upstream{addr: lis.Addr().String(), answer: answer, release: make(chan struct{})}
	u.srv = grpc.NewServer(grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		u.calls.Add(1)
		return handler(ctx, req)
	}), grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		u.calls.Add(1)
		return handler(srv, ss)
	}))
	progressv1.RegisterProgressServiceServer(u.srv, u)
	healthpb.RegisterHealthServer(u.srv, health.NewServer())
	go u.srv.Serve(lis)
	t.Cleanup(u.srv.Stop)
	t.Cleanup(func() { close(u.release) }) // runs before Stop
	return u
}

func (u *upstream) GetChild(ctx context.Context, _ *progressv1.GetChildRequest) (*progressv1.Child, error) {
	if err := u.answer(ctx); err != nil {
		return nil, err
	}
	return &progressv1.Child{Name: "children/a"}, nil
}

// hang never answers in time: it waits for the test to end, not for the
// call's deadline, so the status the caller gets is never the service's.
func (u *upstream) hang(context.Context) error {
	<-u.release
	return status.Error(codes.Internal, "released")
}

// quiet drops the breakers' logs of their changes.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// dialBreaker connects to addr through breaker b, with timeout as the
// default deadline and reconnection attempts close together.
func dialBreaker(t *testing.T, addr string, b *Breaker, timeout time.Duration) *grpc.ClientConn {
	t.Helper()
	conn, err := New(addr, Options{
		Timeout: timeout,
		Breaker: b,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff: backoff.Config{BaseDelay: 10 * time.Millisecond, Multiplier: 1, MaxDelay: 10 * time.Millisecond}})},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// checkRefusal checks that err is an open breaker's refusal: UNAVAILABLE,
// naming the service and not where it lives, with the rest of the
// cool-down in RetryInfo.
func checkRefusal(t *testing.T, err error, addr string, coolDown time.Duration) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.Unavailable {
		t.Fatalf("refused call: %v, want UNAVAILABLE", err)
	}
	if !strings.Contains(st.Message(), "the progress service is unavailable") {
		t.Errorf("refusal %q does not name the service", st.Message())
	}
	_, port, _ := net.SplitHostPort(addr)
	if strings.Contains(st.Message(), port) {
		t.Errorf("refusal %q tells where the service lives", st.Message())
	}
	var delay time.Duration
	for _, d := range st.Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			delay = ri.GetRetryDelay().AsDuration()
		}
	}
	if delay <= 0 || delay > coolDown {
		t.Errorf("refusal's RetryInfo says %v, want the rest of the %v cool-down", delay, coolDown)
	}
}

func TestBreakerOpensWhenTheServiceDoesNotAnswer(t *testing.T) {
	var u *upstream
	u = startUpstream(t, "127.0.0.1:0", func(ctx context.Context) error { return u.hang(ctx) })
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 3, CoolDown: time.Hour})
	conn := dialBreaker(t, u.addr, b, 100*time.Millisecond)
	// Connected first: on a loaded machine, connecting could take the
	// first call's whole 100ms, and it would fail without reaching the
	// service.
	conn.Connect()
	for s := conn.GetState(); s != connectivity.Ready; s = conn.GetState() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		changed := conn.WaitForStateChange(ctx, s)
		cancel()
		if !changed {
			t.Fatalf("the connection stayed %v", s)
		}
	}
	client := progressv1.NewProgressServiceClient(conn)

	for i := range 3 {
		if b.State() != gobreaker.StateClosed {
			t.Fatalf("breaker %v after %d failures, want closed until 3", b.State(), i)
		}
		_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"})
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("call %d: %v, want the default deadline to pass", i, err)
		}
	}
	if b.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 3 calls the service did not answer, want open", b.State())
	}
	// A call the client gave up on may still be on its way to the service:
	// count what reached it once the three did (or a while passed).
	for deadline := time.Now().Add(2 * time.Second); u.calls.Load() < 3 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	reached := u.calls.Load()
	for range 10 {
		_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"})
		checkRefusal(t, err, u.addr, time.Hour)
	}
	if got := u.calls.Load(); got != reached {
		t.Fatalf("the service saw %d calls after the breaker opened", got-reached)
	}
}

func TestBreakerProbesAfterTheCoolDownAndCloses(t *testing.T) {
	addr := testenv.FreeAddr(t) // the service is down: nothing listens
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 2, CoolDown: 200 * time.Millisecond})
	conn := dialBreaker(t, addr, b, time.Minute)
	client := progressv1.NewProgressServiceClient(conn)
	for range 2 {
		_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"})
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("call to a service that is down: %v, want UNAVAILABLE", err)
		}
	}
	if b.State() != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 2 refused connections, want open", b.State())
	}
	_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"})
	checkRefusal(t, err, addr, 200*time.Millisecond)

	// The service comes back. After the cool-down the breaker lets one call
	// through; an answer closes it. (A probe that finds the connection not
	// yet re-established opens it for another cool-down: poll.)
	u := startUpstream(t, addr, func(context.Context) error { return nil })
	testenv.Eventually(t, "a probe that closes the breaker", func() string {
		if s := b.State(); s != gobreaker.StateHalfOpen {
			return "breaker " + s.String()
		}
		if _, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"}); err != nil {
			return "probe: " + err.Error()
		}
		return ""
	})
	if b.State() != gobreaker.StateClosed {
		t.Fatalf("breaker %v after a probe the service answered, want closed", b.State())
	}
	if got := u.calls.Load(); got != 1 {
		t.Fatalf("the service saw %d calls, want the one probe", got)
	}
	for range 5 {
		if _, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"}); err != nil {
			t.Fatalf("call after the breaker closed: %v", err)
		}
	}
}

func TestBreakerHalfOpenLetsOneProbeThrough(t *testing.T) {
	var u *upstream
	u = startUpstream(t, "127.0.0.1:0", func(ctx context.Context) error { return u.hang(ctx) })
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 1, CoolDown: 50 * time.Millisecond})
	client := progressv1.NewProgressServiceClient(dialBreaker(t, u.addr, b, 100*time.Millisecond))
	if _, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("first call: %v", err)
	}
	testenv.Eventually(t, "the cool-down to end", func() string {
		if s := b.State(); s != gobreaker.StateHalfOpen {
			return "breaker " + s.String()
		}
		return ""
	})
	// The probe hangs like the rest; while it waits, no other call goes.
	probe := make(chan error, 1)
	go func() {
		_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{})
		probe <- err
	}()
	testenv.Eventually(t, "the probe to reach the service", func() string {
		if n := u.calls.Load(); n != 2 {
			return fmt.Sprintf("%d calls", n)
		}
		return ""
	})
	_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call during the probe: %v, want UNAVAILABLE at once", err)
	}
	if err := <-probe; status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("probe: %v", err)
	}
	if s := b.State(); s != gobreaker.StateOpen {
		t.Fatalf("breaker %v after a failed probe, want open again", s)
	}
	if n := u.calls.Load(); n != 2 {
		t.Fatalf("the service saw %d calls, want 2 (the first and the probe)", n)
	}
}

func TestServiceAnswersNeverOpenTheBreaker(t *testing.T) {
	answers := []error{
		status.Error(codes.NotFound, "children/a not found"),
		status.Error(codes.InvalidArgument, "bad name"),
		status.Error(codes.PermissionDenied, "no"),
		status.Error(codes.ResourceExhausted, "slow down"),
		status.Error(codes.Unavailable, "the stored bytes are being cleaned up; retry shortly"),
		status.Error(codes.DeadlineExceeded, "a neighbour did not answer in time"),
		status.Error(codes.Internal, "storage error"),
	}
	var n atomic.Int32
	u := startUpstream(t, "127.0.0.1:0", func(context.Context) error {
		return answers[int(n.Add(1)-1)%len(answers)]
	})
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 1, CoolDown: time.Hour})
	conn, err := New(u.addr, Options{Breaker: b}) // no retries: each call is one answer
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := progressv1.NewProgressServiceClient(conn)
	for i := range 3 * len(answers) {
		_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{})
		want := answers[i%len(answers)]
		if status.Code(err) != status.Code(want) || status.Convert(err).Message() != status.Convert(want).Message() {
			t.Fatalf("call %d: %v, want the service's %v", i, err, want)
		}
	}
	if s := b.State(); s != gobreaker.StateClosed {
		t.Fatalf("breaker %v after only the service's own answers", s)
	}
	if got := u.calls.Load(); got != int32(3*len(answers)) {
		t.Fatalf("the service saw %d calls, want all %d", got, 3*len(answers))
	}
}

// TestCallersCannotOpenTheBreaker: a deadline the caller chose, shorter
// than half the connection's default, and a cancellation say nothing about
// the service; otherwise a REST client sending a tiny Grpc-Timeout could
// shut a service off for everyone.
func TestCallersCannotOpenTheBreaker(t *testing.T) {
	var u *upstream
	u = startUpstream(t, "127.0.0.1:0", func(ctx context.Context) error { return u.hang(ctx) })
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 1, CoolDown: time.Hour})
	client := progressv1.NewProgressServiceClient(dialBreaker(t, u.addr, b, time.Minute))
	for range 5 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		_, err := client.GetChild(ctx, &progressv1.GetChildRequest{})
		cancel()
		if status.Code(err) != codes.DeadlineExceeded {
			t.Fatalf("short deadline: %v", err)
		}
		ctx, cancel = context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err = client.GetChild(ctx, &progressv1.GetChildRequest{})
		if status.Code(err) != codes.Canceled {
			t.Fatalf("cancelled: %v", err)
		}
	}
	if s := b.State(); s != gobreaker.StateClosed {
		t.Fatalf("breaker %v after calls their callers gave up on", s)
	}
}

func TestBreakerCoversStreams(t *testing.T) {
	addr := testenv.FreeAddr(t)
	b := NewBreaker(BreakerConfig{Upstream: "progress", Logger: quiet, Failures: 2, CoolDown: 200 * time.Millisecond})
	conn := dialBreaker(t, addr, b, time.Minute)
	health := healthpb.NewHealthClient(conn)
	for range 2 {
		stream, err := health.Watch(context.Background(), &healthpb.HealthCheckRequest{})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("stream to a service that is down: %v", err)
		}
	}
	if s := b.State(); s != gobreaker.StateOpen {
		t.Fatalf("breaker %v after 2 streams found the service down, want open", s)
	}
	_, err := health.Watch(context.Background(), &healthpb.HealthCheckRequest{})
	checkRefusal(t, err, addr, 200*time.Millisecond)

	// A stream that reaches the service closes a half-open breaker at once,
	// though it stays open as long as its caller likes.
	u := startUpstream(t, addr, func(context.Context) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	testenv.Eventually(t, "a stream that closes the breaker", func() string {
		if s := b.State(); s != gobreaker.StateHalfOpen {
			return "breaker " + s.String()
		}
		stream, err := health.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return "probe: " + err.Error()
		}
		if _, err := stream.Recv(); err != nil {
			return "probe: " + err.Error()
		}
		return ""
	})
	if s := b.State(); s != gobreaker.StateClosed {
		t.Fatalf("breaker %v while a stream the service took is open, want closed", s)
	}
	if u.calls.Load() != 1 {
		t.Fatalf("the service saw %d calls, want the one stream", u.calls.Load())
	}
}
