package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

// concurrentRun is -concurrent uploads of one file at once through one
// path, on one fresh server, each to a child of its own (media answers a
// second upload of the same bytes to the same child with the first item,
// without storing anything) over a connection of its own, as that many
// family members' apps would.
type concurrentRun struct {
	n    int
	path string
	file *testFile

	began, done  time.Time // the first upload's first byte, the last item back
	raw          time.Duration
	serverBefore float64
	serverPeak   float64
	peakReset    bool
	serverCPU    float64
	load         string
	errs         []error
}

// measureConcurrent runs c.n uploads of f through path p at once, checks
// every item (its original_sha256 is the file's), and measures, in the
// same run, n raw write+fsyncs of the file at once in the servers'
// directory.
func measureConcurrent(ctx context.Context, c runConfig, n int, p string, f *testFile) (r *concurrentRun) {
	r = &concurrentRun{n: n, path: p, file: f}
	var err error
	if r.raw, err = rawWriteConcurrent(c.dir, f, n); err != nil {
		r.errs = append(r.errs, fmt.Errorf("raw write: %w", err))
		return r
	}
	srv, err := suite.Start(ctx, c.bin, c.dir, c.env, c.serverArgs...)
	if err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	defer func() {
		if len(r.errs) > 0 {
			r.errs = append(r.errs, errors.New(srv.LogTail(10)))
		}
		srv.Stop()
		if !c.keep {
			os.RemoveAll(srv.DataDir)
		}
	}()
	targets := make([]*target, n)
	for i := range targets {
		t, closeConns, err := newTarget(ctx, srv)
		if err != nil {
			r.errs = append(r.errs, err)
			return r
		}
		defer closeConns()
		targets[i] = t
	}
	if err := sleep(ctx, c.settle); err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	runtime.GC()
	debug.FreeOSMemory()
	pid := srv.PID()
	if r.serverBefore, err = suite.StatusBytes(pid, "VmRSS"); err != nil {
		r.errs = append(r.errs, err)
		return r
	}
	r.peakReset = suite.ResetPeak(pid) == nil
	r.load = firstField(suite.LoadAvg())
	cpu0, err0 := suite.CPUSeconds(pid)

	outs := make([]outcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	r.began = time.Now()
	for i, t := range targets {
		wg.Go(func() { outs[i], errs[i] = upload(ctx, p, t, f, c.upload) })
	}
	wg.Wait()
	r.done = time.Now()
	r.serverPeak, _ = suite.StatusBytes(pid, "VmHWM")
	if cpu1, err1 := suite.CPUSeconds(pid); err0 == nil && err1 == nil {
		r.serverCPU = cpu1 - cpu0
	}
	for i, t := range targets {
		if errs[i] == nil {
			_, errs[i] = verify(ctx, t, f, outs[i].item)
		}
		if errs[i] != nil {
			r.errs = append(r.errs, fmt.Errorf("upload %d: %w", i+1, errs[i]))
		}
	}
	return r
}

// rawWriteConcurrent copies f n times at once into dir and fsyncs each
// copy: what the disk gives n plain writes of the same bytes.
func rawWriteConcurrent(dir string, f *testFile, n int) (time.Duration, error) {
	errs := make([]error, n)
	var wg sync.WaitGroup
	began := time.Now()
	for i := range n {
		wg.Go(func() {
			path := filepath.Join(dir, fmt.Sprintf("raw-write-%d.bin", i))
			defer os.Remove(path)
			errs[i] = copySynced(f.path, path)
		})
	}
	wg.Wait()
	return time.Since(began), errors.Join(errs...)
}

func copySynced(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.CopyBuffer(dst, src, make([]byte, 4<<20)); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

func (r *concurrentRun) label(uc uploadConfig) string {
	return fmt.Sprintf("%d x %s at once, %s", r.n, sizeName(r.file.size), label(r.path, uc))
}

func printConcurrent(out io.Writer, uc uploadConfig, r *concurrentRun) {
	fmt.Fprintf(out, "\n%s:\n", r.label(uc))
	if len(r.errs) > 0 {
		fmt.Fprintf(out, "   FAILED: %v\n", errors.Join(r.errs...))
		return
	}
	total := float64(r.n) * float64(r.file.size) / (1 << 20)
	took := r.done.Sub(r.began)
	reset := ""
	if !r.peakReset {
		reset = " (the peak could not be reset: it counts from the server's start)"
	}
	fmt.Fprintf(out, "   all %d items back in %s: %.1f MiB/s together; %d raw write+fsyncs at once: %s, %.1f MiB/s; ratio %.2f\n",
		r.n, secs(took), total/took.Seconds(), r.n, secs(r.raw), total/r.raw.Seconds(), r.raw.Seconds()/took.Seconds())
	fmt.Fprintf(out, "   server RSS before %s MiB, peak %s MiB%s: %s MiB more, %s MiB per upload; server CPU %.2f cores; load %s\n",
		mib(r.serverBefore), mib(r.serverPeak), reset, mib(r.serverPeak-r.serverBefore),
		mib((r.serverPeak-r.serverBefore)/float64(r.n)), r.serverCPU/took.Seconds(), r.load)
	fmt.Fprintf(out, "   %d of %d items checked: video/mp4, of the file's size, original_sha256 the file's\n", r.n, r.n)
}

// concurrentRows are the aggregate MiB/s over n raw write+fsyncs' at once,
// with the peak RSS rise per upload as a count.
func concurrentRows(uc uploadConfig, r *concurrentRun) []report.Row {
	if r == nil || len(r.errs) > 0 {
		return nil
	}
	total := float64(r.n) * float64(r.file.size) / (1 << 20)
	row := report.NewRow("uploads", r.label(uc)+" / as many raw write+fsyncs at once (MiB/s)",
		report.Figure{Label: label(r.path, uc), Value: total / r.done.Sub(r.began).Seconds(), Unit: "MiB/s"},
		report.Figure{Label: "write+fsync", Value: total / r.raw.Seconds(), Unit: "MiB/s"}, ">= 0.8")
	row.Counts = []report.Count{{
		Name:        "server peak RSS rise per upload (target <= 32 MiB)",
		Numerator:   (r.serverPeak - r.serverBefore) / float64(r.n) / (1 << 20),
		Denominator: 32,
		Unit:        "MiB",
	}}
	return []report.Row{row}
}
