// Command uploads benchmarks Kinbridge's uploads of one big file against a
// `kinbridge serve all` run as a separate process on loopback (SQLite and
// local blobs in a temporary data dir: its defaults).
//
// It generates an MP4-shaped file of -size bytes (1 GiB by default),
// hashing it as it writes, and uploads it through each path on a fresh
// server: tus 1.0 on the REST gateway as one PATCH and in -tus-chunk
// PATCHes, media's gRPC resumable session (CreateUploadSession,
// WriteUploadSession, FinishUploadSession), the one-request REST upload
// (POST /v1/{child}/media:upload) and media's one-stream UploadMedia. For
// each it times the transfer and the whole upload (the item returned, so
// media's hashing and storing included) and reads the server's resident
// memory before the upload and its high-water mark (VmHWM) after, and
// checks that the item's original_sha256 is the file's.
//
// Then (-concurrent, 8 by default; 0 skips it) it uploads a -concurrent-size
// file (256 MiB) that many times at once through -concurrent-path
// (UploadMedia) on one fresh server, each to a child of its own over a
// connection of its own, checks every item, and compares the MiB/s of them
// all with as many raw write+fsyncs of the file at once; the server's peak
// RSS rise is divided among the uploads.
//
// `make bench-uploads` builds kinbridge from the tree and runs this; -h
// lists the knobs. It binds loopback only, removes its files, stops by
// itself (-timeout) and exits non-zero when an upload fails.
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
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
	"github.com/kinbridge/kinbridge/bench/internal/suite"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench-uploads:", err)
		os.Exit(1)
	}
}

// maxGRPCChunk is the largest chunk a media message may carry.
const maxGRPCChunk = 4 << 20

// defaultMaxVideo is `serve all`'s default --max-video-bytes.
const defaultMaxVideo = 4 << 30

// defaultMaxUploadBytes is `serve all`'s default --max-upload-bytes-per-user.
const defaultMaxUploadBytes = 16 << 30

