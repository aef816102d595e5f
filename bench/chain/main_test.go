package main

import "testing"

const output = `goos: linux
BenchmarkChainVsBare/chain-2         	    2000	   1000 ns/op	  136064 B/op	    1352 allocs/op
BenchmarkChainVsBare/bare-2          	    2000	    400 ns/op	   45400 B/op	     696 allocs/op
BenchmarkChainVsBare/chain-2         	    2000	   9000 ns/op	  136064 B/op	    1352 allocs/op
BenchmarkChainVsBare/bare-2          	    2000	    500 ns/op	   45400 B/op	     696 allocs/op
BenchmarkChainVsBare/chain-2         	    2000	   1200 ns/op	  136064 B/op	    1352 allocs/op
BenchmarkChainVsBare/bare-2          	    2000	    600 ns/op	   45400 B/op	     696 allocs/op
PASS
`

func TestRatiosFromMedians(t *testing.T) {
	rows, err := ratios(parse(output))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 {
		t.Fatalf("rows %+v: chain-redis was skipped, so one row", rows)
	}
	r := rows[0]
	if r.Numerator.Value != 1200 || r.Denominator.Value != 500 || r.Ratio != 2.4 {
		t.Errorf("medians 1200/500, got %+v", r)
	}
	if r.Counts[0].Numerator != 1352 || r.Counts[0].Denominator != 696 {
		t.Errorf("allocs %+v", r.Counts[0])
	}
}

func TestMissingSideIsAnError(t *testing.T) {
	if _, err := ratios(parse("BenchmarkChainVsBare/chain-2 1 5 ns/op 1 B/op 1 allocs/op")); err == nil {
		t.Fatal("no bare side, no error")
	}
}

func TestPerfCount(t *testing.T) {
	if v, ok := perfCount("1234567,,instructions:u,1000,100.00,,\n"); !ok || v != 1234567 {
		t.Errorf("got %v %v", v, ok)
	}
	if _, ok := perfCount("<not supported>,,instructions,0,100.00,,\n"); ok {
		t.Error("an unsupported counter read as a count")
	}
}
