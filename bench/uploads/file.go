package main

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"
)

// testFile is the file every path uploads.
type testFile struct {
	path   string
	size   int64
	sha256 string        // hex, computed while writing
	took   time.Duration // to generate it
}

// mp4Header is an ftyp box, major brand isom (which media sniffs as
// video/mp4), minor version 0x200, compatible brands isom and iso2.
var mp4Header = []byte("\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2")

// makeFile writes an MP4-shaped file of size bytes into dir: the ftyp box,
// then one mdat box whose 64-bit size covers the rest of the file, filled
// with pseudo-random bytes (fixed seed, so every run uploads the same
// bytes). It streams, with a 1 MiB buffer, and hashes as it writes.
func makeFile(dir string, size int64) (*testFile, error) {
	began := time.Now()
	mdat := make([]byte, 16)
	binary.BigEndian.PutUint32(mdat[:4], 1) // "size 1": a 64-bit size follows the type
	copy(mdat[4:8], "mdat")
	binary.BigEndian.PutUint64(mdat[8:], uint64(size)-uint64(len(mp4Header)))
	if size < int64(len(mp4Header)+len(mdat)) {
		return nil, fmt.Errorf("a size of %d bytes cannot hold the MP4 boxes", size)
	}

	f, err := os.CreateTemp(dir, "upload-*.mp4")
	if err != nil {
		return nil, err
	}
	t := &testFile{path: f.Name(), size: size}
	fail := func(err error) (*testFile, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	sum := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, sum), 1<<20)
	w.Write(mp4Header)
	w.Write(mdat)
	seed := [32]byte{}
	copy(seed[:], "kinbridge upload benchmark")
	rng := rand.NewChaCha8(seed)
	buf := make([]byte, 1<<20)
	for left := size - int64(len(mp4Header)+len(mdat)); left > 0; {
		n := int(min(left, int64(len(buf))))
		_, _ = rng.Read(buf[:n]) // never fails
		if _, err := w.Write(buf[:n]); err != nil {
			return fail(err)
		}
		left -= int64(n)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return fail(err)
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
