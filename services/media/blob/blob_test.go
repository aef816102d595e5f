package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/services/media/blob"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// backend is one implementation the contract runs on.
type backend struct {
	name string
	// partSize is where the implementation changes strategy (single PUT or
	// multipart on S3); tests put blobs on both sides of it.
	partSize int64
	// open returns a fresh, empty store, closed when the test ends; secret
	// is what must never show in spans ("" for none).
	open func(t *testing.T, opts ...blob.Option) (s blob.Store, secret string)
	// keys lists everything the store holds, temporary files included.
	keys func(t *testing.T, s blob.Store) []string
	// key is where blob name must be stored, as keys lists it.
	key func(s blob.Store, name string) string
}

var backends = []backend{
	{
		name:     "local",
		partSize: 1 << 20, // no parts; a size to put blobs on both sides of anyway
		open: func(t *testing.T, opts ...blob.Option) (blob.Store, string) {
			s, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"), opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s, ""
		},
		keys: func(t *testing.T, s blob.Store) []string {
			var keys []string
			dir := s.(*blob.Local).Dir()
			err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				rel, err := filepath.Rel(dir, path)
				keys = append(keys, filepath.ToSlash(rel))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return keys
		},
		key: func(_ blob.Store, name string) string { return name[:2] + "/" + name[2:4] + "/" + name },
	},
	{
		name:     "s3",
		partSize: blob.DefaultPartSize,
		open:     func(t *testing.T, opts ...blob.Option) (blob.Store, string) { return openS3(t, "", 0, opts...) },
		keys:     s3Keys,
		key:      s3Key,
	},
	{
		// A prefix, and the smallest part size S3 allows, so that multipart
		// uploads of several parts stay cheap.
		name:     "s3-prefix",
		partSize: blob.MinPartSize,
		open: func(t *testing.T, opts ...blob.Option) (blob.Store, string) {
			return openS3(t, "media/blobs", blob.MinPartSize, opts...)
		},
		keys: s3Keys,
		key:  s3Key,
	},
}

// openS3 opens a store on a fresh bucket from testenv.S3, through blob.Open
// so that the URL form is exercised too.
func openS3(t *testing.T, prefix string, partSize int64, opts ...blob.Option) (blob.Store, string) {
	t.Helper()
	u, err := url.Parse(testenv.S3(t))
	if err != nil {
		t.Fatal(err)
	}
	if prefix != "" {
		u.Path += "/" + prefix
	}
	if partSize != 0 {
		q := u.Query()
		q.Set("part_size", strconv.FormatInt(partSize, 10))
		u.RawQuery = q.Encode()
	}
	s, err := blob.Open(t.Context(), u.String(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.(io.Closer).Close() })
	secret, _ := u.User.Password()
	return s, secret
}

func s3Keys(t *testing.T, s blob.Store) []string {
	keys, err := s.(*blob.S3).Keys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func s3Key(s blob.Store, name string) string {
	return s.(*blob.S3).Prefix() + name[:2] + "/" + name[2:4] + "/" + name
}

// TestContract runs the same suite on every implementation: the local
// directory always, S3 when a server is reachable (required in CI).
func TestContract(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range contract {
				t.Run(tc.name, func(t *testing.T) {
					s, _ := b.open(t)
					tc.run(t, b, s)
				})
			}
		})
	}
}

var contract = []struct {
	name string
	run  func(t *testing.T, b backend, s blob.Store)
}{
	{"round trip", testRoundTrip},
	{"ranged reads", testRangedReads},
	{"digest mismatch stores nothing", testDigestMismatch},
	{"invalid names", testInvalidNames},
	{"concurrent puts of the same bytes", testConcurrentPuts},
	{"delete", testDelete},
	{"cancelled put leaves nothing", testCancelledPut},
	{"large put in bounded memory", testLargePut},
	{"spans", testSpans},
	{"upload parts", testParts},
}

