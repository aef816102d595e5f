package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/bench/internal/check"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
)

// latencyConfig sizes the publish-to-delivery benchmark.
type latencyConfig struct {
	grpcGuardians int
	sseGuardians  int
	rate          float64 // assessments per second
	duration      time.Duration
	drain         time.Duration // how long to wait for stragglers after the last send
	maxInflight   int
}

// publishMethod is where progress's outbox relay delivers events: a child's
// events in order, up to 100 in one call.
const publishMethod = "kinbridge.notification.peer.v1.PublishService/PublishBatch"

// send is one CreateAssessment of the benchmark.
type send struct {
	at  time.Duration // when the call was sent
	rpc time.Duration // how long the call took
	err error
}

// pathStats is the outcome for one kind of subscriber.
type pathStats struct {
	name        string
	subscribers int
	expected    int             // deliveries that should have happened
	latencies   []time.Duration // first delivery of each notification, per subscriber
	misses      int             // expected deliveries that never came
	dupes       int             // deliveries beyond the first
	unexpected  int             // deliveries of a title whose call failed
	reconnects  int64
}

// latencyResult is what runLatency measured.
type latencyResult struct {
	cfg           latencyConfig
	sent          int
	failed        int
	firstErr      error
	publishTook   time.Duration
	maxInflight   int64
	rpc           []time.Duration
	paths         []*pathStats
	drained       bool
	drainTook     time.Duration
	serverCPU     float64 // cores, averaged over the publishing window and drain
	publishCalls  float64 // notification's PublishBatch calls while recording (the relay's deliveries)
	publishMean   time.Duration
	loadBefore    string
	loadAfter     string
	warmupTook    time.Duration
	subscriberErr []string
	// wrong says how the run lost, doubled or invented a notification on
	// some feed (nil for a right run): it fails the benchmark.
	wrong error
}

