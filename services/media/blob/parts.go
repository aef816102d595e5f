package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Parts keeps the bytes of uploads in progress, so that any media instance
// sharing the store can continue an upload, not only the one whose upload
// directory holds its file: each committed piece of an upload session is
// one part, an object under uploads/{session}/ beside the blobs (never
// among them: blob names are hex, and "uploads" is not). Parts are not
// content-addressed: their writer names them (uniquely per write, so that
// two writers racing from one offset never overwrite each other's bytes),
// and the media database records which of them hold committed bytes.
// Every [Store] has them.
type Parts interface {
	// PutPart stores p as part of session, durably, before it returns: the
	// caller then records it as committed.
	PutPart(ctx context.Context, session, part string, p []byte) error
	// OpenPart reads a part back; ErrNotFound if absent.
	OpenPart(ctx context.Context, session, part string) (io.ReadCloser, error)
	// DeletePart removes one part; an absent part is not an error.
	DeletePart(ctx context.Context, session, part string) error
	// DeleteParts removes every part of session; none is not an error.
	DeleteParts(ctx context.Context, session string) error
	// PartSessions lists the sessions that have parts, for a sweep of
	// those whose session is gone.
	PartSessions(ctx context.Context) ([]string, error)
}

// partsDir is the folder (key prefix) of upload parts in a store.
const partsDir = "uploads"

// ErrInvalidPart says a session or part name is not 1 to 64 characters of
// a-z, 0-9, '-' and '_': names become paths and keys, so nothing else is
// let near them.
var ErrInvalidPart = errors.New("upload part name is not 1 to 64 of [a-z0-9_-]")

func checkPart(op string, names ...string) error {
	for _, n := range names {
		ok := len(n) > 0 && len(n) <= 64
		for i := 0; ok && i < len(n); i++ {
			c := n[i]
			ok = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		}
		if !ok {
			return fmt.Errorf("blob: %s: %w", op, ErrInvalidPart)
		}
	}
	return nil
}

// partPath is where a part lives in a local store.
func (l *Local) partPath(session, part string) string {
	return filepath.Join(l.dir, partsDir, session, part)
}

// PutPart implements [Parts]: the part is created under its own name
// (unique: a second put of the same part fails), written and synced. A
// crash midway leaves a partial file that nothing recorded, so nothing
// reads it, and the sweep of its session removes it. The folder is synced
// when created, not for each part: that would double the syncs of an
// upload's write path, and on the journaling file systems media runs on
// (ext4, XFS) syncing a new file makes its name durable too; where it
// does not, a power cut can lose a part's name, and the upload, missing
// committed bytes, is dropped (NOT_FOUND, the client starts over), never
// continued over a hole.
func (l *Local) PutPart(ctx context.Context, session, part string, p []byte) (err error) {
	_, span := l.tr.start(ctx, "blob.PutPart", attrSize.Int(len(p)))
	defer func() { end(span, err) }()
	if err := checkPart("put part", session, part); err != nil {
		return err
	}
	final := l.partPath(session, part)
	if err := mkdirSynced(filepath.Dir(final)); err != nil {
		return fmt.Errorf("blob: put part: %w", err)
	}
	f, err := os.OpenFile(final, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("blob: put part: %w", err)
	}
	_, err = f.Write(p)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(final)
		return fmt.Errorf("blob: put part: %w", err)
	}
	return nil
}

// OpenPart implements [Parts].
func (l *Local) OpenPart(ctx context.Context, session, part string) (_ io.ReadCloser, err error) {
	_, span := l.tr.start(ctx, "blob.OpenPart")
	defer func() {
		if err != nil {
			end(span, err)
		}
	}()
	if err := checkPart("open part", session, part); err != nil {
		return nil, err
	}
	f, err := os.Open(l.partPath(session, part))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob: open part: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open part: %w", err)
	}
	return &readCloser{r: f, closer: f, span: span}, nil
}

// DeletePart implements [Parts].
func (l *Local) DeletePart(ctx context.Context, session, part string) (err error) {
	_, span := l.tr.start(ctx, "blob.DeletePart")
	defer func() { end(span, err) }()
	if err := checkPart("delete part", session, part); err != nil {
		return err
	}
	if err := os.Remove(l.partPath(session, part)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete part: %w", err)
	}
	return nil
}

