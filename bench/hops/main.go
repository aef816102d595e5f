// Command hops measures what each hop and layer costs a read, side by side
// in one run, against `kinbridge serve all` run as separate processes on
// loopback (see bench/internal/suite):
//
//   - REST through the gateway / direct gRPC, for GetChild and for
//     ListAssessments (a page of 50), on a server with the defaults;
//   - GetChild through the gateway with every span exported over OTLP
//     (100 % sampling, to a receiver in this process) / with tracing off,
//     on two servers that differ only in that.
//
// Each measurement sends a fixed number of requests from a fixed number of
// workers; the measurements take turns, round after round, so that a busy
// machine slows every side alike, and each side keeps its median round.
// Beside requests per second it reports the server's CPU time per request,
// which other load on the machine changes less. Every answer is checked:
// a failed call or a wrong child or page makes the run wrong, and a wrong
// run exits non-zero. Slowness never does. `make bench` runs it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/hops:", err)
		os.Exit(1)
	}
}

type config struct {
	requests    int // per measurement per round
	workers     int
	rounds      int
	assessments int
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("hops", flag.ContinueOnError)
	bin := fs.String("bin", "", "kinbridge binary to benchmark (default: go build ./cmd/kinbridge from the current directory)")
	reportDir := fs.String("report-dir", "", "write the ratios as JSON into this directory (bench/report merges them)")
	timeout := fs.Duration("timeout", 5*time.Minute, "stop everything after this long")
	keep := fs.Bool("keep", false, "keep the temporary data directories and server logs")
	var c config
	fs.IntVar(&c.requests, "requests", 1000, "requests per measurement per round")
	fs.IntVar(&c.workers, "concurrency", 16, "requests in flight at once")
	fs.IntVar(&c.rounds, "rounds", 3, "rounds; each side keeps its median")
	fs.IntVar(&c.assessments, "assessments", 60, "assessments recorded for the child (ListAssessments reads the first 50)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if c.requests < 1 || c.workers < 1 || c.rounds < 1 || c.assessments < pageSize {
		return fmt.Errorf("-requests, -concurrency and -rounds must be positive and -assessments at least %d", pageSize)
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	defer cancelTimeout()

	dir, cleanup, err := suite.Workspace(ctx, "", "kinbridge-hops-", *keep, out, bin)
	if err != nil {
		return err
	}
	defer cleanup()
	fmt.Fprintln(out, "Kinbridge hops benchmark: REST via the gateway / gRPC, tracing exported / off")
	fmt.Fprintf(out, "machine: %s\n", suite.Machine())
	fmt.Fprintf(out, "%d requests per measurement per round, %d in flight, %d rounds\n", c.requests, c.workers, c.rounds)

	receiver, err := startReceiver()
	if err != nil {
		return err
	}
	defer receiver.stop()
	start := func(name string, env ...string) (*target, error) {
		srv, err := suite.Start(ctx, *bin, dir, env)
		if err != nil {
			return nil, fmt.Errorf("%s server: %w", name, err)
		}
		t, err := newTarget(ctx, srv)
		if err != nil {
			srv.Stop()
			return nil, fmt.Errorf("%s server: %w\n%s", name, err, srv.LogTail(10))
		}
		return t, nil
	}
	plain, err := start("default")
	if err != nil {
		return err
	}
	defer plain.close()
	traced, err := start("traced", "OTEL_EXPORTER_OTLP_ENDPOINT=http://"+receiver.addr, "OTEL_TRACES_SAMPLER=always_on",
		"OTEL_BSP_SCHEDULE_DELAY=200")
	if err != nil {
		return err
	}
	defer traced.close()
	untraced, err := start("untraced", "OTEL_TRACES_SAMPLER=always_off")
	if err != nil {
		return err
	}
	defer untraced.close()
	if err := plain.seed(ctx, c.assessments); err != nil {
		return err
	}

	sides := []*side{
		{name: "GetChild REST", target: plain, call: plain.restGetChild},
		{name: "GetChild gRPC", target: plain, call: plain.grpcGetChild},
		{name: "ListAssessments REST", target: plain, call: plain.restListAssessments},
		{name: "ListAssessments gRPC", target: plain, call: plain.grpcListAssessments},
		{name: "GetChild REST, tracing exported", target: traced, call: traced.restGetChild},
		{name: "GetChild REST, tracing off", target: untraced, call: untraced.restGetChild},
	}
	spansBefore := receiver.spans.Load()
	for r := range c.rounds {
		for _, s := range sides {
			if err := s.measure(ctx, c); err != nil {
				return fmt.Errorf("round %d, %s: %w", r+1, s.name, err)
			}
		}
	}
	// Spans leave the traced server in batches: wait until they stop coming.
	spans := receiver.settle(ctx, spansBefore)

	fmt.Fprintln(out)
	for _, s := range sides {
		fmt.Fprintf(out, "%-34s median %8.0f req/s, %6.0f µs server CPU/req; failures %d\n", s.name, s.median(), s.cpuPerReq()*1e6, s.failures)
	}
	tracedReqs := float64(c.rounds * c.requests)
	fmt.Fprintf(out, "spans received from the traced server: %d (%.1f per request)\n", spans, float64(spans)/tracedReqs)

	row := func(name string, num, den *side, target string) report.Row {
		r := report.NewRow("hops", name, report.Figure{Label: num.name, Value: num.median(), Unit: "req/s"},
			report.Figure{Label: den.name, Value: den.median(), Unit: "req/s"}, target)
		r.Counts = []report.Count{{Name: "server CPU", Numerator: num.cpuPerReq() * 1e6, Denominator: den.cpuPerReq() * 1e6, Unit: "µs/req"}}
		return r
	}
	rows := []report.Row{
		row(fmt.Sprintf("GetChild: REST via gateway / direct gRPC (req/s, %d in flight)", c.workers), sides[0], sides[1], ">= 0.7"),
		row(fmt.Sprintf("ListAssessments, page of %d: REST via gateway / direct gRPC (req/s)", pageSize), sides[2], sides[3], ">= 0.7"),
		row("GetChild via gateway: 100% tracing exported over OTLP / tracing off (req/s)", sides[4], sides[5], ">= 0.95"),
	}
	rows[2].Counts = append(rows[2].Counts, report.Count{Name: "spans exported", Numerator: float64(spans) / tracedReqs, Unit: "per request"})
	if err := report.Write(*reportDir, "hops", rows); err != nil {
		return err
	}
	var wrong []error
	for _, s := range sides {
		if s.failures > 0 {
			wrong = append(wrong, fmt.Errorf("%s: %d calls failed or answered wrongly, first: %w", s.name, s.failures, s.firstErr))
		}
	}
	if len(wrong) > 0 {
		return fmt.Errorf("wrong run: %w", errors.Join(wrong...))
	}
	return nil
}

// side is one thing measured: a call on a server, round after round.
type side struct {
	name     string
	target   *target
	call     func(context.Context) error
	rates    []float64 // requests per second, one per round
	cpu      float64   // server CPU seconds over every round
	requests int
	failures int
	firstErr error
}

// measure sends c.requests calls from c.workers workers.
func (s *side) measure(ctx context.Context, c config) error {
	cpu0, err := suite.CPUSeconds(s.target.srv.PID())
	if err != nil {
		return err
	}
	var next atomic.Int64
	var mu sync.Mutex
	var wg sync.WaitGroup
	began := time.Now()
	for range c.workers {
		wg.Go(func() {
			for next.Add(1) <= int64(c.requests) {
				if err := s.call(ctx); err != nil {
					mu.Lock()
					s.failures++
					if s.firstErr == nil {
						s.firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(began)
	if err := ctx.Err(); err != nil {
		return err
	}
	cpu1, err := suite.CPUSeconds(s.target.srv.PID())
	if err != nil {
		return err
	}
	s.rates = append(s.rates, float64(c.requests)/took.Seconds())
	s.cpu += cpu1 - cpu0
	s.requests += c.requests
	return nil
}

func (s *side) median() float64 {
	rs := slices.Sorted(slices.Values(s.rates))
	if len(rs) == 0 {
		return 0
	}
	return rs[len(rs)/2]
}

func (s *side) cpuPerReq() float64 {
	if s.requests == 0 {
		return 0
	}
	return s.cpu / float64(s.requests)
}

// receiver is an OTLP trace receiver that counts the spans it gets.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	addr  string
	srv   *grpc.Server
	spans atomic.Int64
}

func startReceiver() (*receiver, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &receiver{addr: lis.Addr().String(), srv: grpc.NewServer()}
	coltracepb.RegisterTraceServiceServer(r.srv, r)
	go func() { _ = r.srv.Serve(lis) }()
	return r, nil
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	var n int64
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			n += int64(len(ss.GetSpans()))
		}
	}
	r.spans.Add(n)
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// settle waits until no span has come for a second (at most 15 s) and
// returns how many came since before.
func (r *receiver) settle(ctx context.Context, before int64) int64 {
	last, quiet := r.spans.Load(), time.Now()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(100 * time.Millisecond)
		if n := r.spans.Load(); n != last {
			last, quiet = n, time.Now()
		} else if time.Since(quiet) > time.Second {
			break
		}
	}
	return r.spans.Load() - before
}

func (r *receiver) stop() { r.srv.Stop() }
