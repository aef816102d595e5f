package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

// Idle transports.
const (
	idleGRPC    = "grpc"     // one gRPC connection per stream, as separate apps would have
	idleGRPCMux = "grpc-mux" // many streams over a few connections, as a backend fanning out would have
	idleSSE     = "sse"      // one HTTP/1.1 connection per SSE feed, to the gateway
)

// idleConfig sizes the idle-subscriber memory benchmark.
type idleConfig struct {
	steps      []int // subscriber counts to measure at, ascending
	transports []string
	muxConns   int
	settle     time.Duration // wait after opening before reading memory
	openers    int           // feeds opened concurrently
}

// idleRow is the server's state with some number of idle feeds open.
type idleRow struct {
	feeds    int
	conns    int           // connections the load generator holds
	live     int           // feeds that carried a heartbeat and never broke
	failed   int           // feeds that could not open
	openTook time.Duration // how long opening this step's feeds took
	mem      memSample
}

// idleResult is one transport's measurements; rows[0] is the baseline.
type idleResult struct {
	transport string
	rows      []idleRow
	load      string
}

// runIdle starts a fresh server, reads its baseline, then opens idle feeds
// step by step and reads the server's memory after each step has settled.
func runIdle(ctx context.Context, bin, dir string, env []string, cfg idleConfig, transport string) (res *idleResult, err error) {
	srv, err := startServer(ctx, bin, dir, env)
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	defer func() {
		if err != nil {
			err = fmt.Errorf("%s: %w\n%s", transport, err, srv.LogTail(10))
		}
	}()
	res = &idleResult{transport: transport}
	most := cfg.steps[len(cfg.steps)-1]

	// Descriptors: each feed (or mux connection) is a socket on both sides.
	muxCount := cfg.muxConns
	if muxCount == 0 {
		muxCount = (most + 199) / 200
	}
	sockets := most
	if transport == idleGRPCMux {
		sockets = min(muxCount, most)
	}
	if limit := suite.OpenFileLimit(); limit > 0 && uint64(sockets+256) > limit {
		return nil, fmt.Errorf("%d feeds need more than this process's open-file limit of %d: lower -idle-steps", most, limit)
	}
	metrics, err := srv.Scrape(ctx)
	if err != nil {
		return nil, err
	}
	if max := metrics["process_max_fds"]; max > 0 && float64(sockets+256) > max {
		return nil, fmt.Errorf("%d feeds need more than the server's open-file limit of %.0f: lower -idle-steps", most, max)
	}

	// Tokens first, so signing them is not part of any step.
	subs := make([]*subscriber, most)
	for i := range subs {
		user := fmt.Sprintf("idle-%05d", i)
		tok, err := srv.Token(user, false)
		if err != nil {
			return nil, err
		}
		via := viaGRPC
		if transport == idleSSE {
			via = viaSSE
		}
		subs[i] = newSubscriber(user, tok, via)
	}
	var muxConns []*grpc.ClientConn
	if transport == idleGRPCMux {
		if muxConns, err = dialMux(srv.Notification, min(muxCount, most)); err != nil {
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

	// The baseline: the server up, nobody subscribed.
	if err := sleep(ctx, min(cfg.settle, 5*time.Second)); err != nil {
		return nil, err
	}
	base, err := medianSample(ctx, srv)
	if err != nil {
		return nil, err
	}
	res.rows = append(res.rows, idleRow{mem: base})

	opened := 0
	failed := 0
	for _, step := range cfg.steps {
		// Open feeds opened..step-1, cfg.openers at a time.
		began := time.Now()
		work := make(chan *subscriber)
		var openers sync.WaitGroup
		var failMu sync.Mutex
		var firstErr error
		for range cfg.openers {
			openers.Go(func() {
				for s := range work {
					var connect func(context.Context, string) (feed, error)
					switch transport {
					case idleSSE:
						connect = sseConnect(srv.Gateway, s.token)
					case idleGRPCMux:
						connect = grpcConnect(muxConns[int(hash(s.user))%len(muxConns)], s.token)
					default:
						c, err := dial(srv.Notification)
						if err != nil {
							failMu.Lock()
							failed++
							firstErr = err
							failMu.Unlock()
							continue
						}
						connsMu.Lock()
						ownConns = append(ownConns, c)
						connsMu.Unlock()
						connect = grpcConnect(c, s.token)
					}
					done := make(chan error, 1)
					feeds.Go(func() { s.run(feedCtx, connect, func(err error) { done <- err }) })
					if err := <-done; err != nil {
						failMu.Lock()
						failed++
						if firstErr == nil {
							firstErr = err
						}
						failMu.Unlock()
					}
				}
			})
		}
		for _, s := range subs[opened:step] {
			select {
			case work <- s:
			case <-ctx.Done():
			}
		}
		close(work)
		openers.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		openTook := time.Since(began)
		opened = step
		if failed == opened {
			return nil, fmt.Errorf("no feed opened: %w", firstErr)
		}

		// Settle, then make sure every feed has carried a heartbeat (the
		// server sends one every 15s), which proves the server holds it.
		if err := sleep(ctx, cfg.settle); err != nil {
			return nil, err
		}
		deadline := time.Now().Add(20 * time.Second)
		live := 0
		for {
			live = 0
			for _, s := range subs[:opened] {
				if s.opened.Load() && s.heartbeats.Load() > 0 && s.reconnects.Load() == 0 {
					live++
				}
			}
			if live == opened-failed || time.Now().After(deadline) {
				break
			}
			if err := sleep(ctx, 250*time.Millisecond); err != nil {
				return nil, err
			}
		}
		mem, err := medianSample(ctx, srv)
		if err != nil {
			return nil, err
		}
		conns := opened - failed
		if transport == idleGRPCMux {
			conns = len(muxConns)
		}
		res.rows = append(res.rows, idleRow{feeds: opened, conns: conns, live: live, failed: failed, openTook: openTook, mem: mem})
	}
	res.load = suite.LoadAvg()
	return res, nil
}

// medianSample reads the server three times, half a second apart, and
// keeps the median of each reading.
func medianSample(ctx context.Context, srv *server) (memSample, error) {
	var samples []memSample
	for i := range 3 {
		if i > 0 {
			if err := sleep(ctx, 500*time.Millisecond); err != nil {
				return memSample{}, err
			}
		}
		m, err := srv.sample(ctx)
		if err != nil {
			return memSample{}, err
		}
		samples = append(samples, m)
	}
	median := func(get func(memSample) float64) float64 {
		v := []float64{get(samples[0]), get(samples[1]), get(samples[2])}
		sort.Float64s(v)
		return v[1]
	}
	return memSample{
		RSS:        median(func(m memSample) float64 { return m.RSS }),
		HeapInuse:  median(func(m memSample) float64 { return m.HeapInuse }),
		StackInuse: median(func(m memSample) float64 { return m.StackInuse }),
		Goroutines: median(func(m memSample) float64 { return m.Goroutines }),
		OpenFDs:    median(func(m memSample) float64 { return m.OpenFDs }),
		GCs:        samples[2].GCs,
		CPUSeconds: samples[2].CPUSeconds,
	}, nil
}

// hash spreads users over the mux connections.
func hash(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return h
}
