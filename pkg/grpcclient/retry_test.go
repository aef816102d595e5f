package grpcclient

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// flaky fails every call with UNAVAILABLE until it has failed failures
// times, counting the calls it sees.
type flaky struct {
	progressv1.UnimplementedProgressServiceServer
	failures int32
	calls    atomic.Int32
	block    bool // never answer, to test the default deadline
}

func (f *flaky) answer(ctx context.Context) error {
	n := f.calls.Add(1)
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if n <= f.failures {
		return status.Error(codes.Unavailable, "try again")
	}
	return nil
}

func (f *flaky) GetChild(ctx context.Context, _ *progressv1.GetChildRequest) (*progressv1.Child, error) {
	return &progressv1.Child{}, f.answer(ctx)
}

func (f *flaky) CreateChild(ctx context.Context, _ *progressv1.CreateChildRequest) (*progressv1.Child, error) {
	return &progressv1.Child{}, f.answer(ctx)
}

func dialFlaky(t *testing.T, f *flaky, timeout time.Duration) progressv1.ProgressServiceClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	progressv1.RegisterProgressServiceServer(srv, f)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	conn, err := New(lis.Addr().String(), Options{
		Timeout:  timeout,
		Services: []protoreflect.ServiceDescriptor{progressv1.File_kinbridge_progress_v1_progress_proto.Services().Get(0)},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return progressv1.NewProgressServiceClient(conn)
}

func TestIdempotentCallsAreRetried(t *testing.T) {
	f := &flaky{failures: 2}
	client := dialFlaky(t, f, time.Minute)
	if _, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{Name: "children/a"}); err != nil {
		t.Fatalf("GetChild after two UNAVAILABLE answers: %v", err)
	}
	if got := f.calls.Load(); got != 3 {
		t.Fatalf("server saw %d calls, want 3", got)
	}
}

func TestCreatesAreNeverRetried(t *testing.T) {
	f := &flaky{failures: 1}
	client := dialFlaky(t, f, time.Minute)
	_, err := client.CreateChild(context.Background(), &progressv1.CreateChildRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("CreateChild: %v, want the UNAVAILABLE answer", err)
	}
	if got := f.calls.Load(); got != 1 {
		t.Fatalf("server saw %d calls, want 1: a retried create could record twice", got)
	}
}

func TestCallsWithoutDeadlineGetTheDefault(t *testing.T) {
	client := dialFlaky(t, &flaky{block: true}, 100*time.Millisecond)
	_, err := client.GetChild(context.Background(), &progressv1.GetChildRequest{})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded from the default deadline", err)
	}
}
