package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/bench/internal/suite"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// scaleConfig sizes the scale benchmark: many feeds open, a few of them
// following one child that a contributor writes to.
type scaleConfig struct {
	feeds          int    // feeds open in all
	watched        int    // of which follow the child
	guardians      int    // the child's guardians, whose devices the watched feeds are
	transport      string // idleGRPC, idleGRPCMux or idleSSE
	streamsPerConn int    // grpc-mux: streams sharing one connection
	rate           float64
	duration       time.Duration
	drain          time.Duration
	openers        int
}

// scaleResult is what runScale measured.
type scaleResult struct {
	cfg        scaleConfig
	open       int // feeds that opened
	live       int // of which carried a heartbeat before the writes
	conns      int // connections the load generator held
	openTook   time.Duration
	setupTook  time.Duration // the relay delivering the grants' events
	warmupTook time.Duration
	mem        memSample // the server with every feed open, before the writes
	base       memSample // the server before any feed opened
	sent       int
	failed     int
	firstErr   error
	expected   int // deliveries the watched feeds should carry
	lost       int
	doubled    int
	unexpected int // deliveries of a write on a feed that does not follow its child
	// latencies has one entry per expected delivery: arrival - send for
	// one that came, and the whole wait (end of the drain - send) for one
	// that never did.
	latencies  []time.Duration
	drained    bool
	drainTook  time.Duration
	reconnects int64
	serverCPU  float64 // cores while writing and draining
	wrong      error
}

