// Command notifications benchmarks Kinbridge's live notifications against
// a `kinbridge serve all` run as a separate process on loopback:
//
//  1. publish-to-delivery latency: guardians follow a child on live feeds
//     (gRPC StreamNotifications, and SSE through the gateway) while a
//     contributor records assessments at a steady rate; each delivery is
//     timed from the send of its CreateAssessment call, and every feed is
//     checked to carry every notification exactly once;
//  2. memory per idle subscriber: K idle feeds are opened on a fresh server
//     and its RSS, Go heap and stacks are read after they settle;
//  3. scale: 10,000 feeds open on a fresh server, 1,000 of them guardians
//     of one child, whose writes are timed to their arrival on those 1,000
//     (and checked, as in 1, to arrive exactly once).
//
// With -report-dir it writes its ratios against issue 13's targets (memory
// per idle feed per transport, p99 at scale) for bench/report to merge.
//
// `make bench-notifications` (and `make bench`, which runs both benchmarks)
// builds kinbridge from the tree and runs this with defaults that take
// about six minutes on two cores; -h lists the knobs. It binds loopback
// only and stops by itself (-timeout).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("notifications", flag.ContinueOnError)
	bin := fs.String("bin", "", "kinbridge binary to benchmark (default: go build ./cmd/kinbridge from the current directory)")
	phases := fs.String("phases", "latency,idle,scale", "what to run: any of latency, idle, scale")
	reportDir := fs.String("report-dir", "", "write the ratios against their targets as JSON into this directory (bench/report merges them)")
	timeout := fs.Duration("timeout", 10*time.Minute, "stop everything after this long")
	keep := fs.Bool("keep", false, "keep the temporary data directories and server logs")
	var serverEnv envList
	fs.Var(&serverEnv, "server-env", "KEY=VALUE for the server's environment, e.g. GOGC=50 (repeatable)")

	var lc latencyConfig
	fs.IntVar(&lc.grpcGuardians, "guardians", 50, "latency: guardians following on gRPC StreamNotifications")
	fs.IntVar(&lc.sseGuardians, "sse-guardians", 10, "latency: guardians following on SSE through the gateway")
	fs.Float64Var(&lc.rate, "rate", 20, "latency: assessments recorded per second")
	fs.DurationVar(&lc.duration, "duration", 30*time.Second, "latency: how long to record")
	fs.DurationVar(&lc.drain, "drain", 30*time.Second, "latency: how long to wait for late deliveries after the last call")
	fs.IntVar(&lc.maxInflight, "max-inflight", 256, "latency: most CreateAssessment calls in flight at once")

	var ic idleConfig
	steps := fs.String("idle-steps", "1000,5000", "idle: numbers of idle feeds to measure at (ascending); each feed is a socket on both sides, so keep under the open-file limit")
	transports := fs.String("idle-transports", "grpc,grpc-mux,sse", "idle: grpc (one connection per stream), grpc-mux (streams share -mux-conns connections), sse (gateway)")
	fs.IntVar(&ic.muxConns, "mux-conns", 0, "idle: connections the grpc-mux streams share; 0 means one per 200 feeds of the largest step (the server lets a connection carry 256 streams, and waits the rest)")
	fs.DurationVar(&ic.settle, "settle", 20*time.Second, "idle: wait after opening feeds before reading memory (heartbeats come every 15s)")
	fs.IntVar(&ic.openers, "openers", 32, "idle: feeds opened concurrently")

	var sc scaleConfig
	scaleTransport := fs.String("scale-transport", idleGRPCMux, "scale: grpc, grpc-mux or sse (one transport at a time: the process has a limited number of open files)")
	fs.IntVar(&sc.feeds, "scale-feeds", 10000, "scale: feeds open in all")
	fs.IntVar(&sc.watched, "scale-watched", 1000, "scale: of which follow the child that is written to")
	fs.IntVar(&sc.guardians, "scale-guardians", 100, "scale: the child's guardians, the watched feeds spread over them as devices (at most 32 each, the server's cap; each grant is an event to the guardians so far, so their setup grows as the square)")
	fs.IntVar(&sc.streamsPerConn, "scale-streams-per-conn", 200, "scale: grpc-mux streams sharing one connection")
	fs.Float64Var(&sc.rate, "scale-rate", 5, "scale: assessments recorded per second for the child")
	fs.DurationVar(&sc.duration, "scale-duration", 10*time.Second, "scale: how long to record")
	fs.DurationVar(&sc.drain, "scale-drain", 30*time.Second, "scale: how long to wait for late deliveries after the last call")
	fs.IntVar(&sc.openers, "scale-openers", 32, "scale: feeds opened concurrently")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}

	for _, f := range strings.Split(*steps, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return fmt.Errorf("-idle-steps: %q is not a count", f)
		}
		if n > 0 {
			ic.steps = append(ic.steps, n)
		}
	}
	if !slices.IsSorted(ic.steps) {
		return errors.New("-idle-steps must be ascending")
	}
	for _, t := range strings.Split(*transports, ",") {
		switch t = strings.TrimSpace(t); t {
		case idleGRPC, idleGRPCMux, idleSSE:
			ic.transports = append(ic.transports, t)
		case "":
		default:
			return fmt.Errorf("-idle-transports: unknown %q", t)
		}
	}
	doLatency, doIdle := strings.Contains(*phases, "latency"), strings.Contains(*phases, "idle") && len(ic.steps) > 0
	doScale := strings.Contains(*phases, "scale")
	var err error
	if sc.transport, err = parseTransport("-scale-transport", *scaleTransport); err != nil {
		return err
	}
	switch {
	case !doLatency && !doIdle && !doScale:
		return errors.New("-phases: nothing to run")
	case lc.rate <= 0 || lc.duration <= 0 || lc.grpcGuardians < 0 || lc.sseGuardians < 0 || lc.grpcGuardians+lc.sseGuardians == 0 || lc.maxInflight < 1:
		return errors.New("latency: -rate, -duration, -max-inflight and the guardians must be positive")
	case ic.openers < 1 || ic.muxConns < 0:
		return errors.New("idle: -openers must be positive and -mux-conns not negative")
	case sc.feeds < 1 || sc.watched < 1 || sc.watched > sc.feeds || sc.guardians < 1 || sc.watched > 32*sc.guardians || sc.streamsPerConn < 1 || sc.rate <= 0 || sc.duration <= 0 || sc.openers < 1:
		return errors.New("scale: -scale-feeds, -scale-watched (at most -scale-feeds and 32 per guardian), -scale-guardians, -scale-streams-per-conn, -scale-rate, -scale-duration and -scale-openers must be positive")
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	defer cancelTimeout()

	dir, cleanup, err := suite.Workspace(ctx, "", "kinbridge-bench-", *keep, out, bin)
	if err != nil {
		return err
	}
	defer cleanup()

	began := time.Now()
	fmt.Fprintln(out, "Kinbridge live notifications benchmark")
	fmt.Fprintf(out, "machine: %s/%s, %d CPUs, %s RAM, kernel %s; load generator built with %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), suite.MemTotal(), suite.Kernel(), runtime.Version())
	fmt.Fprintf(out, "load average at start (1/5/15 min): %s\n", suite.LoadAvg())
	fmt.Fprintf(out, "server: %s serve all, SQLite in a temporary data dir, loopback ephemeral ports\n", *bin)
	if len(serverEnv) > 0 {
		fmt.Fprintf(out, "server environment: %s\n", strings.Join(serverEnv, " "))
	}

	var wrong error // a run that lost or doubled a notification fails, after every phase ran
	var rows []report.Row
	if doLatency {
		srv, err := startServer(ctx, *bin, dir, serverEnv)
		if err != nil {
			return err
		}
		res, err := runLatency(ctx, srv, lc)
		if err != nil {
			err = fmt.Errorf("latency: %w\n%s", err, srv.LogTail(10))
		}
		srv.Stop()
		if err != nil {
			return err
		}
		printLatency(out, res)
		wrong = res.wrong
	}
	if doIdle {
		var results []*idleResult
		for _, t := range ic.transports {
			res, err := runIdle(ctx, *bin, dir, serverEnv, ic, t)
			if err != nil {
				return fmt.Errorf("idle: %w", err)
			}
			results = append(results, res)
		}
		printIdle(out, ic, results)
		rows = append(rows, idleRows(results)...)
	}
	if doScale {
		res, err := runScale(ctx, *bin, dir, serverEnv, sc)
		if err != nil {
			return fmt.Errorf("scale: %w", err)
		}
		printScale(out, res)
		rows = append(rows, scaleRow(res))
		wrong = errors.Join(wrong, res.wrong)
	}
	if len(rows) > 0 {
		fmt.Fprintln(out)
		if err := report.Print(out, rows); err != nil {
			return err
		}
		if err := report.Write(*reportDir, "notifications", rows); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "\nload average at end: %s; total time %s\n", suite.LoadAvg(), time.Since(began).Round(time.Second))
	return wrong
}

func printLatency(out io.Writer, r *latencyResult) {
	c := r.cfg
	fmt.Fprintf(out, "\n1. Publish-to-delivery latency: %d gRPC + %d SSE guardians of one child; a contributor records %g/s for %s\n",
		c.grpcGuardians, c.sseGuardians, c.rate, c.duration)
	fmt.Fprintf(out, "   latency = arrival on the feed - send of CreateAssessment (same process clock); warm-up took %s\n\n",
		r.warmupTook.Round(time.Millisecond))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\tfeeds\tdelivered\texpected\tp50\tp90\tp99\tmax\tmisses\tdupes\tunexpected\treconnects\t")
	for _, p := range r.paths {
		q := quantilesOf(p.latencies)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t\n", p.name, p.subscribers, q.n, p.expected,
			ms(q.p50), ms(q.p90), ms(q.p99), ms(q.pMax), p.misses, p.dupes, p.unexpected, p.reconnects)
	}
	q := quantilesOf(r.rpc)
	fmt.Fprintf(tw, "CreateAssessment RPC\t\t%d\t%d\t%s\t%s\t%s\t%s\t\t\t\t\t\n", q.n, r.sent, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.pMax))
	tw.Flush()
	fmt.Fprintf(out, "\n   sent %d in %s (%.2f/s), %d failed, at most %d calls in flight\n",
		r.sent, r.publishTook.Round(time.Millisecond), float64(r.sent)/r.publishTook.Seconds(), r.failed, r.maxInflight)
	if r.firstErr != nil {
		fmt.Fprintf(out, "   first failure: %v\n", r.firstErr)
	}
	verdict := "every feed carried every notification exactly once"
	for _, p := range r.paths {
		if p.misses+p.dupes+p.unexpected > 0 {
			verdict = "NOT exactly once: see misses/dupes above"
		}
	}
	if !r.drained {
		verdict += fmt.Sprintf(" (gave up waiting after %s)", r.drainTook.Round(time.Millisecond))
	}
	fmt.Fprintf(out, "   %s; last delivery %s after the last call returned\n", verdict, r.drainTook.Round(time.Millisecond))
	if r.publishCalls > 0 {
		fmt.Fprintf(out, "   notification PublishBatch, server side: %.0f calls for %d recorded events, mean %s per call\n",
			r.publishCalls, r.sent-r.failed, ms(r.publishMean))
	}
	fmt.Fprintf(out, "   server CPU %.2f cores on average while recording; load average %s -> %s\n", r.serverCPU, r.loadBefore, r.loadAfter)
	for _, e := range r.subscriberErr {
		fmt.Fprintf(out, "   feed ended: %s\n", e)
	}
}

