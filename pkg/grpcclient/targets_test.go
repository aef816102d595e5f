package grpcclient

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/reflect/protoreflect"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// instance is one of several servers of the same service, with its health
// service, counting the calls it answers.
type instance struct {
	progressv1.UnimplementedProgressServiceServer
	addr   string
	srv    *grpc.Server
	health *health.Server
	calls  atomic.Int32
}

func (i *instance) GetChild(context.Context, *progressv1.GetChildRequest) (*progressv1.Child, error) {
	i.calls.Add(1)
	return &progressv1.Child{}, nil
}

func startInstance(t *testing.T) *instance {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	i := &instance{addr: lis.Addr().String(), srv: grpc.NewServer(), health: health.NewServer()}
	progressv1.RegisterProgressServiceServer(i.srv, i)
	healthpb.RegisterHealthServer(i.srv, i.health)
	go i.srv.Serve(lis)
	t.Cleanup(i.srv.Stop)
	return i
}

// TestListBalancesOverHealthyInstances dials two real servers as one list:
// calls go to both; once one says NOT_SERVING (as a draining server does)
// and once it is gone, every call goes to the other without an error, and
// the breaker, which sees the service as a whole, stays closed.
func TestListBalancesOverHealthyInstances(t *testing.T) {
	a, b := startInstance(t), startInstance(t)
	breaker := NewBreaker(BreakerConfig{Caller: "test", Upstream: "progress", Failures: 2})
	conn, err := New(a.addr+", "+b.addr, Options{
		Timeout:  5 * time.Second,
		Services: []protoreflect.ServiceDescriptor{progressv1.File_kinbridge_progress_v1_progress_proto.Services().Get(0)},
		Breaker:  breaker,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := progressv1.NewProgressServiceClient(conn)
	call := func() {
		t.Helper()
		if _, err := client.GetChild(t.Context(), &progressv1.GetChildRequest{Name: "children/x"}); err != nil {
			t.Fatalf("GetChild: %v", err)
		}
	}

	// Both get calls once both are ready (round_robin uses the ready ones:
	// the second may still be connecting for the first calls).
	deadline := time.Now().Add(10 * time.Second)
	for a.calls.Load() == 0 || b.calls.Load() == 0 {
		call()
		if time.Now().After(deadline) {
			t.Fatalf("calls not spread over both instances: %d and %d", a.calls.Load(), b.calls.Load())
		}
	}

	// Draining: a stops taking new calls once its status reaches the client.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	onlyTo(t, call, a, b)

	// Back: it gets calls again.
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	deadline = time.Now().Add(10 * time.Second)
	for before := a.calls.Load(); a.calls.Load() == before; {
		call()
		if time.Now().After(deadline) {
			t.Fatalf("%s serves again but gets no calls", a.addr)
		}
	}

	// Gone: every call still answers, from b.
	a.srv.Stop()
	onlyTo(t, call, a, b)
	if got := breaker.State(); got != gobreaker.StateClosed {
		t.Errorf("breaker is %v with one instance of two up, want closed", got)
	}
}

// onlyTo calls until 10 calls in a row reached to and none from, then
// checks that 30 more all go to to.
func onlyTo(t *testing.T, call func(), from, to *instance) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for run := 0; run < 10; {
		before := from.calls.Load()
		call()
		if from.calls.Load() == before {
			run++
		} else {
			run = 0
		}
		if time.Now().After(deadline) {
			t.Fatalf("calls still reach %s", from.addr)
		}
	}
	before := from.calls.Load()
	for range 30 {
		call()
	}
	if got := from.calls.Load() - before; got != 0 {
		t.Fatalf("%d of 30 calls reached %s, which does not serve", got, from.addr)
	}
}

func TestListRefusesWhatIsNotHostPort(t *testing.T) {
	for _, target := range []string{"127.0.0.1:1,,127.0.0.1:2", "127.0.0.1:1,127.0.0.1", "127.0.0.1:1,127.0.0.1:1", "dns:///a:1,b:2"} {
		if _, err := New(target, Options{}); err == nil || !strings.Contains(err.Error(), "grpcclient:") {
			t.Errorf("New(%q) = %v, want a clear error", target, err)
		}
	}
	// One address is dialled as it is.
	conn, err := New("127.0.0.1:1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if conn.Target() != "127.0.0.1:1" {
		t.Errorf("single target became %q", conn.Target())
	}
}