// runScale starts a fresh server, opens cfg.feeds feeds of which
// cfg.watched follow one child, records assessments for that child at a
// steady rate, and measures each from the send of its CreateAssessment to
// its arrival on every watched feed. Every watched feed must carry every
// write exactly once, and no other feed any.
func runScale(ctx context.Context, bin, dir string, env []string, cfg scaleConfig) (res *scaleResult, err error) {
	// Descriptors: a socket per connection on both sides.
	conns := cfg.feeds
	if cfg.transport == idleGRPCMux {
		conns = (cfg.feeds + cfg.streamsPerConn - 1) / cfg.streamsPerConn
	}
	if limit := suite.OpenFileLimit(); limit > 0 && uint64(conns+512) > limit {
		return nil, fmt.Errorf("%d connections need more than this process's open-file limit of %d: lower -scale-feeds", conns, limit)
	}
	srv, err := startServer(ctx, bin, dir, env)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w\n%s", cfg.transport, err, srv.LogTail(10))
		}
	}()
	metrics, err := srv.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	if max := metrics["process_max_fds"]; max > 0 && float64(conns+512) > max {
		return nil, fmt.Errorf("%d connections need more than the server's open-file limit of %.0f: lower -scale-feeds", conns, max)
	}
	res = &scaleResult{cfg: cfg, conns: conns}

	bc, err := newBenchChild(ctx, srv, "Scale", 30*time.Second)
	if err != nil {
		return nil, err
	}
	defer bc.conn.Close()
	progress, teacher, child := bc.progress, bc.teacher, bc.child
	grant := func(user string, role progressv1.Role) error { return bc.grant(ctx, user, role) }

	// The child's guardians' feeds first, each guardian on several devices
	// (every grant is an event to the child's guardians so far, so 1,000
	// guardians would take a million inbox rows to set up), then feeds of
	// users who follow nobody. A subscriber's name is its feed's.
	subs := make([]*subscriber, cfg.feeds)
	via := viaGRPC
	if cfg.transport == idleSSE {
		via = viaSSE
	}
	tokens := map[string]string{}
	for i := range subs {
		user, name := fmt.Sprintf("scale-%05d", i), ""
		if i < cfg.watched {
			user = fmt.Sprintf("scale-guardian-%04d", i%cfg.guardians)
			name = fmt.Sprintf("%s/device-%d", user, i/cfg.guardians)
		}
		tok, ok := tokens[user]
		if !ok {
			if tok, err = srv.Token(user, false); err != nil {
				return nil, err
			}
			tokens[user] = tok
		}
		subs[i] = newSubscriber(cmp.Or(name, user), tok, via)
	}
	watched, others := subs[:cfg.watched], subs[cfg.watched:]
	var g errgroup.Group
	g.SetLimit(8)
	for i := range min(cfg.guardians, cfg.watched) {
		g.Go(func() error { return grant(fmt.Sprintf("scale-guardian-%04d", i), progressv1.Role_ROLE_GUARDIAN) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	// Let the relay deliver the grants' events before any feed opens, so
	// that they are no part of the run.
	setup := time.Now()
	if err := waitOutbox(ctx, srv, 5*time.Minute); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	res.setupTook = time.Since(setup)

	// Open every feed, cfg.openers at a time; on grpc-mux, feed i shares
	// connection i mod conns, so the watched feeds spread over all of them.
	var muxConns []*grpc.ClientConn
	if cfg.transport == idleGRPCMux {
		if muxConns, err = dialMux(srv.Notification, conns); err != nil {
			return nil, err
		}
	}
	feedCtx, stopFeeds := context.WithCancel(ctx)
	var feeds sync.WaitGroup
	var connsMu sync.Mutex
	var ownConns []*grpc.ClientConn
	defer func() {
		stopFeeds()
		feeds.Wait()
		for _, c := range append(ownConns, muxConns...) {
			c.Close()
		}
	}()
	if res.base, err = srv.sample(ctx); err != nil {
		return nil, err
	}
	began := time.Now()
	var og errgroup.Group
	og.SetLimit(cfg.openers)
	for i, s := range subs {
		og.Go(func() error {
			var connect func(context.Context, string) (feed, error)
			switch cfg.transport {
			case idleSSE:
				connect = sseConnect(srv.Gateway, s.token)
			case idleGRPCMux:
				connect = grpcConnect(muxConns[i%len(muxConns)], s.token)
			default:
				c, err := dial(srv.Notification)
				if err != nil {
					return err
				}
				connsMu.Lock()
				ownConns = append(ownConns, c)
				connsMu.Unlock()
				connect = grpcConnect(c, s.token)
			}
			done := make(chan error, 1)
			feeds.Go(func() { s.run(feedCtx, connect, func(err error) { done <- err }) })
			if err := <-done; err != nil {
				return fmt.Errorf("opening feed %d: %w", i, err)
			}
			return nil
		})
	}
	if err := og.Wait(); err != nil {
		return nil, err
	}
	res.openTook = time.Since(began)
	res.open = len(subs)

	record := func(ctx context.Context, title string) error {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := progress.CreateAssessment(bearer(cctx, teacher), &progressv1.CreateAssessmentRequest{
			Parent: child.GetName(), RequestId: title,
			Assessment: &progressv1.Assessment{Subject: "Math", Title: title,
				Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}})
		return err
	}

	// Warm-up, as in the latency phase: a feed says nothing when the
	// server has subscribed it, so write until every watched feed has
	// carried a warm-up notification. The other feeds prove they are held
	// by a heartbeat.
	warmStart := time.Now()
	for i := 0; ; i++ {
		if err := record(ctx, fmt.Sprintf("%s%03d", warmupPrefix, i)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return nil, err
		}
		cold := 0
		for _, s := range watched {
			if !s.warmed.Load() {
				cold++
			}
		}
		if cold == 0 {
			break
		}
		if time.Since(warmStart) > 60*time.Second {
			return nil, fmt.Errorf("warm-up: %d of %d watched feeds carried nothing within 60s", cold, len(watched))
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		res.live = 0
		for _, s := range subs {
			if s.heartbeats.Load() > 0 || s.warmed.Load() {
				res.live++
			}
		}
		if res.live == len(subs) || time.Now().After(deadline) {
			break
		}
		if err := sleep(ctx, 250*time.Millisecond); err != nil {
			return nil, err
		}
	}
	if err := sleep(ctx, time.Second); err != nil { // the warm-up's tail
		return nil, err
	}
	res.warmupTook = time.Since(warmStart)
	if res.mem, err = srv.sample(ctx); err != nil {
		return nil, err
	}

	// The writes: open loop at cfg.rate, each call in its own goroutine.
	total := int(cfg.rate * cfg.duration.Seconds())
	if total < 1 {
		return nil, errors.New("-scale-rate x -scale-duration is less than one write")
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	sends := make([]send, total)
	cpuBefore := res.mem.CPUSeconds
	start := time.Now()
	var calls sync.WaitGroup
	for i := range total {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(i)*interval))); err != nil {
			return nil, err
		}
		calls.Go(func() {
			at := since()
			err := record(ctx, fmt.Sprintf("%s%06d", benchPrefix, i))
			sends[i] = send{at: at, rpc: since() - at, err: err}
		})
	}
	calls.Wait()
	res.sent = total
	ok := map[string]bool{}
	for i, s := range sends {
		if s.err != nil {
			res.failed++
			if res.firstErr == nil {
				res.firstErr = s.err
			}
			continue
		}
		ok[fmt.Sprintf("%s%06d", benchPrefix, i)] = true
	}

	if res.drained, res.drainTook, err = drain(ctx, watched, len(ok), cfg.drain); err != nil {
		return nil, err
	}
	waited := since()
	if err := sleep(ctx, time.Second); err != nil { // duplicates may trail
		return nil, err
	}
	after, err := srv.sample(ctx)
	if err != nil {
		return nil, err
	}
	res.serverCPU = (after.CPUSeconds - cpuBefore) / time.Since(start).Seconds()
	res.collect(ok, sends, watched, others, waited)
	return res, nil
}

// waitOutbox waits until no service's outbox holds a message.
func waitOutbox(ctx context.Context, srv *server, budget time.Duration) error {
	deadline := time.Now().Add(budget)
	for {
		all, err := srv.ScrapeAll(ctx)
		if err != nil {
			return err
		}
		pending, seen := 0.0, false
		for series, v := range all {
			if strings.HasPrefix(series, "kinbridge_outbox_pending") {
				pending, seen = pending+v, true
			}
		}
		if !seen {
			return errors.New("/metrics has no kinbridge_outbox_pending")
		}
		if pending == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%.0f events still in the outbox after %s", pending, budget)
		}
		if err := sleep(ctx, 500*time.Millisecond); err != nil {
			return err
		}
	}
}

