// Command chain runs services/progress's BenchmarkChainVsBare (the server
// chain against a bare grpc.NewServer, GetChild over loopback) from its
// test binary with -benchmem, prints its output, and reports the ratios
// chain/bare and chain-redis/chain in ns/op, with allocs/op and B/op,
// which a busy machine does not change, beside them, and instructions per
// call where perf stat can count them. Run from the repository root;
// `make bench` runs it.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kinbridge/kinbridge/bench/internal/report"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/chain:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("chain", flag.ContinueOnError)
	reportDir := fs.String("report-dir", "", "write the ratios as JSON into this directory (bench/report merges them)")
	count := fs.Int("count", 5, "runs of the benchmark, each running every side once; each side keeps its median")
	benchtime := fs.String("benchtime", "2000x", "go test -benchtime for each run")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	tmp, err := os.MkdirTemp("", "kinbridge-chain-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	testBin := filepath.Join(tmp, "progress.test")
	build := exec.Command("go", "test", "-c", "-o", testBin, "./services/progress/")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building the services/progress tests (run from the repository root): %w", err)
	}
	// One run of every side per count, so that the sides take turns and
	// a busy spell slows each alike.
	var buf bytes.Buffer
	for range *count {
		cmd := exec.Command(testBin, "-test.run", "^$", "-test.bench", "^BenchmarkChainVsBare$", "-test.benchmem",
			"-test.benchtime", *benchtime)
		cmd.Dir = "services/progress"
		cmd.Stdout, cmd.Stderr = io.MultiWriter(out, &buf), os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("BenchmarkChainVsBare: %w", err)
		}
	}
	results := parse(buf.String())
	rows, err := ratios(results)
	if err != nil {
		return err
	}
	// Instructions per call, which a busy machine does not change: the
	// difference between a run of n calls and a run of one, over n-1.
	if !perfWorks() {
		fmt.Fprintln(out, "instructions per call: perf stat cannot count instructions here (no hardware counters), so allocs/op stand in")
	} else {
		const n = 2000
		per := map[string]float64{}
		for _, sideName := range []string{"chain", "bare"} {
			one, err1 := instructions(testBin, sideName, 1)
			many, err2 := instructions(testBin, sideName, n)
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("perf stat: %w", err)
			}
			per[sideName] = (many - one) / float64(n-1)
		}
		fmt.Fprintf(out, "instructions per call (perf stat): chain %.0f, bare %.0f\n", per["chain"], per["bare"])
		rows[0].Counts = append(rows[0].Counts, report.Count{Name: "instructions", Numerator: per["chain"], Denominator: per["bare"], Unit: "per call"})
	}
	return report.Write(*reportDir, "chain", rows)
}

// result is one benchmark line's figures.
type result struct{ ns, bytes, allocs float64 }

// parse reads `go test -bench -benchmem` lines of BenchmarkChainVsBare
// into each side's runs.
func parse(output string) map[string][]result {
	out := map[string][]result{}
	for _, line := range strings.Split(output, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !strings.HasPrefix(f[0], "BenchmarkChainVsBare/") {
			continue
		}
		side := strings.TrimPrefix(f[0], "BenchmarkChainVsBare/")
		if i := strings.LastIndexByte(side, '-'); i > 0 { // the GOMAXPROCS suffix
			if _, err := strconv.Atoi(side[i+1:]); err == nil {
				side = side[:i]
			}
		}
		var r result
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				r.ns = v
			case "B/op":
				r.bytes = v
			case "allocs/op":
				r.allocs = v
			}
		}
		out[side] = append(out[side], r)
	}
	return out
}

// ratios turns the medians of each side into rows; chain-redis is left
// out when it was skipped (no Redis).
func ratios(results map[string][]result) ([]report.Row, error) {
	med := map[string]result{}
	for side, rs := range results {
		med[side] = result{median(rs, func(r result) float64 { return r.ns }),
			median(rs, func(r result) float64 { return r.bytes }), median(rs, func(r result) float64 { return r.allocs })}
	}
	row := func(name, num, den, target string) report.Row {
		n, d := med[num], med[den]
		r := report.NewRow("chain", name, report.Figure{Label: num, Value: n.ns, Unit: "ns/op"},
			report.Figure{Label: den, Value: d.ns, Unit: "ns/op"}, target)
		r.Counts = []report.Count{{Name: "allocs", Numerator: n.allocs, Denominator: d.allocs, Unit: "allocs/op"},
			{Name: "bytes", Numerator: n.bytes, Denominator: d.bytes, Unit: "B/op"}}
		return r
	}
	if _, ok := med["chain"]; !ok {
		return nil, errors.New("no chain result in the benchmark's output")
	}
	if _, ok := med["bare"]; !ok {
		return nil, errors.New("no bare result in the benchmark's output")
	}
	// Issue 13's target is throughput: chain/bare >= 0.85, so time per call
	// chain/bare <= 1/0.85.
	rows := []report.Row{row("GetChild: full server chain / bare grpc.NewServer (ns per call)", "chain", "bare", "<= 1.18")}
	if _, ok := med["chain-redis"]; ok {
		rows = append(rows, row("GetChild: chain with --redis-url / chain in process (ns per call)", "chain-redis", "chain", ""))
	}
	return rows, nil
}

func median(rs []result, of func(result) float64) float64 {
	vs := make([]float64, len(rs))
	for i, r := range rs {
		vs[i] = of(r)
	}
	slices.Sort(vs)
	if len(vs) == 0 {
		return 0
	}
	return vs[len(vs)/2]
}

// perfWorks says whether perf stat counts instructions on this machine.
func perfWorks() bool {
	out, err := exec.Command("perf", "stat", "-x,", "-e", "instructions", "--", "true").CombinedOutput()
	if err != nil {
		return false
	}
	v, ok := perfCount(string(out))
	return ok && v > 0
}

// instructions counts what one side of the benchmark runs with n calls.
func instructions(testBin, side string, n int) (float64, error) {
	cmd := exec.Command("perf", "stat", "-x,", "-e", "instructions", "--", testBin, "-test.run", "^$",
		"-test.bench", "^BenchmarkChainVsBare$/^"+side+"$", "-test.benchtime", fmt.Sprintf("%dx", n))
	cmd.Dir = "services/progress"
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s: %w: %s", side, err, stderr.String())
	}
	v, ok := perfCount(stderr.String())
	if !ok {
		return 0, fmt.Errorf("%s: no instruction count in %q", side, stderr.String())
	}
	return v, nil
}

// perfCount reads the instructions line of `perf stat -x,` output.
func perfCount(output string) (float64, bool) {
	for _, line := range strings.Split(output, "\n") {
		f := strings.Split(line, ",")
		if len(f) >= 3 && strings.HasPrefix(f[2], "instructions") {
			v, err := strconv.ParseFloat(f[0], 64)
			return v, err == nil
		}
	}
	return 0, false
}
