package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"go.opentelemetry.io/otel/trace"
)

// localBufSize is the copy buffer of a local Put: large enough that syscalls
// do not dominate, small enough that many concurrent uploads stay cheap.
const localBufSize = 256 << 10

// Local is a [Store] in a directory of the local file system. Blob
// ab12cd... lives at dir/ab/12/ab12cd...; Puts stream into dir/tmp first.
//
// One process owns a directory: NewLocal empties dir/tmp, which would break
// the uploads of another process writing there. Files are private to the
// service's user (0600, directories 0700): they are pictures of children.
type Local struct {
	dir  string
	tmp  string
	tr   tracing
	bufs sync.Pool // of *[]byte of localBufSize
}

var (
	_ Store   = (*Local)(nil)
	_ Adopter = (*Local)(nil)
)

// NewLocal opens the store in dir, creating it if missing, and removes the
// temporary files that Puts interrupted by a crash left in dir/tmp.
func NewLocal(dir string, opts ...Option) (*Local, error) {
	o := buildOptions(opts)
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("blob: local store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("blob: local store: %w", err)
	}
	tmp := filepath.Join(abs, "tmp")
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("blob: local store: clean temporary files: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("blob: local store: %w", err)
	}
	l := &Local{
		dir: abs,
		tmp: tmp,
		tr:  newTracing(o.tp, trace.SpanKindInternal, attrBackend.String("local")),
	}
	l.bufs.New = func() any { b := make([]byte, localBufSize); return &b }
	return l, nil
}

// Dir returns the absolute directory of the store.
func (l *Local) Dir() string { return l.dir }

// Close releases nothing; it is there so that callers can close any store.
func (l *Local) Close() error { return nil }

// path returns where blob name lives; name must be valid.
func (l *Local) path(name string) string {
	return filepath.Join(l.dir, name[0:2], name[2:4], name)
}

// Put implements [Store.Put]: the bytes go to a temporary file in dir/tmp,
// which is synced and renamed into place only once its SHA-256 is known and
// matches wantSHA256. The rename is atomic, so a reader sees the whole blob
// or none, and concurrent Puts of the same bytes all succeed.
func (l *Local) Put(ctx context.Context, r io.Reader, wantSHA256 string) (name string, size int64, err error) {
	ctx, span := l.tr.start(ctx, "blob.Put")
	dedup := false
	defer func() {
		if err == nil {
			span.SetAttributes(attrSHA256Prefix.String(short(name)), attrSize.Int64(size), attrDeduplicated.Bool(dedup))
		}
		end(span, err)
	}()
	if wantSHA256 != "" {
		if err := checkName("put", wantSHA256); err != nil {
			return "", 0, err
		}
	}
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	h := sha256.New()

	if wantSHA256 != "" && l.exists(wantSHA256) {
		// The blob is there already: check the bytes without writing them.
		dedup = true
		if size, err = io.CopyBuffer(h, ctxReader{ctx, r}, *bp); err != nil {
			return "", 0, fmt.Errorf("blob: put: %w", err)
		}
		return verified(h, size, wantSHA256)
	}

	f, err := os.CreateTemp(l.tmp, "put-*")
	if err != nil {
		return "", 0, fmt.Errorf("blob: put: %w", err)
	}
	tmpName := f.Name()
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(tmpName)
		}
	}()
	// MultiWriter hides the file's ReadFrom, so CopyBuffer really uses the
	// bounded buffer; the hash sees exactly the bytes written.
	if size, err = io.CopyBuffer(io.MultiWriter(f, h), ctxReader{ctx, r}, *bp); err != nil {
		return "", 0, fmt.Errorf("blob: put: %w", err)
	}
	if name, size, err = verified(h, size, wantSHA256); err != nil {
		return "", 0, err
	}
	// A caller that gave up gets an error, so the blob must not appear.
	if err := ctx.Err(); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	final := l.path(name)
	if l.exists(name) {
		dedup = true
		return name, size, nil // the deferred cleanup drops the copy
	}
	// Sync before the rename: after a crash the name must not point at a
	// file whose data never reached the disk.
	if err := f.Sync(); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	if err := f.Close(); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	if err := mkdirSynced(filepath.Dir(final)); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	if err := os.Rename(tmpName, final); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	committed = true
	// And sync the directory, or the rename itself may be lost in a crash.
	if err := syncDir(filepath.Dir(final)); err != nil {
		return "", 0, fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	return name, size, nil
}