// sizes are blob sizes around the backend's strategy change.
func sizes(b backend) []int64 {
	return []int64{0, 1, 1000, b.partSize - 1, b.partSize, b.partSize + 1, 2*b.partSize + 12345}
}

func randomBytes(seed uint64, n int64) []byte {
	p := make([]byte, n)
	rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(p)
	return p
}

func sum(p []byte) string {
	h := sha256.Sum256(p)
	return hex.EncodeToString(h[:])
}

func readAll(t *testing.T, s blob.Store, name string, offset, length int64) []byte {
	t.Helper()
	rc, err := s.Open(context.Background(), name, offset, length)
	if err != nil {
		t.Fatalf("Open(%.12s, %d, %d): %v", name, offset, length, err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %.12s at %d+%d: %v", name, offset, length, err)
	}
	return got
}

func testRoundTrip(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	var want []string
	for i, n := range sizes(b) {
		data := randomBytes(uint64(i), n)
		name, size, err := s.Put(ctx, bytes.NewReader(data), "")
		if err != nil {
			t.Fatalf("Put(%d bytes): %v", n, err)
		}
		if name != sum(data) || size != n {
			t.Fatalf("Put(%d bytes) = %s, %d; want %s, %d", n, name, size, sum(data), n)
		}
		if got, err := s.Stat(ctx, name); err != nil || got != n {
			t.Fatalf("Stat = %d, %v; want %d", got, err, n)
		}
		if got := readAll(t, s, name, 0, -1); !bytes.Equal(got, data) {
			t.Fatalf("read back %d bytes, differing from the %d put", len(got), n)
		}
		// The same bytes again, with and without the expected digest: same
		// name, still one blob. A plain reader (no Len, no Seek) checks that
		// nothing relies on them.
		for _, wantSHA := range []string{"", name} {
			again, size, err := s.Put(ctx, io.MultiReader(bytes.NewReader(data)), wantSHA)
			if err != nil || again != name || size != n {
				t.Fatalf("Put again (want %q) = %s, %d, %v", wantSHA, again, size, err)
			}
		}
		want = append(want, b.key(s, name))
	}
	got := b.keys(t, s)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("store holds\n%q\nwant\n%q", got, want)
	}
}

func testRangedReads(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	data := randomBytes(7, 1000)
	name, _, err := s.Put(ctx, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	empty, _, err := s.Put(ctx, bytes.NewReader(nil), "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		blob           string
		offset, length int64
		want           []byte
		err            error
	}{
		{"whole", name, 0, -1, data, nil},
		{"start", name, 0, 10, data[:10], nil},
		{"first byte", name, 0, 1, data[:1], nil},
		{"middle", name, 100, 50, data[100:150], nil},
		{"middle to end", name, 990, -1, data[990:], nil},
		{"exactly to end", name, 990, 10, data[990:], nil},
		{"length past end", name, 995, 100, data[995:], nil},
		{"huge length", name, 5, 1<<63 - 1, data[5:], nil},
		{"zero length", name, 10, 0, nil, nil},
		{"offset == size", name, 1000, -1, nil, nil},
		{"offset == size with length", name, 1000, 10, nil, nil},
		{"offset > size", name, 1001, -1, nil, blob.ErrRange},
		{"offset > size with length", name, 5000, 10, nil, blob.ErrRange},
		{"zero length past end", name, 1001, 0, nil, blob.ErrRange},
		{"negative offset", name, -1, 10, nil, blob.ErrRange},
		{"empty blob", empty, 0, -1, nil, nil},
		{"empty blob with length", empty, 0, 10, nil, nil},
		{"empty blob past end", empty, 1, -1, nil, blob.ErrRange},
		{"absent", sum([]byte("absent")), 0, -1, nil, blob.ErrNotFound},
		{"absent with range", sum([]byte("absent")), 10, 10, nil, blob.ErrNotFound},
		{"absent zero length", sum([]byte("absent")), 0, 0, nil, blob.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := s.Open(ctx, tc.blob, tc.offset, tc.length)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Open(%d, %d) = %v, want %v", tc.offset, tc.length, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open(%d, %d): %v", tc.offset, tc.length, err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("Open(%d, %d) read %d bytes, want %d", tc.offset, tc.length, len(got), len(tc.want))
			}
		})
	}
}