// collect matches the watched feeds' deliveries to their sends and checks
// the run: every watched feed carries every write that succeeded exactly
// once, and no other feed carries any. waited is when the drain stopped:
// a delivery that never came counts as having taken until then.
func (res *scaleResult) collect(ok map[string]bool, sends []send, watched, others []*subscriber, waited time.Duration) {
	for _, s := range watched {
		res.reconnects += s.reconnects.Load()
		s.mu.Lock()
		for i, snd := range sends {
			title := fmt.Sprintf("%s%06d", benchPrefix, i)
			if !ok[title] {
				continue
			}
			res.expected++
			times := s.got[title]
			if len(times) == 0 {
				res.lost++
				res.latencies = append(res.latencies, waited-snd.at)
				continue
			}
			res.latencies = append(res.latencies, times[0]-snd.at)
			res.doubled += len(times) - 1
		}
		s.mu.Unlock()
	}
	var strays []string
	for _, s := range others {
		res.reconnects += s.reconnects.Load()
		s.mu.Lock()
		if len(s.seq) > 0 {
			res.unexpected += len(s.seq)
			if len(strays) < 3 {
				strays = append(strays, s.user+" got "+s.seq[0])
			}
		}
		s.mu.Unlock()
	}
	res.wrong = checkDeliveries(ok, len(sends), watched)
	if res.unexpected > 0 {
		stray := fmt.Errorf("wrong run: %d deliveries on feeds that follow no child (%s)", res.unexpected, strings.Join(strays, ", "))
		res.wrong = errors.Join(res.wrong, stray)
	}
}

func printScale(out io.Writer, r *scaleResult) {
	c := r.cfg
	fmt.Fprintf(out, "\n3. %d live feeds open (%s", r.open, c.transport)
	if c.transport == idleGRPCMux {
		fmt.Fprintf(out, ", %d streams per connection", c.streamsPerConn)
	}
	fmt.Fprintf(out, "), %d of them of one child's %d guardians (%d devices each); a contributor records %g/s for %s\n", c.watched, c.guardians, c.watched/c.guardians, c.rate, c.duration)
	fmt.Fprintf(out, "   setup: the relay delivered the %d grants' events (to the guardians so far) in %s\n", min(c.guardians, c.watched)+1, r.setupTook.Round(time.Millisecond))
	fmt.Fprintf(out, "   opened in %s on %d connections; %d of %d carried a heartbeat or notification; warm-up took %s\n",
		r.openTook.Round(time.Millisecond), r.conns, r.live, r.open, r.warmupTook.Round(time.Millisecond))
	k := float64(r.open)
	fmt.Fprintf(out, "   server with every feed open: RSS %.1f MiB (%s per feed), heap %.1f MiB, stacks %.1f MiB, %.0f goroutines\n",
		r.mem.RSS/(1<<20), kib((r.mem.RSS-r.base.RSS)/k), r.mem.HeapInuse/(1<<20), r.mem.StackInuse/(1<<20), r.mem.Goroutines)
	q := quantilesOf(r.latencies)
	fmt.Fprintf(out, "   write -> arrival on the %d watched feeds: %d deliveries of %d writes (%d failed): p50 %s, p90 %s, p99 %s, max %s\n",
		c.watched, q.n, r.sent, r.failed, ms(q.p50), ms(q.p90), ms(q.p99), ms(q.pMax))
	if r.firstErr != nil {
		fmt.Fprintf(out, "   first failed write: %v\n", r.firstErr)
	}
	verdict := "every watched feed carried every write exactly once, no other feed any"
	if r.wrong != nil {
		verdict = "NOT exactly once: " + r.wrong.Error()
	}
	fmt.Fprintf(out, "   %s; lost %d, doubled %d, stray %d, reconnects %d; last delivery %s after the last call returned\n",
		verdict, r.lost, r.doubled, r.unexpected, r.reconnects, r.drainTook.Round(time.Millisecond))
	fmt.Fprintf(out, "   server CPU %.2f cores on average while writing\n", r.serverCPU)
}

// parseTransport checks a transport flag.
func parseTransport(flag, t string) (string, error) {
	switch t = strings.TrimSpace(t); t {
	case idleGRPC, idleGRPCMux, idleSSE:
		return t, nil
	}
	return "", fmt.Errorf("%s: unknown %q (grpc, grpc-mux or sse)", flag, t)
}