// DeleteParts implements [Parts].
func (l *Local) DeleteParts(ctx context.Context, session string) (err error) {
	_, span := l.tr.start(ctx, "blob.DeleteParts")
	defer func() { end(span, err) }()
	if err := checkPart("delete parts", session); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(l.dir, partsDir, session)); err != nil {
		return fmt.Errorf("blob: delete parts: %w", err)
	}
	return nil
}

// PartSessions implements [Parts].
func (l *Local) PartSessions(context.Context) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(l.dir, partsDir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("blob: list part sessions: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && checkPart("", e.Name()) == nil {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (s *S3) partPrefix(session string) string { return s.prefix + partsDir + "/" + session + "/" }

// PutPart implements [Parts] with one PUT, whose SHA-256 the server
// checks: S3 shows an object whole once the PUT succeeds, or not at all.
func (s *S3) PutPart(ctx context.Context, session, part string, p []byte) (err error) {
	ctx, span := s.tr.start(ctx, "blob.PutPart", attrSize.Int(len(p)))
	defer func() { end(span, err) }()
	if err := checkPart("put part", session, part); err != nil {
		return err
	}
	sum := sha256.Sum256(p)
	_, err = s.core.PutObject(ctx, s.bucket, s.partPrefix(session)+part, bytes.NewReader(p), int64(len(p)), "",
		hex.EncodeToString(sum[:]), minio.PutObjectOptions{ContentType: "application/octet-stream", DisableContentSha256: true})
	if err != nil {
		return fmt.Errorf("blob: put part: %w", err)
	}
	return nil
}

// OpenPart implements [Parts].
func (s *S3) OpenPart(ctx context.Context, session, part string) (_ io.ReadCloser, err error) {
	ctx, span := s.tr.start(ctx, "blob.OpenPart")
	defer func() {
		if err != nil {
			end(span, err)
		}
	}()
	if err := checkPart("open part", session, part); err != nil {
		return nil, err
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, s.partPrefix(session)+part, minio.GetObjectOptions{})
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return nil, fmt.Errorf("blob: open part: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("blob: open part: %w", err)
	}
	return &readCloser{r: body, closer: body, span: span}, nil
}

// DeletePart implements [Parts].
func (s *S3) DeletePart(ctx context.Context, session, part string) (err error) {
	ctx, span := s.tr.start(ctx, "blob.DeletePart")
	defer func() { end(span, err) }()
	if err := checkPart("delete part", session, part); err != nil {
		return err
	}
	if err := s.client.RemoveObject(ctx, s.bucket, s.partPrefix(session)+part, minio.RemoveObjectOptions{}); err != nil {
		return fmt.Errorf("blob: delete part: %w", err)
	}
	return nil
}

// DeleteParts implements [Parts]: the session's keys are listed and
// removed in batches (RemoveObjects sends up to 1000 per request).
func (s *S3) DeleteParts(ctx context.Context, session string) (err error) {
	ctx, span := s.tr.start(ctx, "blob.DeleteParts")
	defer func() { end(span, err) }()
	if err := checkPart("delete parts", session); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	objects := s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.partPrefix(session), Recursive: true})
	var listErr error
	keys := make(chan minio.ObjectInfo)
	go func() {
		defer close(keys)
		for obj := range objects {
			if obj.Err != nil {
				listErr = obj.Err
				return
			}
			select {
			case keys <- obj:
			case <-lctx.Done():
				return
			}
		}
	}()
	for rerr := range s.client.RemoveObjects(ctx, s.bucket, keys, minio.RemoveObjectsOptions{}) {
		if err == nil {
			err = fmt.Errorf("blob: delete parts: %s: %w", rerr.ObjectName, rerr.Err)
		}
	}
	if err == nil && listErr != nil {
		err = fmt.Errorf("blob: delete parts: %w", listErr)
	}
	return err
}

// PartSessions implements [Parts].
func (s *S3) PartSessions(ctx context.Context) ([]string, error) {
	root := s.prefix + partsDir + "/"
	var out []string
	for obj := range s.client.ListObjectsIter(ctx, s.bucket, minio.ListObjectsOptions{Prefix: root}) {
		if obj.Err != nil {
			return nil, fmt.Errorf("blob: list part sessions: %w", obj.Err)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(obj.Key, root), "/")
		if checkPart("", name) == nil {
			out = append(out, name)
		}
	}
	return out, nil
}