func testDigestMismatch(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	for i, n := range []int64{100, 2*b.partSize + 1} {
		data := randomBytes(uint64(100+i), n)
		other := sum(append([]byte("other"), data...))
		if _, _, err := s.Put(ctx, bytes.NewReader(data), other); !errors.Is(err, blob.ErrDigestMismatch) {
			t.Fatalf("Put(%d bytes, wrong digest) = %v, want ErrDigestMismatch", n, err)
		}
		for _, name := range []string{other, sum(data)} {
			if _, err := s.Stat(ctx, name); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Stat(%.12s) after a mismatch = %v, want ErrNotFound", name, err)
			}
		}
	}
	if keys := b.keys(t, s); len(keys) != 0 {
		t.Errorf("store holds %q after mismatched Puts", keys)
	}

	// A blob that exists already does not make a wrong digest pass.
	data := randomBytes(200, 1000)
	name, _, err := s.Put(ctx, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, bytes.NewReader(append(data, 'x')), name); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Errorf("Put(other bytes, digest of a stored blob) = %v, want ErrDigestMismatch", err)
	}
	if got := readAll(t, s, name, 0, -1); !bytes.Equal(got, data) {
		t.Errorf("stored blob changed after a mismatched Put")
	}
}

func testInvalidNames(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	valid := sum([]byte("x"))
	for _, name := range []string{
		"",
		"../../../../etc/passwd",
		valid[:63],
		valid + "0",
		strings.ToUpper(valid),
		valid[:62] + "/.",
		valid[:60] + "/../",
		"tmp/" + valid[:60],
		valid[:63] + "\x00",
		valid[:63] + "g",
	} {
		if _, err := s.Open(ctx, name, 0, -1); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Open(%q) = %v, want ErrInvalidName", name, err)
		}
		if _, err := s.Stat(ctx, name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Stat(%q) = %v, want ErrInvalidName", name, err)
		}
		if err := s.Delete(ctx, name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidName", name, err)
		}
		if name == "" {
			continue // an empty want means "no expectation"
		}
		r := &countingReader{r: bytes.NewReader([]byte("data"))}
		if _, _, err := s.Put(ctx, r, name); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Put(want %q) = %v, want ErrInvalidName", name, err)
		}
		if r.n != 0 {
			t.Errorf("Put(want %q) read %d bytes before refusing the name", name, r.n)
		}
	}
	if keys := b.keys(t, s); len(keys) != 0 {
		t.Errorf("store holds %q", keys)
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func testConcurrentPuts(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	for i, n := range []int64{1000, b.partSize + 1} {
		data := randomBytes(uint64(300+i), n)
		want := sum(data)
		const puts = 8
		var wg sync.WaitGroup
		errs := make([]error, puts)
		for g := range puts {
			wg.Go(func() {
				expect := ""
				if g%2 == 1 {
					expect = want // both paths at once
				}
				name, size, err := s.Put(ctx, bytes.NewReader(data), expect)
				if err == nil && (name != want || size != n) {
					err = fmt.Errorf("got %s, %d", name, size)
				}
				errs[g] = err
			})
		}
		wg.Wait()
		for g, err := range errs {
			if err != nil {
				t.Errorf("Put %d of %d bytes: %v", g, n, err)
			}
		}
		if got := readAll(t, s, want, 0, -1); !bytes.Equal(got, data) {
			t.Errorf("blob of %d bytes reads back wrong", n)
		}
	}
	if keys := b.keys(t, s); len(keys) != 2 {
		t.Errorf("store holds %q, want the two blobs", keys)
	}
}

func testDelete(t *testing.T, b backend, s blob.Store) {
	ctx := context.Background()
	data := randomBytes(400, 1000)
	name, _, err := s.Put(ctx, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Open(ctx, name, 0, -1); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Open after Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.Stat(ctx, name); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, name); err != nil {
		t.Errorf("Delete again = %v, want nil", err)
	}
	if err := s.Delete(ctx, sum([]byte("never stored"))); err != nil {
		t.Errorf("Delete of a blob never stored = %v, want nil", err)
	}
	// And it can come back.
	if again, _, err := s.Put(ctx, bytes.NewReader(data), name); err != nil || again != name {
		t.Fatalf("Put after Delete = %s, %v", again, err)
	}
	if got := readAll(t, s, name, 0, -1); !bytes.Equal(got, data) {
		t.Errorf("blob put after Delete reads back wrong")
	}
}

// slowReader yields pseudo-random bytes, quickly up to threshold and then
// slowly, as a client upload that stalls; it closes reached at the threshold.
// It gives up (with an error) if still read long after that, so a Put that
// ignores its context fails the test instead of hanging it.
type slowReader struct {
	threshold, n int64
	reached      chan struct{}
	slowReads    int
	rng          *rand.ChaCha8
}

func (r *slowReader) Read(p []byte) (int, error) {
	if r.n >= r.threshold {
		if r.slowReads == 0 {
			close(r.reached)
		}
		r.slowReads++
		if r.slowReads > 500 {
			return 0, errors.New("slowReader: still read 5s after the context was cancelled")
		}
		time.Sleep(10 * time.Millisecond)
		p = p[:min(len(p), 1024)]
	}
	p = p[:min(len(p), 64<<10)]
	r.rng.Read(p)
	r.n += int64(len(p))
	return len(p), nil
}

func testCancelledPut(t *testing.T, b backend, s blob.Store) {
	tests := []struct {
		name      string
		threshold int64
		want      string
	}{
		{"within the first part", b.partSize / 2, ""},
		// On S3 one part is uploaded by then, so the upload must be aborted.
		{"after a part", b.partSize + b.partSize/2, ""},
		{"after a part, digest given", b.partSize + b.partSize/2, sum([]byte("whatever"))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			r := &slowReader{threshold: tc.threshold, reached: make(chan struct{}), rng: rand.NewChaCha8([32]byte{9})}
			done := make(chan error, 1)
			go func() {
				_, _, err := s.Put(ctx, r, tc.want)
				done <- err
			}()
			select {
			case <-r.reached:
				cancel()
			case err := <-done:
				t.Fatalf("Put ended before the reader stalled: %v", err)
			}
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Put = %v, want context.Canceled", err)
			}
			if keys := b.keys(t, s); len(keys) != 0 {
				t.Errorf("store holds %q after a cancelled Put", keys)
			}
		})
	}
}