func printIdle(out io.Writer, c idleConfig, results []*idleResult) {
	fmt.Fprintf(out, "\n2. Memory per idle subscriber: a fresh server per transport; read %s after the feeds opened\n", c.settle)
	fmt.Fprintln(out, "   and every feed carried a heartbeat; per-feed = (value - value with no feeds) / feeds; median of 3 reads")
	fmt.Fprintln(out, "   grpc: one connection per stream; grpc-mux: streams share connections; sse: one HTTP connection per feed to the gateway")
	fmt.Fprintln(out, "   heap = go_memstats_heap_inuse_bytes, which includes garbage not yet collected (-server-env GOGC=10 brings it near the live heap)")
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "transport\tfeeds\tlive\tconns\tserver fds\tRSS MiB\theap MiB\tstacks MiB\tgoroutines\tRSS/feed\theap/feed\tstacks/feed\tgoroutines/feed\topen s\t")
	for _, r := range results {
		base := r.rows[0].mem
		for _, row := range r.rows {
			m := row.mem
			fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%.0f\t%.1f\t%.1f\t%.1f\t%.0f\t", r.transport, row.feeds, liveOf(row), row.conns, m.OpenFDs,
				m.RSS/(1<<20), m.HeapInuse/(1<<20), m.StackInuse/(1<<20), m.Goroutines)
			if row.feeds == 0 {
				fmt.Fprintf(tw, "\t\t\t\t\t\n")
				continue
			}
			k := float64(row.feeds)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t%.1f\t\n", kib((m.RSS-base.RSS)/k), kib((m.HeapInuse-base.HeapInuse)/k),
				kib((m.StackInuse-base.StackInuse)/k), (m.Goroutines-base.Goroutines)/k, row.openTook.Seconds())
		}
	}
	tw.Flush()
	for _, r := range results {
		fmt.Fprintf(out, "   %s: load average after %s\n", r.transport, r.load)
	}
}

// envList collects repeated -server-env flags.
type envList []string

func (e *envList) String() string { return strings.Join(*e, " ") }

func (e *envList) Set(v string) error {
	if !strings.Contains(v, "=") {
		return fmt.Errorf("%q is not KEY=VALUE", v)
	}
	*e = append(*e, v)
	return nil
}

func liveOf(row idleRow) string {
	if row.feeds == 0 {
		return "-"
	}
	s := strconv.Itoa(row.live)
	if row.failed > 0 {
		s += fmt.Sprintf(" (%d failed)", row.failed)
	}
	return s
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond)) }

func kib(b float64) string { return fmt.Sprintf("%.1f KiB", b/1024) }
