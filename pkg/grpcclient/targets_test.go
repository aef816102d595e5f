package grpcclient

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"
	"golang.org/x/net/dns/dnsmessage"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/resolver/dns"
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
	return serveInstance(t, "127.0.0.1:0")
}

func serveInstance(t *testing.T, addr string, opts ...grpc.ServerOption) *instance {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	i := &instance{addr: lis.Addr().String(), srv: grpc.NewServer(opts...), health: health.NewServer()}
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
// gRPC's DNS resolver resolves a name again at most every 30 s: a test
// cannot wait that long.
func init() { dns.SetMinResolutionInterval(50 * time.Millisecond) }

func TestListBalancesOverHealthyInstances(t *testing.T) {
	a, b := startInstance(t), startInstance(t)
	balancesOverHealthy(t, a.addr+", "+b.addr, a, b)
}

// TestDNSNameBalancesOverHealthyInstances is the same through a DNS name
// with an address per instance, as a Kubernetes headless Service answers
// (the Helm chart's dns:/// addresses): the name server is the test's own.
func TestDNSNameBalancesOverHealthyInstances(t *testing.T) {
	a, b, port := onePortTwoHosts(t)
	dns, _ := nameServer(t, "progress.kinbridge.test.", netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"))
	balancesOverHealthy(t, "dns://"+dns+"/progress.kinbridge.test:"+port, a, b)
}

// TestDNSNameFindsInstancesAddedLater: an instance the name gains (a pod
// the autoscaler adds) gets calls once the servers' connections age out
// (pkg/grpcserver's MaxConnectionAge, short here) and the caller resolves
// the name again.
func TestDNSNameFindsInstancesAddedLater(t *testing.T) {
	aging := grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionAge: 300 * time.Millisecond})
	a, b, port := onePortTwoHosts(t, aging)
	dns, answer := nameServer(t, "progress.kinbridge.test.", netip.MustParseAddr("127.0.0.1"))
	conn, err := New("dns://"+dns+"/progress.kinbridge.test:"+port, Options{Timeout: 5 * time.Second})
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
	call()
	answer(netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2"))
	deadline := time.Now().Add(10 * time.Second)
	for b.calls.Load() == 0 {
		call()
		if time.Now().After(deadline) {
			t.Fatalf("the added instance got no call in 10 s (the first got %d)", a.calls.Load())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// onePortTwoHosts starts two instances on one port, one on 127.0.0.1 and
// one on 127.0.0.2, as two pods behind one name.
func onePortTwoHosts(t *testing.T, opts ...grpc.ServerOption) (a, b *instance, port string) {
	t.Helper()
	for attempt := 0; ; attempt++ {
		a = serveInstance(t, "127.0.0.1:0", opts...)
		_, port, _ = net.SplitHostPort(a.addr)
		lis, err := net.Listen("tcp", net.JoinHostPort("127.0.0.2", port))
		if err == nil {
			lis.Close()
			return a, serveInstance(t, lis.Addr().String(), opts...), port
		}
		if attempt == 5 {
			t.Fatalf("no port free on both 127.0.0.1 and 127.0.0.2: %v", err)
		}
		a.srv.Stop()
	}
}

func balancesOverHealthy(t *testing.T, target string, a, b *instance) {
	t.Helper()
	breaker := NewBreaker(BreakerConfig{Caller: "test", Upstream: "progress", Failures: 2})
	conn, err := New(target, Options{
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

// nameServer answers, over UDP, A queries for name (fully qualified) with
// addrs and every other query with no record; it returns its address and
// a func that changes the answer.
func nameServer(t *testing.T, name string, addrs ...netip.Addr) (string, func(...netip.Addr)) {
	t.Helper()
	var answer atomic.Pointer[[]netip.Addr]
	answer.Store(&addrs)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			h, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			reply := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
			_ = reply.StartQuestions()
			_ = reply.Question(q)
			_ = reply.StartAnswers()
			if q.Type == dnsmessage.TypeA && strings.EqualFold(q.Name.String(), name) {
				for _, a := range *answer.Load() {
					_ = reply.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET}, dnsmessage.AResource{A: a.As4()})
				}
			}
			if msg, err := reply.Finish(); err == nil {
				_, _ = pc.WriteTo(msg, from)
			}
		}
	}()
	return pc.LocalAddr().String(), func(addrs ...netip.Addr) { answer.Store(&addrs) }
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
