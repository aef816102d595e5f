package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/kinbridge/kinbridge/bench/internal/report"
)

// rawWrite copies f into dir (where the servers keep their data) and
// fsyncs the copy: what the disk gives a plain write of the same bytes,
// the denominator of each path's ratio.
func rawWrite(dir string, f *testFile) (time.Duration, error) {
	src, err := os.Open(f.path)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	path := filepath.Join(dir, "raw-write.bin")
	defer os.Remove(path)
	began := time.Now()
	dst, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	if _, err := io.CopyBuffer(dst, src, make([]byte, 4<<20)); err != nil {
		dst.Close()
		return 0, err
	}
	if err := dst.Sync(); err != nil {
		dst.Close()
		return 0, err
	}
	if err := dst.Close(); err != nil {
		return 0, err
	}
	return time.Since(began), nil
}

// uploadRows are each path's MiB/s, until the item came back, over the
// raw write's.
func uploadRows(uc uploadConfig, raw time.Duration, results []*measurement) []report.Row {
	var rows []report.Row
	for _, m := range results {
		if m.err != nil {
			continue
		}
		size := float64(m.file.size) / (1 << 20)
		total := m.out.done.Sub(m.out.first)
		rows = append(rows, report.NewRow("uploads", fmt.Sprintf("%s upload, %s / raw write+fsync (MiB/s)", sizeName(m.file.size), label(m.path, uc)),
			report.Figure{Label: label(m.path, uc), Value: size / total.Seconds(), Unit: "MiB/s"},
			report.Figure{Label: "write+fsync", Value: size / raw.Seconds(), Unit: "MiB/s"}, ">= 0.8"))
	}
	return rows
}
