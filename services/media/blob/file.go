package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/minio/minio-go/v7"
)

// Files in and out of a store. The media service writes the file it stores
// (hashing it on the way) and hands its thumbnailer's programs a path; how
// a store takes a file, or gives one, is the store's business, so callers
// never ask which store is behind the interface.

// fileOpener is a store whose blobs are files on this machine ([Local]).
type fileOpener interface {
	OpenFile(name string) (*os.File, error)
}

// filePutter is a store with its own way of taking a finished file.
type filePutter interface {
	putFile(ctx context.Context, path string, size int64, name string) error
}

// A LocalFile is a blob as a read-only file on this machine: the store's
// own file when it has one, else a temporary copy. Close removes a copy.
type LocalFile struct {
	*os.File
	// Size is the blob's size in bytes.
	Size int64
	copy bool
}

// Close closes the file, and removes it when it is a temporary copy.
func (f *LocalFile) Close() error {
	err := f.File.Close()
	if f.copy {
		if rerr := os.Remove(f.Name()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// File returns blob name of s as a file, for readers that need a path or
// random access: the store's own file when its blobs are files ([Local]),
// otherwise a copy written to tempDir ("" for os.TempDir). The caller
// closes it.
func File(ctx context.Context, s Store, name, tempDir string) (*LocalFile, error) {
	if o, ok := s.(fileOpener); ok {
		f, err := o.OpenFile(name)
		if err != nil {
			return nil, err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("blob: open %s: %w", short(name), err)
		}
		return &LocalFile{File: f, Size: fi.Size()}, nil
	}
	r, err := s.Open(ctx, name, 0, -1)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := os.CreateTemp(tempDir, "blob-*")
	if err != nil {
		return nil, fmt.Errorf("blob: copy %s: %w", short(name), err)
	}
	lf := &LocalFile{File: f, copy: true}
	if lf.Size, err = io.Copy(f, r); err != nil {
		lf.Close()
		return nil, fmt.Errorf("blob: copy %s: %w", short(name), err)
	}
	return lf, nil
}

// PutFile stores the file at path, size bytes that hash to sha256Hex, as
// blob sha256Hex. The caller vouches for the hash (it hashed the bytes
// while writing them) and, for a store that adopts the file, that it was
// synced; it removes whatever is left at path afterwards. [Local] adopts
// the file (a rename, no byte copied); [S3] sends it without hashing it
// again (see [S3.putFile]); any other store gets its bytes through Put.
func PutFile(ctx context.Context, s Store, path string, size int64, sha256Hex string) error {
	if err := checkName("put", sha256Hex); err != nil {
		return err
	}
	switch st := s.(type) {
	case filePutter:
		return st.putFile(ctx, path, size, sha256Hex)
	case Adopter:
		return st.Adopt(ctx, path, sha256Hex)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", short(sha256Hex), err)
	}
	defer f.Close()
	_, _, err = s.Put(ctx, f, sha256Hex)
	return err
}

func (l *Local) putFile(ctx context.Context, path string, _ int64, name string) error {
	return l.Adopt(ctx, path, name)
}

// putFile implements PutFile for S3 from the file itself, with no buffer
// and no second hash: a file of one part at most goes in a single PUT
// whose x-amz-content-sha256 is the name the caller vouches for, so the
// server refuses bytes that do not hash to it; a larger one goes in parts
// read straight from the file, sent as UNSIGNED-PAYLOAD (the name is known,
// and signing each part would hash every byte once more), to its final key,
// which shows nothing before Complete.
func (s *S3) putFile(ctx context.Context, path string, size int64, name string) (err error) {
	ctx, span := s.tr.start(ctx, "blob.Put", attrSHA256Prefix.String(short(name)), attrSize.Int64(size))
	dedup := false
	defer func() {
		span.SetAttributes(attrDeduplicated.Bool(dedup))
		end(span, err)
	}()
	ok, err := s.exists(ctx, name)
	if err != nil {
		return err
	}
	if ok {
		dedup = true
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	defer f.Close()
	key := s.key(name)
	if size <= s.partSize {
		_, err = s.core.PutObject(ctx, s.bucket, key, io.NewSectionReader(f, 0, size), size, "", name,
			minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
		if err != nil {
			return fmt.Errorf("blob: put %s: %w", short(name), err)
		}
		return nil
	}
	if (size+s.partSize-1)/s.partSize > maxParts {
		return fmt.Errorf("blob: put %s: larger than %d parts of %d bytes", short(name), maxParts, s.partSize)
	}
	uploadID, abort, err := s.startMultipart(ctx, key)
	if err != nil {
		return fmt.Errorf("blob: put %s: start upload: %w", short(name), err)
	}
	defer abort(&err)
	var parts []minio.CompletePart
	for part, off := 1, int64(0); off < size; part, off = part+1, off+s.partSize {
		n := min(s.partSize, size-off)
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, uploadID, part, io.NewSectionReader(f, off, n), n,
			minio.PutObjectPartOptions{DisableContentSha256: true})
		if err != nil {
			return fmt.Errorf("blob: put %s: part %d: %w", short(name), part, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: part, ETag: p.ETag})
	}
	span.SetAttributes(attrParts.Int(len(parts)))
	// A caller that gave up gets an error, so the blob must not appear.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("blob: put %s: %w", short(name), err)
	}
	if _, err := s.core.CompleteMultipartUpload(ctx, s.bucket, key, uploadID, parts, minio.PutObjectOptions{}); err != nil {
		return fmt.Errorf("blob: put %s: complete upload: %w", short(name), err)
	}
	return nil
}