func run(args []string, out, progress io.Writer) error {
	fs := flag.NewFlagSet("uploads", flag.ContinueOnError)
	bin := fs.String("bin", "", "kinbridge binary to benchmark (default: go build ./cmd/kinbridge from the current directory)")
	sizes := fs.String("size", "1GiB", "file size(s) to upload, comma-separated, e.g. 256MiB,1GiB; each is generated, uploaded through every path, then removed")
	paths := fs.String("paths", strings.Join(allPaths, ","), "paths to upload through, in order: tus (one PATCH), tus-chunked (-tus-chunk PATCHes), session (gRPC resumable session), rest (POST media:upload), stream (gRPC UploadMedia)")
	tusChunk := fs.String("tus-chunk", "64MiB", "tus-chunked: bytes per PATCH")
	grpcChunk := fs.String("grpc-chunk", "1MiB", "session, stream: bytes per gRPC message (at most 4 MiB, less the message framing)")
	timeout := fs.Duration("timeout", 20*time.Minute, "stop everything after this long")
	settle := fs.Duration("settle", 2*time.Second, "wait after a server is up and the child created, before the upload's first byte")
	dir := fs.String("dir", os.TempDir(), "where the file and the servers' data directories go (needs about 4x the largest size free)")
	keep := fs.Bool("keep", false, "keep the file, the servers' data directories and their logs")
	reportDir := fs.String("report-dir", "", "write the ratios (each path / raw write+fsync) as JSON into this directory (bench/report merges them)")
	concurrent := fs.Int("concurrent", 8, "then upload this many files at once, each to a child of its own, on one fresh server (0: skip)")
	concurrentSize := fs.String("concurrent-size", "256MiB", "-concurrent: bytes per upload")
	concurrentPath := fs.String("concurrent-path", pathStream, "-concurrent: the path every upload takes")
	var serverEnv, serverArgs listFlag
	fs.Var(&serverEnv, "server-env", "KEY=VALUE for the server's environment, e.g. GOGC=50 (repeatable)")
	fs.Var(&serverArgs, "server-arg", "an extra flag for serve all, e.g. --keep-location (repeatable)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	for _, kv := range serverEnv {
		if !strings.Contains(kv, "=") {
			return fmt.Errorf("-server-env %q is not KEY=VALUE", kv)
		}
	}
	var sizeList []int64
	for _, s := range strings.Split(*sizes, ",") {
		n, err := parseSize(s)
		if err != nil {
			return fmt.Errorf("-size %q: %w", s, err)
		}
		if n < 1<<20 {
			return fmt.Errorf("-size %q: at least 1MiB", s)
		}
		sizeList = append(sizeList, n)
	}
	var pathList []string
	for _, p := range strings.Split(*paths, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if !slices.Contains(allPaths, p) {
			return fmt.Errorf("-paths: unknown %q (have %s)", p, strings.Join(allPaths, ", "))
		}
		pathList = append(pathList, p)
	}
	if len(pathList) == 0 {
		return errors.New("-paths: nothing to run")
	}
	cSize, err := parseSize(*concurrentSize)
	if err != nil || cSize < 1<<20 {
		return fmt.Errorf("-concurrent-size %q: want a size of at least 1MiB", *concurrentSize)
	}
	if !slices.Contains(allPaths, *concurrentPath) {
		return fmt.Errorf("-concurrent-path: unknown %q (have %s)", *concurrentPath, strings.Join(allPaths, ", "))
	}
	if *concurrent < 0 {
		return fmt.Errorf("-concurrent %d: want 0 or more", *concurrent)
	}
	var uc uploadConfig
	if uc.tusChunk, err = parseSize(*tusChunk); err != nil {
		return fmt.Errorf("-tus-chunk: %w", err)
	}
	gc, err := parseSize(*grpcChunk)
	if err != nil || gc > maxGRPCChunk {
		return fmt.Errorf("-grpc-chunk %q: want a size up to 4MiB", *grpcChunk)
	}
	uc.grpcChunk = int(gc)
	largest := slices.Max(sizeList)
	if *concurrent > 0 {
		// The copies of the raw writes, the uploads' files and blobs.
		largest = max(largest, int64(*concurrent)*cSize)
	}
	// The file, the session's bytes, the stored blob and the thumbnailer's
	// copy of it: a server's data directory goes when its upload is done.
	if free := suite.FreeBytes(*dir); free > 0 && free < uint64(4*largest+1<<30) {
		return fmt.Errorf("%s has %s MiB free; uploading %s needs about %s MiB: pass -dir or a smaller -size",
			*dir, mib(float64(free)), sizeName(largest), mib(float64(4*largest+1<<30)))
	}
	if largest > defaultMaxVideo && !slices.ContainsFunc(serverArgs, func(a string) bool { return strings.Contains(a, "max-video-bytes") }) {
		serverArgs = append(serverArgs, fmt.Sprintf("--max-video-bytes=%d", largest))
	}
	// The cap on bytes under way per user must leave room for the upload.
	if largest > defaultMaxUploadBytes && !slices.ContainsFunc(serverArgs, func(a string) bool { return strings.Contains(a, "max-upload-bytes-per-user") }) {
		serverArgs = append(serverArgs, fmt.Sprintf("--max-upload-bytes-per-user=%d", largest))
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, *timeout)
	defer cancelTimeout()

	tmp, cleanup, err := suite.Workspace(ctx, *dir, "kinbridge-bench-uploads-", *keep, out, bin)
	if err != nil {
		return err
	}
	defer cleanup()
	rc := runConfig{bin: *bin, dir: tmp, env: serverEnv, serverArgs: serverArgs, settle: *settle, keep: *keep, upload: uc}

	began := time.Now()
	fmt.Fprintln(out, "Kinbridge upload benchmark")
	fmt.Fprintf(out, "machine: %s/%s, %d CPUs, %s RAM, kernel %s; load generator built with %s\n",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), suite.MemTotal(), suite.Kernel(), runtime.Version())
	fmt.Fprintf(out, "load average at start (1/5/15 min): %s\n", suite.LoadAvg())
	fmt.Fprintf(out, "server: %s, SQLite and local blobs in a temporary data dir, loopback ephemeral ports; a fresh server per upload\n",
		strings.Join(append([]string{*bin, "serve all"}, serverArgs...), " "))
	if len(serverEnv) > 0 {
		fmt.Fprintf(out, "server environment: %s\n", strings.Join(serverEnv, " "))
	}

	failed := 0
	var rows []report.Row
	for _, size := range sizeList {
		f, err := makeFile(tmp, size)
		if err != nil {
			return fmt.Errorf("generating the %s file: %w", sizeName(size), err)
		}
		fmt.Fprintf(out, "\n%s file: MP4-shaped (ftyp isom, one mdat of pseudo-random bytes), generated in %s (%.0f MiB/s), sha256 %s\n",
			sizeName(size), f.took.Round(time.Millisecond), float64(size)/(1<<20)/f.took.Seconds(), f.sha256)
		raw, err := rawWrite(tmp, f)
		if err != nil {
			return fmt.Errorf("raw write of the %s file: %w", sizeName(size), err)
		}
		fmt.Fprintf(out, "raw write+fsync of a copy in the servers' directory: %s (%.0f MiB/s)\n",
			raw.Round(time.Millisecond), float64(size)/(1<<20)/raw.Seconds())
		var results []*measurement
		for _, p := range pathList {
			if ctx.Err() != nil {
				break
			}
			fmt.Fprintf(progress, "  %s, %s ...\n", sizeName(size), label(p, uc))
			m := measure(ctx, rc, p, f)
			if m.err != nil {
				failed++
				first, _, _ := strings.Cut(m.err.Error(), "\n")
				fmt.Fprintf(progress, "  %s FAILED: %s\n", label(p, uc), first)
			}
			results = append(results, m)
		}
		if !*keep {
			f.remove()
		}
		printResults(out, uc, results)
		rows = append(rows, uploadRows(uc, raw, results)...)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("stopped: %w", err)
		}
	}
	if *concurrent > 0 && ctx.Err() == nil {
		f, err := makeFile(tmp, cSize)
		if err != nil {
			return fmt.Errorf("generating the %s file: %w", sizeName(cSize), err)
		}
		fmt.Fprintf(progress, "  %d x %s at once, %s ...\n", *concurrent, sizeName(cSize), label(*concurrentPath, uc))
		r := measureConcurrent(ctx, rc, *concurrent, *concurrentPath, f)
		if !*keep {
			f.remove()
		}
		if len(r.errs) > 0 {
			failed++
		}
		printConcurrent(out, uc, r)
		rows = append(rows, concurrentRows(uc, r)...)
	}
	fmt.Fprintf(out, "\nload average at end: %s; total time %s\n", suite.LoadAvg(), time.Since(began).Round(time.Second))
	if err := report.Write(*reportDir, "uploads", rows); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d upload(s) failed", failed)
	}
	return nil
}

