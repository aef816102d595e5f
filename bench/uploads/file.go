package main

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/pkg/mediacheck"
)

// testFile is the file every path uploads.
type testFile struct {
	path   string
	size   int64
	sha256 string        // hex, computed while writing
	took   time.Duration // to generate it
}

// makeFile writes an MP4 of size bytes into dir (mediacheck.WriteMovie:
// pseudo-random samples from a fixed seed, so every run uploads the same
// bytes, which the media service stores as they are), streaming and
// hashing as it writes.
func makeFile(dir string, size int64) (*testFile, error) {
	began := time.Now()
	f, err := os.CreateTemp(dir, "upload-*.mp4")
	if err != nil {
		return nil, err
	}
	t := &testFile{path: f.Name(), size: size}
	sum := sha256.New()
	seed := [32]byte{}
	copy(seed[:], "kinbridge upload benchmark")
	if err := mediacheck.WriteMovie(io.MultiWriter(f, sum), size, seed); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return nil, err
	}
	t.sha256 = hex.EncodeToString(sum.Sum(nil))
	t.took = time.Since(began)
	return t, nil
}

func (t *testFile) remove() { os.Remove(t.path) }

// parseSize reads "1GiB", "256MiB", "64KiB" or a plain count of bytes.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}} {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, errors.New("want a positive size such as 1GiB, 256MiB or 1048576")
	}
	if n > (1<<62)/mult {
		return 0, errors.New("too large")
	}
	return n * mult, nil
}

// mib formats bytes as MiB.
func mib(b float64) string { return fmt.Sprintf("%.1f", b/(1<<20)) }

// sizeName is a size as people write it: "1 GiB", "256 MiB".
func sizeName(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