// generator yields n deterministic pseudo-random bytes without holding them,
// calling sample every sampleEvery bytes.
type generator struct {
	left        int64
	rng         *rand.ChaCha8
	since       int64
	sampleEvery int64
	sample      func()
}

func newGenerator(n int64) *generator {
	return &generator{left: n, rng: rand.NewChaCha8([32]byte{42})}
}

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.left)]
	g.rng.Read(p)
	g.left -= int64(len(p))
	if g.sample != nil {
		if g.since += int64(len(p)); g.since >= g.sampleEvery {
			g.since = 0
			g.sample()
		}
	}
	return len(p), nil
}

// liveHeap is the heap still in use after a collection: what a Put holds,
// without the garbage a collection would free anyway. Two collections, since
// a sync.Pool keeps its items (earlier tests' buffers) through one.
func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func testLargePut(t *testing.T, b backend, s blob.Store) {
	const size = 64 << 20
	// The memory bound of the contract, not a timing: a store that held the
	// blob would grow by 64 MiB; one S3 part buffer (16 MiB) is allowed.
	const maxGrowth = 32 << 20
	ctx := context.Background()

	h := sha256.New()
	if _, err := io.Copy(h, newGenerator(size)); err != nil {
		t.Fatal(err)
	}
	want := hex.EncodeToString(h.Sum(nil))

	for _, expect := range []string{"", want} {
		if expect != "" {
			if err := s.Delete(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		before := liveHeap()
		peak := before
		g := newGenerator(size)
		g.sampleEvery = 4 << 20
		g.sample = func() { peak = max(peak, liveHeap()) }
		name, n, err := s.Put(ctx, g, expect)
		if err != nil {
			t.Fatalf("Put(64 MiB, want %q): %v", expect, err)
		}
		if name != want || n != size {
			t.Fatalf("Put(64 MiB) = %s, %d; want %s, %d", name, n, want, int64(size))
		}
		growth := int64(peak) - int64(before)
		t.Logf("Put(64 MiB, want %q): live heap grew by at most %.1f MiB", expect, float64(growth)/(1<<20))
		if growth > maxGrowth {
			t.Errorf("live heap grew by %d MiB during a 64 MiB Put, want under %d MiB", growth>>20, maxGrowth>>20)
		}
	}

	// And it reads back, streamed too.
	rc, err := s.Open(ctx, want, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	h.Reset()
	if n, err := io.Copy(h, rc); err != nil || n != size {
		t.Fatalf("read back %d bytes: %v", n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		t.Errorf("read back %s, want %s", got, want)
	}
}

func testSpans(t *testing.T, b backend, _ blob.Store) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	s, secret := b.open(t, blob.WithTracerProvider(tp))
	ctx := context.Background()

	data := randomBytes(500, 1000)
	name, _, err := s.Put(ctx, bytes.NewReader(data), "")
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, s, name, 10, 20)
	if _, err := s.Stat(ctx, sum([]byte("absent"))); !errors.Is(err, blob.ErrNotFound) {
		t.Fatal(err)
	}
	if _, _, err := s.Put(ctx, bytes.NewReader(data), sum([]byte("other"))); !errors.Is(err, blob.ErrDigestMismatch) {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, name); err != nil {
		t.Fatal(err)
	}

	type span struct {
		name  string
		attrs map[string]string
		error bool
	}
	var got []span
	for _, s := range rec.Ended() {
		attrs := map[string]string{}
		for _, kv := range s.Attributes() {
			attrs[string(kv.Key)] = kv.Value.Emit()
			if secret != "" && strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("span %s attribute %s shows the secret", s.Name(), kv.Key)
			}
			if strings.Contains(kv.Value.Emit(), name) {
				t.Errorf("span %s attribute %s shows a whole blob name, not a prefix", s.Name(), kv.Key)
			}
		}
		if strings.HasPrefix(s.Name(), "blob.") {
			got = append(got, span{s.Name(), attrs, s.Status().Code != 0 && s.Status().Description != ""})
		}
	}
	wantNames := []string{"blob.Put", "blob.Open", "blob.Stat", "blob.Put", "blob.Delete"}
	var names []string
	for _, s := range got {
		names = append(names, s.name)
	}
	if !slices.Equal(names, wantNames) {
		t.Fatalf("spans %q, want %q", names, wantNames)
	}
	put, open, stat, mismatch := got[0], got[1], got[2], got[3]
	for k, v := range map[string]string{
		"blob.backend": strings.TrimSuffix(b.name, "-prefix"), "blob.sha256_prefix": name[:12], "blob.size": "1000",
	} {
		if put.attrs[k] != v {
			t.Errorf("blob.Put %s = %q, want %q (all: %v)", k, put.attrs[k], v, put.attrs)
		}
	}
	if open.attrs["blob.offset"] != "10" || open.attrs["blob.bytes_read"] != "20" {
		t.Errorf("blob.Open attributes %v, want offset 10, bytes_read 20", open.attrs)
	}
	if stat.error {
		t.Errorf("blob.Stat of an absent blob is marked as an error: a missing blob is an answer")
	}
	if !mismatch.error || mismatch.attrs["error.type"] != "digest_mismatch" {
		t.Errorf("blob.Put with a wrong digest is not marked as an error: %v", mismatch.attrs)
	}
}

func TestLocalCleansTemporaryFilesAtStart(t *testing.T) {
	dir := t.TempDir()
	if _, err := blob.NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "tmp", "put-123")
	if err := os.WriteFile(stale, []byte("half a photo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := blob.NewLocal(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file survived a restart: %v", err)
	}
}