// runLatency has guardians follow one child on live feeds while a
// contributor records assessments at a steady rate, and measures each
// notification from the send of its CreateAssessment to its arrival on
// every feed.
func runLatency(ctx context.Context, srv *server, cfg latencyConfig) (*latencyResult, error) {
	res := &latencyResult{cfg: cfg, loadBefore: suite.LoadAvg()}
	bc, err := newBenchChild(ctx, srv, "Bench", 10*time.Second)
	if err != nil {
		return nil, err
	}
	defer bc.conn.Close()
	progress, teacher, child := bc.progress, bc.teacher, bc.child
	grant := func(user string, role progressv1.Role) error { return bc.grant(ctx, user, role) }
	var subs []*subscriber
	for i := range cfg.grpcGuardians + cfg.sseGuardians {
		via, user := viaGRPC, fmt.Sprintf("guardian-grpc-%03d", i)
		if i >= cfg.grpcGuardians {
			via, user = viaSSE, fmt.Sprintf("guardian-sse-%03d", i-cfg.grpcGuardians)
		}
		tok, err := srv.Token(user, false)
		if err != nil {
			return nil, err
		}
		subs = append(subs, newSubscriber(user, tok, via))
	}
	var g errgroup.Group
	g.SetLimit(8)
	for _, s := range subs {
		g.Go(func() error { return grant(s.user, progressv1.Role_ROLE_GUARDIAN) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	// Every guardian opens its feed, each on its own connection.
	feedCtx, stopFeeds := context.WithCancel(ctx)
	var feeds sync.WaitGroup
	var conns []*grpc.ClientConn
	defer func() {
		stopFeeds()
		feeds.Wait()
		for _, c := range conns {
			c.Close()
		}
	}()
	openErrs := make(chan error, len(subs))
	for _, s := range subs {
		connect := sseConnect(srv.Gateway, s.token)
		if s.via == viaGRPC {
			c, err := dial(srv.Notification)
			if err != nil {
				return nil, err
			}
			conns = append(conns, c)
			connect = grpcConnect(c, s.token)
		}
		feeds.Go(func() { s.run(feedCtx, connect, func(err error) { openErrs <- err }) })
	}
	for range subs {
		if err := <-openErrs; err != nil {
			return nil, fmt.Errorf("opening a live feed: %w", err)
		}
	}

	record := func(ctx context.Context, title string) error {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := progress.CreateAssessment(bearer(cctx, teacher), &progressv1.CreateAssessmentRequest{
			Parent: child.GetName(), RequestId: title,
			Assessment: &progressv1.Assessment{Subject: "Math", Title: title,
				Kind: progressv1.AssessmentKind_ASSESSMENT_KIND_HOMEWORK, AssessedDate: "2026-03-01"}})
		return err
	}

	// Warm-up: a feed has no handshake that says the server subscribed it,
	// so record until every feed has carried a warm-up notification. This
	// also fills the guardian cache and the connections' windows.
	warmStart := time.Now()
	for i := 0; ; i++ {
		if err := record(ctx, fmt.Sprintf("%s%03d", warmupPrefix, i)); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		cold := 0
		for _, s := range subs {
			if !s.warmed.Load() {
				cold++
			}
		}
		if cold == 0 {
			break
		}
		if time.Since(warmStart) > 30*time.Second {
			return nil, fmt.Errorf("warm-up: %d of %d feeds carried nothing within 30s", cold, len(subs))
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return nil, err
		}
	}
	time.Sleep(500 * time.Millisecond) // let the warm-up's tail pass
	res.warmupTook = time.Since(warmStart)

	// The run: open loop, one call per tick on a fixed schedule, each in
	// its own goroutine, so a slow call delays no later send (up to
	// maxInflight calls at once).
	total := int(cfg.rate * cfg.duration.Seconds())
	if total < 1 {
		return nil, errors.New("rate x duration is less than one assessment")
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	sends := make([]send, total)
	cpuBefore, err := srv.sample(ctx)
	if err != nil {
		return nil, err
	}
	pubCount0, pubSum0, err := srv.rpcServerTime(ctx, publishMethod)
	if err != nil {
		return nil, err
	}
	sem := make(chan struct{}, cfg.maxInflight)
	var inflight, maxInflight atomic.Int64
	var calls sync.WaitGroup
	start := time.Now()
	for i := range total {
		if err := sleep(ctx, time.Until(start.Add(time.Duration(i)*interval))); err != nil {
			return nil, err
		}
		sem <- struct{}{}
		calls.Go(func() {
			defer func() { <-sem }()
			n := inflight.Add(1)
			for {
				m := maxInflight.Load()
				if n <= m || maxInflight.CompareAndSwap(m, n) {
					break
				}
			}
			defer inflight.Add(-1)
			at := since()
			err := record(ctx, fmt.Sprintf("%s%06d", benchPrefix, i))
			sends[i] = send{at: at, rpc: since() - at, err: err}
		})
	}
	calls.Wait()
	res.publishTook = time.Since(start)
	res.maxInflight = maxInflight.Load()
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
		res.rpc = append(res.rpc, s.rpc)
	}

	// Drain: wait until every feed has every notification, or give up.
	if res.drained, res.drainTook, err = drain(ctx, subs, len(ok), cfg.drain); err != nil {
		return nil, err
	}
	// Duplicates may trail the last first delivery; give them a moment.
	if err := sleep(ctx, time.Second); err != nil {
		return nil, err
	}
	cpuAfter, err := srv.sample(ctx)
	if err != nil {
		return nil, err
	}
	res.serverCPU = (cpuAfter.CPUSeconds - cpuBefore.CPUSeconds) / time.Since(start).Seconds()
	pubCount1, pubSum1, err := srv.rpcServerTime(ctx, publishMethod)
	if err != nil {
		return nil, err
	}
	if res.publishCalls = pubCount1 - pubCount0; res.publishCalls > 0 {
		res.publishMean = time.Duration((pubSum1 - pubSum0) / res.publishCalls * float64(time.Second))
	}
	res.loadAfter = suite.LoadAvg()

	// Match every delivery to its send.
	byPath := map[string]*pathStats{}
	all := &pathStats{name: "all feeds"}
	for _, via := range []string{viaGRPC, viaSSE} {
		byPath[via] = &pathStats{name: via}
	}
	for _, s := range subs {
		p := byPath[s.via]
		p.subscribers++
		all.subscribers++
		p.reconnects += s.reconnects.Load()
		all.reconnects += s.reconnects.Load()
		if err := s.lastErr(); err != nil && len(res.subscriberErr) < 5 {
			res.subscriberErr = append(res.subscriberErr, fmt.Sprintf("%s: %v", s.user, err))
		}
		s.mu.Lock()
		for title, times := range s.got {
			if !ok[title] {
				p.unexpected += len(times)
				all.unexpected += len(times)
				continue
			}
			i, _ := strconv.Atoi(strings.TrimPrefix(title, benchPrefix))
			lat := times[0] - sends[i].at
			p.latencies = append(p.latencies, lat)
			all.latencies = append(all.latencies, lat)
			p.dupes += len(times) - 1
			all.dupes += len(times) - 1
		}
		missing := 0
		for title := range ok {
			if len(s.got[title]) == 0 {
				missing++
			}
		}
		s.mu.Unlock()
		p.expected += len(ok)
		all.expected += len(ok)
		p.misses += missing
		all.misses += missing
	}
	res.wrong = checkDeliveries(ok, len(sends), subs)
	for _, via := range []string{viaGRPC, viaSSE} {
		if byPath[via].subscribers > 0 {
			res.paths = append(res.paths, byPath[via])
		}
	}
	if len(res.paths) > 1 {
		res.paths = append(res.paths, all)
	}
	return res, nil
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// quantiles of durations, nearest rank; ds is sorted in place.
type quantiles struct {
	n                   int
	p50, p90, p99, pMax time.Duration
}

func quantilesOf(ds []time.Duration) quantiles {
	q := quantiles{n: len(ds)}
	if len(ds) == 0 {
		return q
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(p float64) time.Duration {
		i := int(math.Ceil(p*float64(len(ds)))) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	q.p50, q.p90, q.p99, q.pMax = at(0.50), at(0.90), at(0.99), ds[len(ds)-1]
	return q
}

// checkDeliveries says whether every feed carried every notification of a
// call that succeeded (ok, of the titles of sends 0..sent-1) exactly
// once. Calls run concurrently, so their commit order is not known: the
// check is exactly once, not order.
func checkDeliveries(ok map[string]bool, sent int, subs []*subscriber) error {
	var expected []string
	for i := range sent {
		if title := fmt.Sprintf("%s%06d", benchPrefix, i); ok[title] {
			expected = append(expected, title)
		}
	}
	received := map[string][]string{}
	for _, s := range subs {
		s.mu.Lock()
		received[s.via+" "+s.user] = slices.Clone(s.seq)
		s.mu.Unlock()
	}
	return check.Feeds(expected, received, false)
}
