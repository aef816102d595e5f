package main

import (
	"fmt"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
)

// The ceilings issue 13 sets for live feeds, on a 2-core machine. An SSE
// feed holds a connection of its own to the gateway, so it is held to
// the own-connection figure.
const (
	idleTargetOwnKiB    = 24
	idleTargetSharedKiB = 12
	idleTargetSSEKiB    = 24
	scaleTargetP99      = 250 * time.Millisecond
)

// idleTargetKiB is the memory per idle feed a transport is held to.
func idleTargetKiB(transport string) float64 {
	switch transport {
	case idleGRPCMux:
		return idleTargetSharedKiB
	case idleSSE:
		return idleTargetSSEKiB
	}
	return idleTargetOwnKiB
}

var idleRowName = map[string]string{
	idleGRPC:    "idle feed, own gRPC connection: server RSS per feed / target",
	idleGRPCMux: "idle feed, streams sharing a gRPC connection: server RSS per feed / target",
	idleSSE:     "idle feed, SSE through the gateway: server RSS per feed / target",
}

// idleRows are the ratios of the idle phase: per transport, the server's
// RSS growth per feed at the largest step over the target, with the heap,
// stacks and goroutines per feed as counts beside it.
func idleRows(results []*idleResult) []report.Row {
	var rows []report.Row
	for _, r := range results {
		if len(r.rows) < 2 {
			continue
		}
		base, top := r.rows[0].mem, r.rows[len(r.rows)-1]
		k := float64(top.feeds)
		per := func(v, b float64) float64 { return (v - b) / k / 1024 }
		target := idleTargetKiB(r.transport)
		row := report.NewRow("notifications", idleRowName[r.transport],
			report.Figure{Label: fmt.Sprintf("%d feeds on %d connections", top.feeds, top.conns), Value: per(top.mem.RSS, base.RSS), Unit: "KiB"},
			report.Figure{Label: "target", Value: target, Unit: "KiB"}, "<= 1")
		row.Counts = []report.Count{
			{Name: "heap in use per feed", Numerator: per(top.mem.HeapInuse, base.HeapInuse), Unit: "KiB"},
			{Name: "goroutine stacks per feed", Numerator: per(top.mem.StackInuse, base.StackInuse), Unit: "KiB"},
			{Name: "goroutines per feed", Numerator: (top.mem.Goroutines - base.Goroutines) / k, Unit: ""},
		}
		rows = append(rows, row)
	}
	return rows
}

// scaleRow is the ratio of the scale phase: p99 from a write to its
// arrival on the watched feeds with every feed open, over the target. A
// lost delivery counts as the whole wait (see scaleResult.latencies), so
// a run that loses some cannot look fast.
func scaleRow(r *scaleResult) report.Row {
	q := quantilesOf(r.latencies)
	row := report.NewRow("notifications",
		fmt.Sprintf("live feeds, %d open (%s): p99 write -> arrival on %d feeds of one child / target", r.open, r.cfg.transport, r.cfg.watched),
		report.Figure{Label: fmt.Sprintf("p99 of %d deliveries", q.n), Value: msOf(q.p99), Unit: "ms"},
		report.Figure{Label: "target", Value: msOf(scaleTargetP99), Unit: "ms"}, "<= 1")
	row.Counts = []report.Count{
		{Name: "p50 / target", Numerator: msOf(q.p50), Denominator: msOf(scaleTargetP99), Unit: "ms"},
		{Name: "max / target", Numerator: msOf(q.pMax), Denominator: msOf(scaleTargetP99), Unit: "ms"},
		{Name: "deliveries lost / expected", Numerator: float64(r.lost), Denominator: float64(r.expected), Unit: ""},
		{Name: "doubled / expected", Numerator: float64(r.doubled), Denominator: float64(r.expected), Unit: ""},
	}
	return row
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
