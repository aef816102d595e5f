package main

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestIdleRows: the ratio is the RSS growth per feed at the largest step
// over the transport's target, and each transport has its own target.
func TestIdleRows(t *testing.T) {
	const kib = 1024.0
	res := func(transport string) *idleResult {
		return &idleResult{transport: transport, rows: []idleRow{
			{mem: memSample{RSS: 40 << 20, HeapInuse: 20 << 20, StackInuse: 1 << 20, Goroutines: 80}},
			{feeds: 100, conns: 100, mem: memSample{RSS: 40<<20 + 100*30*kib}},
			{feeds: 1000, conns: 10, mem: memSample{RSS: 40<<20 + 1000*18*kib, HeapInuse: 20<<20 + 1000*10*kib, StackInuse: 1<<20 + 1000*8*kib, Goroutines: 1080}},
		}}
	}
	rows := idleRows([]*idleResult{res(idleGRPC), res(idleGRPCMux), res(idleSSE), {transport: idleGRPC}})
	if len(rows) != 3 {
		t.Fatalf("%d rows, want 3 (a result without feeds has none)", len(rows))
	}
	for i, want := range []struct {
		target float64
		met    bool
	}{{24, true}, {12, false}, {24, true}} {
		r := rows[i]
		if r.Numerator.Value != 18 || r.Denominator.Value != want.target || r.Ratio != 18/want.target {
			t.Errorf("row %d: %v / %v = %v, want 18 / %v", i, r.Numerator.Value, r.Denominator.Value, r.Ratio, want.target)
		}
		if met, ok := r.Met(); !ok || met != want.met {
			t.Errorf("row %d (%s): met %v, %v; want %v", i, r.Name, met, ok, want.met)
		}
		if r.Counts[0].Numerator != 10 || r.Counts[1].Numerator != 8 || r.Counts[2].Numerator != 1 {
			t.Errorf("row %d counts: %+v, want heap 10, stacks 8, goroutines 1 per feed", i, r.Counts)
		}
	}
}

// TestScaleRowCountsLostAsWholeWait: a lost delivery enters the p99 as
// the whole wait, so a run that loses some cannot meet the target.
func TestScaleRowCountsLostAsWholeWait(t *testing.T) {
	watched := []*subscriber{newSubscriber("a", "", viaGRPC), newSubscriber("b", "", viaGRPC)}
	others := []*subscriber{newSubscriber("c", "", viaGRPC)}
	sends := make([]send, 100)
	ok := map[string]bool{}
	for i := range sends {
		sends[i] = send{at: time.Duration(i) * time.Second}
		title := benchPrefix + pad(i)
		ok[title] = true
		for _, s := range watched {
			if s.user == "b" && i >= 95 {
				continue // lost on b
			}
			s.receive(sends[i].at+10*time.Millisecond, true, title)
		}
	}
	res := &scaleResult{cfg: scaleConfig{watched: 2, transport: idleGRPCMux}, open: 3}
	res.collect(ok, sends, watched, others, 100*time.Second+30*time.Second)
	if res.expected != 200 || res.lost != 5 || len(res.latencies) != 200 {
		t.Fatalf("expected %d, lost %d, latencies %d; want 200, 5, 200", res.expected, res.lost, len(res.latencies))
	}
	row := scaleRow(res)
	// The 5 lost of 200 are the top 2.5%: p99 is one of them, 31s or more.
	if row.Numerator.Value < 31000 {
		t.Errorf("p99 %v ms, want a lost delivery's whole wait", row.Numerator.Value)
	}
	if met, ok := row.Met(); !ok || met {
		t.Errorf("a run that lost deliveries met the target: %v, %v", met, ok)
	}
	if res.wrong == nil || !strings.Contains(res.wrong.Error(), "b: 5 lost") {
		t.Errorf("wrong = %v, want b: 5 lost", res.wrong)
	}

	// A right run meets it; a stray delivery on a feed that follows no
	// child, or a doubled one, fails it.
	for _, s := range append(watched, others...) {
		*s = *newSubscriber(s.user, "", viaGRPC)
	}
	for i := range sends {
		for _, s := range watched {
			s.receive(sends[i].at+10*time.Millisecond, true, benchPrefix+pad(i))
		}
	}
	res = &scaleResult{cfg: res.cfg}
	res.collect(ok, sends, watched, others, 0)
	if res.wrong != nil {
		t.Fatalf("a right run: %v", res.wrong)
	}
	if met, _ := scaleRow(res).Met(); !met {
		t.Errorf("a right run at 10ms did not meet the target")
	}
	others[0].receive(0, true, benchPrefix+pad(3))
	watched[0].receive(0, true, benchPrefix+pad(4))
	res = &scaleResult{cfg: res.cfg}
	res.collect(ok, sends, watched, others, 0)
	if res.wrong == nil || !strings.Contains(res.wrong.Error(), "follow no child") || !strings.Contains(res.wrong.Error(), "a: 1 doubled") || res.doubled != 1 {
		t.Errorf("a stray and a doubled delivery: wrong = %v, doubled %d", res.wrong, res.doubled)
	}
}

func pad(i int) string { return fmt.Sprintf("%06d", i) }
