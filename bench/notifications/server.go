package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

// server is one `kinbridge serve all` run as a separate process (see
// bench/internal/suite), with the readings this benchmark takes of it.
type server struct{ *suite.Server }

// startServer runs bin in a fresh data directory under dir and waits
// until the gateway answers /readyz.
func startServer(ctx context.Context, bin, dir string, env []string) (*server, error) {
	s, err := suite.Start(ctx, bin, dir, env)
	if err != nil {
		return nil, err
	}
	return &server{s}, nil
}

// memSample is one reading of the server's memory and resources.
type memSample struct {
	RSS        float64 // VmRSS from /proc/<pid>/status, bytes
	HeapInuse  float64 // go_memstats_heap_inuse_bytes
	StackInuse float64 // go_memstats_stack_inuse_bytes
	Goroutines float64 // go_goroutines
	OpenFDs    float64 // process_open_fds
	GCs        float64 // go_gc_duration_seconds_count
	CPUSeconds float64 // process_cpu_seconds_total
}

// sample reads the server's RSS and scrapes its /metrics.
func (s *server) sample(ctx context.Context) (memSample, error) {
	var m memSample
	rss, err := suite.StatusBytes(s.PID(), "VmRSS")
	if err != nil && err != suite.ErrNoProc {
		return m, err
	}
	m.RSS = rss
	metrics, err := s.Scrape(ctx)
	if err != nil {
		return m, err
	}
	for name, dst := range map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &m.HeapInuse,
		"go_memstats_stack_inuse_bytes": &m.StackInuse,
		"go_goroutines":                 &m.Goroutines,
		"process_open_fds":              &m.OpenFDs,
		"go_gc_duration_seconds_count":  &m.GCs,
		"process_cpu_seconds_total":     &m.CPUSeconds,
	} {
		v, ok := metrics[name]
		if !ok {
			return m, fmt.Errorf("/metrics has no %s", name)
		}
		*dst = v
	}
	if m.RSS == 0 { // no /proc: fall back to the process collector
		m.RSS = metrics["process_resident_memory_bytes"]
	}
	return m, nil
}

// rpcServerTime is how many calls of a gRPC method the server has
// finished, and their total duration in seconds, whatever their status.
func (s *server) rpcServerTime(ctx context.Context, method string) (count, seconds float64, err error) {
	all, err := s.ScrapeAll(ctx)
	if err != nil {
		return 0, 0, err
	}
	label := `rpc_method="` + method + `"`
	for series, v := range all {
		name, labels, ok := strings.Cut(series, "{")
		if !ok || !strings.Contains(labels, label) {
			continue
		}
		switch name {
		case "rpc_server_call_duration_seconds_count":
			count += v
		case "rpc_server_call_duration_seconds_sum":
			seconds += v
		}
	}
	return count, seconds, nil
}