func printResults(out io.Writer, uc uploadConfig, results []*measurement) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "path\trequests\tcreate\tsent\treceived\ttotal\tMiB/s transfer\tMiB/s incl. finish\tserver RSS before\tserver peak\tpeak - before\tserver CPU\tclient peak\tclient CPU\tload\t")
	for _, m := range results {
		if m.err != nil {
			fmt.Fprintf(tw, "%s\tFAILED\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", label(m.path, uc))
			continue
		}
		o, size := m.out, float64(m.file.size)/(1<<20)
		sent, total := o.sent.Sub(o.first), o.done.Sub(o.first)
		received, transfer := "-", sent
		if !m.received.IsZero() {
			transfer = m.received.Sub(o.first)
			received = secs(transfer)
		}
		reset := ""
		if !m.peakReset {
			reset = "*"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%.1f\t%.1f\t%s MiB\t%s MiB%s\t%s MiB\t%.2f cores\t%s MiB\t%.2f cores\t%s\t\n",
			label(m.path, uc), o.requests, ms(o.create), secs(sent), received, secs(total),
			size/transfer.Seconds(), size/total.Seconds(),
			mib(m.serverBefore), mib(m.serverPeak), reset, mib(m.serverPeak-m.serverBefore), m.serverCPU/total.Seconds(),
			mib(m.clientPeak), m.clientCPU/total.Seconds(), m.load)
	}
	tw.Flush()
	fmt.Fprintln(out, "\n   all times from the first byte sent; total = until the item was returned (media has hashed, stored and recorded the file)")
	fmt.Fprintln(out, "   sent = the client handed over its last byte (gRPC session: WriteUploadSession returned, every byte committed)")
	fmt.Fprintln(out, "   received = media had written every byte to its upload file (seen by polling the server's upload dir every 5ms)")
	fmt.Fprintln(out, "   MiB/s transfer = size / received; MiB/s incl. finish = size / total")
	fmt.Fprintln(out, "   server peak = VmHWM of serve all when the item came back, reset (clear_refs) just before the first byte; RSS before = VmRSS then")
	fmt.Fprintln(out, "   CPU = CPU time / total; create = the tus POST or CreateUploadSession, before the first byte; load = 1-min load average at the start")
	ok := 0
	for _, m := range results {
		if m.err != nil {
			fmt.Fprintf(out, "   %s FAILED: %v\n", label(m.path, uc), m.err)
			continue
		}
		ok++
		if m.received.IsZero() {
			fmt.Fprintf(out, "   %s: media's upload file was never seen complete, so MiB/s transfer is size / sent\n", label(m.path, uc))
		}
		if !m.peakReset {
			fmt.Fprintf(out, "   * %s: the peak could not be reset, so it counts from the server's start\n", label(m.path, uc))
		}
		if !m.clientReset {
			fmt.Fprintf(out, "   %s: the client's peak could not be reset, so it counts from the benchmark's start\n", label(m.path, uc))
		}
	}
	if ok > 0 {
		fmt.Fprintf(out, "   %d of %d uploads checked: the item is video/mp4, of the file's size, and its original_sha256 is the file's\n", ok, len(results))
	}
}

func ms(d time.Duration) string { return fmt.Sprintf("%.0fms", float64(d)/float64(time.Millisecond)) }

func secs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, v)
	return nil
}
