package grpcserver

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testService is a one-method service whose handler does what the test
// says, registered by hand so the test needs no generated code.
type testService struct {
	handle func(ctx context.Context) error
}

var testDesc = unaryDesc("kinbridge.test.v1.TestService")

// unaryDesc describes service with the one method Do.
func unaryDesc(service string) grpc.ServiceDesc {
	return grpc.ServiceDesc{
		ServiceName: service,
		HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{{
			MethodName: "Do",
			Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
				in := new(emptypb.Empty)
				if err := dec(in); err != nil {
					return nil, err
				}
				h := func(ctx context.Context, _ any) (any, error) {
					return &emptypb.Empty{}, srv.(*testService).handle(ctx)
				}
				if interceptor == nil {
					return h(ctx, in)
				}
				return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: "/" + service + "/Do"}, h)
			},
		}},
	}
}

// streamDesc is a server-streaming method that sends nothing and ends.
var streamDesc = grpc.ServiceDesc{
	ServiceName: "kinbridge.test.v1.StreamService",
	HandlerType: (*any)(nil),
	Streams: []grpc.StreamDesc{{
		StreamName:    "Watch",
		ServerStreams: true,
		Handler: func(srv any, ss grpc.ServerStream) error {
			return srv.(*testService).handle(ss.Context())
		},
	}},
}

// watch opens the streaming test method and waits for its end.
func watch(ctx context.Context, conn *grpc.ClientConn) error {
	s, err := conn.NewStream(ctx, &streamDesc.Streams[0], "/kinbridge.test.v1.StreamService/Watch")
	if err != nil {
		return err
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	if err := s.RecvMsg(&emptypb.Empty{}); err != io.EOF {
		return err
	}
	return nil
}

func do(ctx context.Context, conn *grpc.ClientConn) error {
	return conn.Invoke(ctx, "/kinbridge.test.v1.TestService/Do", &emptypb.Empty{}, &emptypb.Empty{})
}

// start runs a Server with handle as the test method, open to anyone;
// tweaks change its options.
func start(t *testing.T, handle func(ctx context.Context) error, drain time.Duration, tweaks ...func(*Options)) (conn *grpc.ClientConn, stop func() error) {
	t.Helper()
	pub1, _, _ := ed25519.GenerateKey(rand.Reader)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: pub1, ServiceKey: pub2})
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Verifier: v,
		Policy: func(m string) auth.Requirement {
			if m == "/kinbridge.test.v1.TestService/Do" {
				return auth.Open
			}
			return auth.DefaultPolicy(m)
		},
	}
	for _, tweak := range tweaks {
		tweak(&opts)
	}
	return startWith(t, opts, handle, drain)
}

// startWith runs a Server built from opts with handle as the test method.
func startWith(t *testing.T, opts Options, handle func(ctx context.Context) error, drain time.Duration, more ...*grpc.ServiceDesc) (conn *grpc.ClientConn, stop func() error) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.RegisterService(&testDesc, &testService{handle: handle})
	for _, d := range append(more, &streamDesc) {
		s.RegisterService(d, &testService{handle: handle})
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, lis, drain) }()
	conn, err = grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	var stopped bool
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		return <-served
	}
	t.Cleanup(func() { _ = stop() })
	return conn, stop
}

func TestShutdownDrainsInFlightCalls(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	conn, stop := start(t, func(ctx context.Context) error {
		close(entered)
		<-release
		return nil
	}, time.Minute)

	inFlight := make(chan error, 1)
	go func() { inFlight <- do(context.Background(), conn) }()
	<-entered

	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()

	// While draining, the server says it is going away...
	health := healthpb.NewHealthClient(conn)
	for {
		resp, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{})
		if err != nil || resp.GetStatus() == healthpb.HealthCheckResponse_NOT_SERVING {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Serve returned (%v) with a call still in flight", err)
	default:
	}
	// ...and the call that was running finishes normally.
	close(release)
	if err := <-inFlight; err != nil {
		t.Fatalf("in-flight call failed: %v", err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestShutdownCancelsCallsAfterTheDrainTime(t *testing.T) {
	entered := make(chan struct{})
	conn, stop := start(t, func(ctx context.Context) error {
		close(entered)
		<-ctx.Done() // a call that never finishes by itself
		return ctx.Err()
	}, 50*time.Millisecond)
	inFlight := make(chan error, 1)
	go func() { inFlight <- do(context.Background(), conn) }()
	<-entered
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := <-inFlight; status.Code(err) == codes.OK {
		t.Fatal("a call outliving the drain time succeeded")
	}
}

func TestPanicsBecomeInternal(t *testing.T) {
	conn, _ := start(t, func(context.Context) error { panic("boom") }, time.Second)
	err := do(context.Background(), conn)
	if status.Code(err) != codes.Internal || status.Convert(err).Message() != "internal error" {
		t.Fatalf("got %v, want Internal without the panic's text", err)
	}
	// The server survives.
	if _, err := healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("health after panic: %v", err)
	}
}

func TestNewRequiresAVerifier(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Fatal("a server without a verifier was built")
	}
}

// The call log skips building a record its logger would drop (successes at
// debug, under a production level) and still writes the others.
func TestCallLogByLevel(t *testing.T) {
	for _, tc := range []struct {
		level     slog.Level
		fail      bool
		wantLines int
	}{
		{slog.LevelInfo, false, 0},
		{slog.LevelInfo, true, 1},
		{slog.LevelDebug, false, 1},
	} {
		var buf syncBuffer
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: tc.level}))
		conn, stop := start(t, func(context.Context) error {
			if tc.fail {
				return status.Error(codes.NotFound, "no such thing")
			}
			return nil
		}, time.Second, func(o *Options) { o.Logger = logger })
		_ = do(context.Background(), conn)
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		lines := strings.Count(buf.String(), "msg=rpc ")
		if lines != tc.wantLines {
			t.Errorf("level %s, failing %v: %d call log lines, want %d:\n%s", tc.level, tc.fail, lines, tc.wantLines, buf.String())
		}
		if tc.fail && !strings.Contains(buf.String(), "rpc.code=NotFound") {
			t.Errorf("the refusal's log line lacks its code:\n%s", buf.String())
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestHealthFollowsReadiness: a server whose dependency stops answering
// turns NOT_SERVING after two failed checks, SERVING again at the first
// success, and stays NOT_SERVING once shutdown begins.
func TestHealthFollowsReadiness(t *testing.T) {
	var mu sync.Mutex
	var down bool
	ready := func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	setDown := func(v bool) {
		mu.Lock()
		down = v
		mu.Unlock()
	}
	conn, stop := start(t, func(context.Context) error { return nil }, time.Second, func(o *Options) {
		o.Ready, o.ReadyInterval = ready, 20*time.Millisecond
	})
	health := healthpb.NewHealthClient(conn)
	waitFor := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{})
			if err == nil && resp.GetStatus() == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("health is %v (%v), want %v", resp.GetStatus(), err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor(healthpb.HealthCheckResponse_SERVING)
	setDown(true)
	waitFor(healthpb.HealthCheckResponse_NOT_SERVING)
	// The process still lives: liveness probes must not restart it.
	if resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: LivenessService}); err != nil ||
		resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("liveness while not ready: %v, %v", resp.GetStatus(), err)
	}
	setDown(false)
	waitFor(healthpb.HealthCheckResponse_SERVING)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