// Adopt implements [Adopter]: the file at path becomes blob name by a
// rename, so the blob is the very file (same inode) and no byte is copied.
// A file on another file system than the store cannot be renamed in: its
// bytes are copied in by Put, checked against name. A blob already there
// is kept, and path left for the caller to remove.
func (l *Local) Adopt(ctx context.Context, path, name string) (err error) {
	ctx, span := l.tr.start(ctx, "blob.Adopt", attrSHA256Prefix.String(short(name)))
	dedup := false
	defer func() {
		span.SetAttributes(attrDeduplicated.Bool(dedup))
		end(span, err)
	}()
	if err := checkName("adopt", name); err != nil {
		return err
	}
	if l.exists(name) {
		dedup = true
		return nil
	}
	final := l.path(name)
	if err := mkdirSynced(filepath.Dir(final)); err != nil {
		return fmt.Errorf("blob: adopt %s: %w", short(name), err)
	}
	err = os.Rename(path, final)
	if errors.Is(err, syscall.EXDEV) {
		f, err := os.Open(path)
		if err != nil {
			return fmt.Errorf("blob: adopt %s: %w", short(name), err)
		}
		defer f.Close()
		_, _, err = l.Put(ctx, f, name)
		return err
	}
	if err != nil {
		return fmt.Errorf("blob: adopt %s: %w", short(name), err)
	}
	// Sync the directory, or the rename may be lost in a crash.
	if err := syncDir(filepath.Dir(final)); err != nil {
		return fmt.Errorf("blob: adopt %s: %w", short(name), err)
	}
	return nil
}

// verified returns the name of the bytes hashed into h, or ErrDigestMismatch
// when want is set and differs.
func verified(h hash.Hash, size int64, want string) (string, int64, error) {
	name := hex.EncodeToString(h.Sum(nil))
	if want != "" && name != want {
		return "", 0, fmt.Errorf("blob: put: got %s, want %s: %w", short(name), short(want), ErrDigestMismatch)
	}
	return name, size, nil
}

func (l *Local) exists(name string) bool {
	_, err := os.Stat(l.path(name))
	return err == nil
}

// OpenFile opens blob name as a read-only file, for readers that need a
// path (programs such as ffmpeg) or random access without a copy. The file
// is never changed: blobs are content-addressed, and Put replaces a file
// only by renaming an identical one over it.
func (l *Local) OpenFile(name string) (*os.File, error) {
	if err := checkName("open", name); err != nil {
		return nil, err
	}
	f, err := os.Open(l.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: open %s: %w", short(name), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
	}
	return f, nil
}

// Open implements [Store.Open].
func (l *Local) Open(ctx context.Context, name string, offset, length int64) (_ io.ReadCloser, err error) {
	_, span := l.tr.start(ctx, "blob.Open",
		attrSHA256Prefix.String(short(name)), attrOffset.Int64(offset), attrLength.Int64(length))
	defer func() {
		if err != nil {
			end(span, err)
		}
	}()
	f, err := l.OpenFile(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
	}
	span.SetAttributes(attrSize.Int64(fi.Size()))
	n, err := clampRange(name, fi.Size(), offset, length)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &readCloser{r: io.NewSectionReader(f, offset, n), closer: f, span: span}, nil
}

// Stat implements [Store.Stat].
func (l *Local) Stat(ctx context.Context, name string) (size int64, err error) {
	_, span := l.tr.start(ctx, "blob.Stat", attrSHA256Prefix.String(short(name)))
	defer func() {
		if err == nil {
			span.SetAttributes(attrSize.Int64(size))
		}
		end(span, err)
	}()
	if err := checkName("stat", name); err != nil {
		return 0, err
	}
	fi, err := os.Stat(l.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("blob: stat %s: %w", short(name), ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("blob: stat %s: %w", short(name), err)
	}
	return fi.Size(), nil
}

// Delete implements [Store.Delete]. The two levels of directories stay:
// removing an empty one would race with a Put renaming a file into it, and
// there are at most 65,536 of them.
func (l *Local) Delete(ctx context.Context, name string) (err error) {
	_, span := l.tr.start(ctx, "blob.Delete", attrSHA256Prefix.String(short(name)))
	defer func() { end(span, err) }()
	if err := checkName("delete", name); err != nil {
		return err
	}
	if err := os.Remove(l.path(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", short(name), err)
	}
	return nil
}

// mkdirSynced creates dir and its parent (the two fan-out levels) if
// missing, syncing the parent of each directory it creates so that the new
// entry survives a crash.
func mkdirSynced(dir string) error {
	parent := filepath.Dir(dir)
	for _, d := range []string{parent, dir} {
		err := os.Mkdir(d, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(d)); err != nil {
			return err
		}
	}
	return nil
}

// syncDir flushes a directory's entries to disk. Windows cannot sync a
// directory handle (and does not need to), so it is skipped there.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