func TestS3SweepsStaleTemporaryUploads(t *testing.T) {
	raw := testenv.S3(t)
	ctx := context.Background()
	open := func() *blob.S3 {
		s, err := blob.Open(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.(io.Closer).Close() })
		return s.(*blob.S3)
	}
	s := open()
	name, _, err := s.Put(ctx, bytes.NewReader([]byte("a blob")), "")
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := s.PutTemp(ctx, []byte("half a video"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{s3Key(s, name), tmp}
	slices.Sort(want)

	// A young temporary upload may be another instance's, still going.
	open()
	if got := s3Keys(t, s); !slices.Equal(got, want) {
		t.Fatalf("after a restart the bucket holds %q, want %q", got, want)
	}
	blob.SetStaleTempAge(t, 0)
	open()
	if got := s3Keys(t, s); !slices.Equal(got, []string{s3Key(s, name)}) {
		t.Errorf("after a restart with stale uploads the bucket holds %q, want only the blob", got)
	}
}

func TestOpenURL(t *testing.T) {
	dir := t.TempDir()
	for _, raw := range []string{"file://" + dir + "/a", dir + "/b", "file://localhost" + dir + "/c"} {
		s, err := blob.Open(context.Background(), raw)
		if err != nil {
			t.Fatalf("Open(%q): %v", raw, err)
		}
		if _, ok := s.(*blob.Local); !ok {
			t.Errorf("Open(%q) = %T, want *blob.Local", raw, s)
		}
	}
}

// TestLocalOpenFile: the local store hands out its own file, read only, to
// readers that need a path (the thumbnailer's ffmpeg).
func TestLocalOpenFile(t *testing.T) {
	s, err := blob.NewLocal(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("the bytes of a video")
	sum := sha256.Sum256(data)
	name, _, err := s.Put(t.Context(), bytes.NewReader(data), hex.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenFile(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, err := f.Write([]byte("x")); err == nil {
		t.Error("the blob's file was opened writable")
	}
	missing := sha256.Sum256([]byte("never stored"))
	if _, err := s.OpenFile(hex.EncodeToString(missing[:])); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("missing blob: %v, want ErrNotFound", err)
	}
	if _, err := s.OpenFile("../../etc/passwd"); err == nil {
		t.Error("a name that is not a SHA-256 was opened")
	}
}

// TestLocalAdoptRenames: a file the local store adopts becomes the blob
// itself, the same inode, with no copy; adopting bytes already stored
// keeps the stored blob.
func TestLocalAdoptRenames(t *testing.T) {
	dir := t.TempDir()
	s, err := blob.NewLocal(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte("a rebuilt photo, hashed while it was written")
	sum := sha256.Sum256(data)
	name := hex.EncodeToString(sum[:])
	path := filepath.Join(dir, "content")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Adopt(t.Context(), path, name); err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenFile(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	after, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("the adopted blob is a copy, not the file handed over")
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the adopted file is still at its old path (%v)", err)
	}

	// The same bytes again: the stored blob stays, the new file is left.
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Adopt(t.Context(), path, name); err != nil {
		t.Fatal(err)
	}
	again, err := s.OpenFile(name)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if fi, err := again.Stat(); err != nil || !os.SameFile(after, fi) {
		t.Errorf("adopting stored bytes replaced the blob (%v)", err)
	}
	if err := s.Adopt(t.Context(), path, "not-a-name"); !errors.Is(err, blob.ErrInvalidName) {
		t.Errorf("adopting under a bad name: %v, want ErrInvalidName", err)
	}
}
