package media

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/ingest"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Uploads, one stream or resumable, share one path:
//
//  1. the declared size is checked against the kind's limit before any byte
//     is accepted, and enforced while writing;
//  2. bytes go to a temporary file in TempDir, never memory, owned by an
//     upload session row (UploadMedia makes a short-lived one of its own),
//     so a crash leaves an expiring session whose bytes and pins the
//     sweeper removes; a resumable session's chunks are also kept in the
//     blob store as parts before they are committed, so any instance can
//     continue or finish it from its committed offset (parts.go); whatever refuses an upload for what it is (steps 3,
//     4 and 6, and bytes beyond the declared size) drops its session and
//     bytes at once, so nothing refused is kept and the session is
//     NOT_FOUND from then on;
//  3. the first 512 bytes are sniffed: the type comes from the content,
//     never from the client, and the kind is inferred from it when unset;
//  4. the client's SHA-256 is verified against the bytes as uploaded,
//     hashed as they arrive (a session's row keeps the running hash with
//     its committed offset, so a finish or a resume after a restart reads
//     nothing again to hash it);
//  5. the same bytes already stored for the child answer with that item;
//  6. the file to store is rebuilt from an allowlist (package ingest): only
//     what shows the picture or plays the film, plus orientation, colour
//     profile and capture time, is kept; a file that cannot be walked
//     completely is refused;
//  7. the rebuilt file is written to scratch and hashed on the way; its
//     blob is pinned by the session, handed to the blob store by blob.PutFile
//     (the local one adopts the file by rename, S3 gets its bytes), and referenced by
//     a new PROCESSING item (with its thumbnail job) in one transaction;
//     deleting the session then drops the pin. An item for a child deleted
//     meanwhile is refused (the store keeps a tombstone): the session,
//     ended by the deletion, is dropped on the way out, and the bytes its
//     pin held are swept.
//
// Steps 1 to 3 and the hashing of step 4 happen in one receive loop
// (receive), which every upload path shares.

// uploadIdleTimeout bounds how long a one-stream upload may stall before
// its session expires and its bytes are swept.
const uploadIdleTimeout = time.Hour

// keepAliveEvery is how often a one-stream upload pushes its session's
// expiry forward while bytes arrive.
const keepAliveEvery = 30 * time.Second

// jobThumbnail is the kind of the job that makes an item's thumbnails.
const jobThumbnail = "thumbnail"

// checkSize refuses a size over the kind's limit.
func (s *Service) checkSize(k store.Kind, size int64) error {
	limit := s.cfg.Limits.of(k)
	if size <= limit {
		return nil
	}
	what := "an upload"
	if k != store.KindUnspecified {
		what = "a " + kindWord(k)
	}
	return errinfo.Media(codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE,
		fmt.Sprintf("%d bytes is over the limit for %s (%d bytes)", size, what, limit),
		map[string]string{"size_bytes": strconv.FormatInt(size, 10), "limit_bytes": strconv.FormatInt(limit, 10)})
}

func kindWord(k store.Kind) string {
	switch k {
	case store.KindPhoto:
		return "photo"
	case store.KindArtwork:
		return "artwork"
	case store.KindVideo:
		return "video"
	case store.KindDocument:
		return "document"
	}
	return "file"
}

// tooMany refuses bytes beyond the declared size.
func tooMany(declared int64) error {
	return errinfo.Media(codes.OutOfRange, mediav1.ErrorReason_ERROR_REASON_TOO_LARGE,
		fmt.Sprintf("more bytes than the declared size_bytes %d", declared),
		map[string]string{"size_bytes": strconv.FormatInt(declared, 10)})
}

// classify sniffs the head of an upload, settles its kind (inferred when
// unset, else checked against the content) and checks the kind's limit.
func (s *Service) classify(meta store.UploadMetadata, head []byte) (ingest.Type, store.Kind, error) {
	t, err := ingest.Sniff(head)
	if err != nil {
		looks := "something else"
		var na *ingest.NotAllowedError
		if errors.As(err, &na) {
			looks = na.Looks
		}
		return ingest.Type{}, 0, errinfo.Media(codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE,
			fmt.Sprintf("this file looks like %s: only photos (JPEG, PNG, GIF, WebP, HEIC/HEIF) and videos (MP4, 3GP, QuickTime, WebM) are accepted", looks),
			map[string]string{"looks_like": looks})
	}
	k := meta.Kind
	if k == store.KindUnspecified {
		switch t.Kind {
		case ingest.Image:
			k = store.KindPhoto
		case ingest.Video:
			k = store.KindVideo
		}
	} else if !kindFits(k, t.ContentType) {
		return ingest.Type{}, 0, errinfo.Media(codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH,
			fmt.Sprintf("the content is %s, which cannot be filed as a %s", t.ContentType, kindWord(k)),
			map[string]string{"content_type": t.ContentType})
	}
	if err := s.checkSize(k, meta.SizeBytes); err != nil {
		return ingest.Type{}, 0, err
	}
	return t, k, nil
}

// tempPath is where a session keeps its bytes.
func (s *Service) tempPath(sessionID string) string {
	return filepath.Join(s.cfg.TempDir, "upload-"+sessionID)
}

// dropSession removes a session's bytes, then the session (releasing its
// pins, whose bytes the sweeper then deletes), on a context of its own: it
// runs after failures, refusals and cancellations. holder is the caller's
// hold on the session (hold.go), "" for none: a session another holds is
// not its to drop. It reports whether the session is gone; if not, the
// sweeper retries once it expires.
func (s *Service) dropSession(ctx context.Context, sess store.Session, holder string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := os.Remove(s.tempPath(sess.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.cfg.Logger.WarnContext(ctx, "media: removing upload bytes", "session", sess.ID, "err", err)
		return false
	}
	s.cached.Delete(sess.ID)
	if !s.dropParts(ctx, sess.ID) {
		return false
	}
	if err := s.store.DeleteSession(ctx, sess.ID, holder); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.cfg.Logger.WarnContext(ctx, "media: deleting upload session", "session", sess.ID, "err", err)
		return false
	}
	s.deleted()
	return true
}

// refuse drops a session whose upload was refused for what it is (its
// type, kind, size, checksum or structure), so nothing of a refused upload
// is kept: its bytes go at once, and asking for the session afterwards is
// NOT_FOUND. The caller holds the session (holder names its hold). It
// returns err.
func (s *Service) refuse(ctx context.Context, sess store.Session, holder string, err error) error {
	s.dropSession(ctx, sess, holder)
	return err
}

// refusedForGood reports whether err refuses an upload for what it is:
// sending it again, or the rest of it, cannot make it acceptable. Other
// failures (an offset that moved, a busy session, bytes still missing,
// this service's own trouble) leave the session to resume.
func refusedForGood(err error) bool {
	switch errinfo.MediaReason(err) {
	case mediav1.ErrorReason_ERROR_REASON_TOO_LARGE, mediav1.ErrorReason_ERROR_REASON_UNSUPPORTED_TYPE, mediav1.ErrorReason_ERROR_REASON_KIND_MISMATCH,
		mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH, mediav1.ErrorReason_ERROR_REASON_MALFORMED:
		return true
	}
	return false
}

// errSessionBusy refuses a second writer, finisher or canceller of a
// session while one is at work; the client retries or asks where the
// session stands.
var errSessionBusy = status.Error(codes.Aborted, "another write or finish of this upload session is in progress")

// holdSession makes the caller the only one at work on a session: it marks
// the session busy in this process, takes an exclusive lock on its bytes'
// file, which keeps out other media processes sharing the upload directory
// (the kernel drops the lock if its holder dies), and holds the session in
// the database, which keeps out other hosts (hold.go). It returns the
// session as it stands now (what was read before may be stale: another
// writer may have committed since, or finished it) with its file open for reading and
// writing, holding exactly the committed bytes: a file that is missing or
// behind (the session was written on another host) is made or brought up
// to date from the session's parts (catchUp). h.ctx is the context to work
// on while held; h.release closes the file and lets others in.
//
// A finished session has no file any more: it comes back with f nil, and
// the caller answers from its ItemID. An open session whose committed
// bytes are gone (neither in a file here nor in its parts) cannot be
// resumed: it is dropped and reported NOT_FOUND, so the client starts
// over rather than upload into bytes that are not there.
func (s *Service) holdSession(ctx context.Context, sess store.Session) (cur store.Session, f *os.File, h *sessionHold, err error) {
	return s.hold(ctx, sess, true)
}

// hold is holdSession; without withBytes, f is not brought up to date
// (for a cancel, which needs no bytes).
func (s *Service) hold(ctx context.Context, sess store.Session, withBytes bool) (cur store.Session, f *os.File, h *sessionHold, err error) {
	name := names.UploadSession{Child: sess.ChildID, ID: sess.ID}.String()
	if _, loaded := s.busy.LoadOrStore(sess.ID, struct{}{}); loaded {
		return store.Session{}, nil, nil, errSessionBusy
	}
	unmark := func() { s.busy.Delete(sess.ID) }
	path := s.tempPath(sess.ID)
	f, err = openLocked(path)
	if errors.Is(err, os.ErrNotExist) {
		cur, gerr := s.store.GetSession(ctx, sess.ID)
		switch {
		case gerr == nil && cur.ItemID != "":
			unmark()
			return cur, nil, nil, nil
		case gerr != nil:
			unmark()
			return store.Session{}, nil, nil, storeError(gerr, name)
		}
		// Begun or continued on another host, or this host lost its
		// file: a new one, filled from the parts below. The row first,
		// then its file, as when a session is created.
		s.cached.Delete(sess.ID)
		f, err = createLocked(path)
	}
	switch {
	case errors.Is(err, errFileLocked), errors.Is(err, os.ErrExist):
		unmark()
		return store.Session{}, nil, nil, errSessionBusy
	case err != nil:
		unmark()
		return store.Session{}, nil, nil, s.internal(ctx, "opening upload session", err)
	}
	h, cur, err = s.takeHold(ctx, sess.ID, true)
	if err != nil {
		f.Close()
		unmark()
		if errors.Is(err, store.ErrSessionHeld) { // by another host
			return store.Session{}, nil, nil, errSessionBusy
		}
		return store.Session{}, nil, nil, storeError(err, name)
	}
	h.onDone = func() {
		s.dropIfEnded(ctx, sess, h.holder)
		f.Close()
		unmark()
	}
	if !cur.ExpireTime.After(time.Now()) {
		h.release(ctx)
		return store.Session{}, nil, nil, storeError(store.ErrNotFound, name)
	}
	if cur.ItemID != "" || !withBytes {
		return cur, f, h, nil
	}
	if err := s.catchUp(ctx, cur, f); err != nil {
		if errors.Is(err, errBytesLost) {
			s.cfg.Logger.WarnContext(ctx, "media: upload session lost its bytes; dropping it", "session", sess.ID, "err", err)
			s.dropSession(ctx, cur, h.holder)
			h.release(ctx)
			return store.Session{}, nil, nil, status.Errorf(codes.NotFound, "%s not found", name)
		}
		h.release(ctx)
		return store.Session{}, nil, nil, s.internal(ctx, "opening upload session", err)
	}
	return cur, f, h, nil
}

// createLocked creates a session's file, which must not exist, and locks
// it as openLocked does.
func createLocked(path string) (*os.File, error) {
	return openAndLock(path, os.O_RDWR|os.O_CREATE|os.O_EXCL)
}

// dropIfEnded drops a held session that expired, or was ended because its
// child was deleted, while its holder worked: the holder is the one who
// may (the sweeper skips a held session), and now, rather than at the
// sweeper's next round, is when the bytes should go. holder names the hold.
func (s *Service) dropIfEnded(ctx context.Context, sess store.Session, holder string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	cur, err := s.store.GetSession(ctx, sess.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		_ = os.Remove(s.tempPath(sess.ID)) // dropped already; the bytes with it
		s.cached.Delete(sess.ID)
	case err == nil && !cur.ExpireTime.After(time.Now()):
		s.dropSession(ctx, cur, holder)
	}
}

// openLocked opens an upload file for reading and writing and locks it
// (lockFile). A file removed or replaced between the open and the lock
// (a cancel or a sweep that got there first) counts as missing: the lock
// would guard nothing.
func openLocked(path string) (*os.File, error) { return openAndLock(path, os.O_RDWR) }

// openAndLock opens path with flag and locks it (lockFile), failing when
// someone else holds the lock, or path was removed or replaced before the
// lock was taken.
func openAndLock(path string, flag int) (*os.File, error) {
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		return nil, err
	}
	if err := lockFile(f); err != nil {
		f.Close()
		return nil, err
	}
	held, err1 := f.Stat()
	now, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(held, now) {
		f.Close()
		return nil, fmt.Errorf("%s was removed: %w", filepath.Base(path), os.ErrNotExist)
	}
	return f, nil
}

// sweepSession drops an expired session unless someone still holds it
// (its holder drops it on the way out, or the next round does): the same
// lock and the same hold as holdSession, so a sweep never removes bytes
// from under a write or a finish in another process, here or on another
// host. It reports whether the session is gone.
func (s *Service) sweepSession(ctx context.Context, sess store.Session) bool {
	f, err := openLocked(s.tempPath(sess.ID))
	if errors.Is(err, errFileLocked) {
		return false
	}
	locked := err == nil
	if locked {
		defer f.Close()
	}
	h, _, err := s.takeHold(ctx, sess.ID, locked)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return true
	case errors.Is(err, store.ErrSessionHeld):
		return false
	case err != nil:
		if ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "media: holding an expired upload session", "session", sess.ID, "err", err)
		}
		return false
	}
	defer h.release(ctx)
	return s.dropSession(ctx, sess, h.holder)
}

// headOf returns the first SniffLen bytes of an upload (fewer for a
// shorter one).
func headOf(r io.ReaderAt, size int64) ([]byte, error) {
	head := make([]byte, min(size, ingest.SniffLen))
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return head, nil
}

// countedReads counts the bytes read from an upload's file into n. Every
// read of an upload's bytes goes through one, so that tests can hold the
// pipeline to its promise: what was received is hashed as it arrives, and
// read again only to rebuild the file to store.
type countedReads struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countedReads) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

// uploadFile is f, an upload's bytes, read through the server's count.
func (s *Service) uploadFile(f *os.File) io.ReaderAt { return countedReads{f, &s.uploadReads} }

// runningHash returns the SHA-256 of a held session's committed bytes, to
// go on with: the state its session row keeps with the offset
// (CommitSession), or, when that is missing or unreadable, the committed
// bytes hashed once more, counted in rehashedBytes.
func (s *Service) runningHash(sess store.Session, f *os.File) (hash.Hash, error) {
	h := sha256.New()
	if sess.HashState != "" {
		if h.(encoding.BinaryUnmarshaler).UnmarshalBinary([]byte(sess.HashState)) == nil {
			return h, nil
		}
		h.Reset()
	}
	n, err := io.Copy(h, io.NewSectionReader(s.uploadFile(f), 0, sess.CommittedOffset))
	s.rehashedBytes.Add(n)
	return h, err
}

// hashState is h's state, for CommitSession.
func hashState(h hash.Hash) (string, error) {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	return string(state), err
}

// uploading counts an upload path's call as active until the returned
// func is called.
func (s *Service) uploading(ctx context.Context) (done func()) {
	s.metrics.active.Add(ctx, 1)
	return func() { s.metrics.active.Add(ctx, -1) }
}

// uploadOnce stores the bytes next gives, up to io.EOF, as a new item of
// child uploaded by p (or answers with the child's item of the same
// bytes): the one-stream path. Its short-lived session is dropped on the
// way out.
func (s *Service) uploadOnce(ctx context.Context, p auth.Principal, child string, meta store.UploadMetadata, next func() ([]byte, error)) (store.Item, error) {
	id := names.NewID()
	sess, err := s.createSession(ctx, store.Session{
		ID: id, ChildID: child, Metadata: meta, TempKey: s.tempPath(id), UploadedBy: p.Subject, IdleTimeout: uploadIdleTimeout,
	}, "upload")
	if err != nil {
		return store.Item{}, err
	}
	// Held from the start, so no host drops it under this upload (hold.go).
	h, _, err := s.takeHold(ctx, sess.ID, false) // new: nobody else holds it
	if err != nil {
		s.dropSession(ctx, sess, "")
		return store.Item{}, storeError(err, "upload")
	}
	defer h.release(ctx)
	defer s.dropSession(ctx, sess, h.holder)
	f, err := os.OpenFile(sess.TempKey, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return store.Item{}, s.internal(ctx, "upload", err)
	}
	defer f.Close()
	// Locked like a held session's, so that a sweep (after the child is
	// deleted, say) leaves this upload to drop its session itself: a sweep
	// under it could release its pin between its PinBlob and its Put.
	if err := lockFile(f); err != nil {
		return store.Item{}, s.internal(ctx, "upload", err)
	}

	u := &upload{sess: sess, holder: h.holder, f: f, h: sha256.New(), what: "upload"}
	lastAlive := time.Now()
	err = s.receive(ctx, u, next, func(_, _ int64, _ []byte) error {
		if time.Since(lastAlive) <= keepAliveEvery {
			return nil
		}
		lastAlive = time.Now()
		_, err := s.store.AdvanceSession(ctx, sess.ID, 0, 0)
		return storeError(err, "upload")
	})
	if err != nil {
		return store.Item{}, err
	}
	n := u.n
	if n < meta.SizeBytes {
		return store.Item{}, errinfo.Media(codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_INCOMPLETE,
			fmt.Sprintf("the stream ended after %d of the declared %d bytes", n, meta.SizeBytes),
			map[string]string{"received_bytes": strconv.FormatInt(n, 10), "size_bytes": strconv.FormatInt(meta.SizeBytes, 10)})
	}
	if err := f.Sync(); err != nil {
		return store.Item{}, s.internal(ctx, "upload", err)
	}
	return s.keep(ctx, h, p, sess, f, hex.EncodeToString(u.h.Sum(nil)), u.head)
}

// upload is an upload's bytes as they are received: its session and file,
// how many bytes are in, the running hash of those, and their head.
type upload struct {
	sess   store.Session
	holder string // the hold on sess (hold.go)
	f      *os.File
	n      int64
	h      hash.Hash
	head   []byte
	what   string // names the call in errors
}

// receive is the receive loop of every upload path, one stream or session:
// it takes chunks from next until io.EOF (next refuses messages of the
// wrong part), writes each after the bytes in, hashes it on the way,
// refuses bytes beyond the declared size and, as soon as the head is in,
// content of the wrong type (dropping the session), then calls commit with
// the range written and its bytes.
func (s *Service) receive(ctx context.Context, u *upload, next func() ([]byte, error), commit func(from, end int64, chunk []byte) error) error {
	size := u.sess.Metadata.SizeBytes
	headLen := int(min(size, ingest.SniffLen))
	sniffed := u.n >= int64(headLen) // before this call
	for {
		chunk, err := next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return recvError(err)
		}
		if len(chunk) == 0 {
			continue
		}
		from, end := u.n, u.n+int64(len(chunk))
		if end > size {
			return s.refuse(ctx, u.sess, u.holder, tooMany(size))
		}
		if _, err := u.f.WriteAt(chunk, from); err != nil {
			return s.internal(ctx, u.what, err)
		}
		s.metrics.uploadBytes.Add(ctx, int64(len(chunk)))
		s.gc.received(len(chunk))
		u.h.Write(chunk)
		u.n = end
		// Refuse content of the wrong type as soon as its head is in.
		if !sniffed {
			u.head = append(u.head, chunk[:min(len(chunk), headLen-len(u.head))]...)
		}
		if !sniffed && len(u.head) == headLen {
			if _, _, err := s.classify(u.sess.Metadata, u.head); err != nil {
				return s.refuse(ctx, u.sess, u.holder, err)
			}
			sniffed = true
		}
		if err := commit(from, end, chunk); err != nil {
			return err
		}
	}
}

// recvError maps a failed Recv: a client gone is CANCELED.
func recvError(err error) error {
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) {
		return status.Error(codes.Canceled, "upload canceled")
	}
	return status.Error(codes.Unknown, err.Error())
}

// keep turns a complete upload (its bytes in f, original hash known) into
// an item, or returns the child's item with the same bytes. The caller
// holds the session (h) and drops it afterwards, which releases the pin.
func (s *Service) keep(ctx context.Context, h *sessionHold, p auth.Principal, sess store.Session, f *os.File, originalSHA string, head []byte) (store.Item, error) {
	meta := sess.Metadata
	t, kind, err := s.classify(meta, head)
	if err != nil {
		return store.Item{}, err
	}
	if meta.SHA256 != "" && meta.SHA256 != originalSHA {
		return store.Item{}, errinfo.Media(codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_CHECKSUM_MISMATCH,
			"the bytes received do not match the given sha256", map[string]string{"received_sha256": originalSHA})
	}
	if it, err := s.store.FindByOriginal(ctx, sess.ChildID, originalSHA); err == nil {
		return it, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Item{}, storeError(err, "upload")
	}
	publish, err := s.uploadState(ctx, p, sess.ChildID)
	if err != nil {
		return store.Item{}, err
	}
	content, err := s.rebuild(ctx, s.uploadFile(f), meta.SizeBytes, t)
	if err != nil {
		return store.Item{}, err
	}
	defer os.Remove(content.path)
	contentSHA := content.sha
	// The pin lasts only as long as the session, and the session only
	// while held: renewed here, the hold outlasts the Put by a margin, or
	// h.ctx ends the Put first.
	if err := h.check(ctx); err != nil {
		return store.Item{}, err
	}
	ctx = h.ctx
	if err := s.pin(ctx, contentSHA, store.SessionHolder(sess.ID)); err != nil {
		return store.Item{}, h.fail(err)
	}
	if hook := s.beforePut.Load(); hook != nil {
		(*hook)(sess.ID)
	}
	if err := blob.PutFile(ctx, s.blobs, content.path, content.size, content.sha); err != nil {
		if h.isLost() {
			return store.Item{}, errHoldLostStatus
		}
		if errors.Is(err, blob.ErrDigestMismatch) {
			return store.Item{}, s.internal(ctx, "storing upload", fmt.Errorf("rebuilt file changed under us: %w", err))
		}
		return store.Item{}, s.internal(ctx, "storing upload", err)
	}
	it, created, err := s.store.CreateItem(ctx, store.Item{
		ChildID: sess.ChildID, ID: names.NewID(), Kind: kind, Title: meta.Title, Caption: meta.Caption,
		ContentType: t.ContentType, SizeBytes: content.size, OriginalSHA256: originalSHA, ContentSHA256: contentSHA,
		State: store.StateProcessing, UploadedBy: p.Subject, Filename: meta.Filename,
		Approval: store.Approval{PublishState: publish},
	}, []store.Job{{Kind: jobThumbnail}})
	if err != nil {
		return store.Item{}, h.fail(storeError(err, "upload"))
	}
	if created {
		s.jobEnqueued()
	}
	return it, nil
}

// content is the file an upload is stored as: the allowlist rebuild,
// written to this process's scratch folder and hashed on the way.
type content struct {
	path string
	size int64
	sha  string
}

// rebuild writes the file to store from a complete upload: the allowlist
// rebuild of package ingest, hashed while it is written, so that neither
// the upload nor the rebuilt file is read again to hash it. A file whose
// structure cannot be walked completely is refused, with the reason.
func (s *Service) rebuild(ctx context.Context, src io.ReaderAt, size int64, t ingest.Type) (c content, err error) {
	rb, err := ingest.Rebuild(src, size, t, ingest.Options{KeepLocation: s.cfg.KeepLocation})
	if errors.Is(err, ingest.ErrMalformed) {
		return content{}, malformedRefusal(t, err)
	}
	if err != nil {
		return content{}, s.internal(ctx, "rebuilding upload", err)
	}
	f, err := os.CreateTemp(s.scratch.dir, "content-*")
	if err != nil {
		return content{}, s.internal(ctx, "rebuilding upload", err)
	}
	defer func() {
		f.Close()
		if err != nil {
			os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := rb.WriteTo(io.MultiWriter(f, h))
	if err == nil {
		// Synced before a blob store adopts it: after a crash a blob's name
		// must not point at bytes that never reached the disk.
		err = f.Sync()
	}
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		return content{}, s.internal(ctx, "rebuilding upload", err)
	}
	return content{path: f.Name(), size: n, sha: hex.EncodeToString(h.Sum(nil))}, nil
}

// malformedRefusal refuses a file whose structure could not be walked,
// saying what was wrong with it.
func malformedRefusal(t ingest.Type, err error) error {
	return errinfo.Media(codes.InvalidArgument, mediav1.ErrorReason_ERROR_REASON_MALFORMED,
		fmt.Sprintf("the %s file cannot be read through (%s), so it cannot be cleaned of location data", t.ContentType, ingest.Reason(err)),
		map[string]string{"reason": ingest.Reason(err)})
}

// pin pins a blob for holder, waiting out a sweeper deleting the same bytes.
func (s *Service) pin(ctx context.Context, sha string, holder store.Holder) error {
	for attempt := 1; ; attempt++ {
		err := s.store.PinBlob(ctx, sha, holder)
		if !errors.Is(err, store.ErrBlobCondemned) || attempt == 5 {
			return storeError(err, "upload")
		}
		select {
		case <-ctx.Done():
			return storeError(ctx.Err(), "upload")
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		}
	}
}

// alreadyFinished refuses bytes for a finished session, naming its item.
func alreadyFinished(sess store.Session) error {
	return errinfo.Media(codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_FINISHED,
		fmt.Sprintf("the upload is finished: it is %s", finishedItem(sess)),
		map[string]string{"media_item": finishedItem(sess)})
}

// createUploadSession starts a resumable upload of meta to child for p.
func (s *Service) createUploadSession(ctx context.Context, p auth.Principal, child string, meta store.UploadMetadata) (store.Session, error) {
	// The row first, then its file: a file without a row is then always
	// one a crash left, which a starting process removes (tempdir.go). A
	// crash in between leaves a row without bytes, which is dropped when
	// next written or when it expires.
	id := names.NewID()
	path := s.tempPath(id)
	sess, err := s.createSession(ctx, store.Session{
		ID: id, ChildID: child, Metadata: meta, TempKey: path, UploadedBy: p.Subject, IdleTimeout: s.cfg.SessionIdleTimeout,
	}, "upload session")
	if err != nil {
		return store.Session{}, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		s.dropSession(ctx, sess, "")
		return store.Session{}, s.internal(ctx, "creating upload session", err)
	}
	f.Close()
	return sess, nil
}

// createSession stores a new session within its uploader's caps; a
// session over them is refused with RESOURCE_EXHAUSTED (capRefusal).
func (s *Service) createSession(ctx context.Context, sess store.Session, what string) (store.Session, error) {
	created, err := s.store.CreateSession(ctx, sess, s.cfg.Caps)
	if capErr, ok := errors.AsType[*store.CapError](err); ok {
		return store.Session{}, s.capRefusal(capErr, sess.Metadata.SizeBytes)
	}
	return created, storeError(err, what)
}

// capRefusal refuses an upload over a cap per user: RESOURCE_EXHAUSTED
// (HTTP 429) with an ErrorInfo naming the cap, and a RetryInfo saying when
// enough of the user's open uploads expire, if none is written to, for
// this one to fit. A finish or a cancel frees room at once.
func (s *Service) capRefusal(e *store.CapError, size int64) error {
	caps := s.cfg.Caps
	var st *status.Status
	var info *errdetails.ErrorInfo
	if e.Sessions {
		st = status.Newf(codes.ResourceExhausted,
			"you have %d uploads under way, the most one user may have: finish or cancel one first (an upload left unfinished expires %s after its last bytes)",
			e.Open, roughly(s.cfg.SessionIdleTimeout))
		info = errinfo.MediaInfo(mediav1.ErrorReason_ERROR_REASON_TOO_MANY_UPLOADS, map[string]string{
			"open_uploads": strconv.Itoa(e.Open), "limit": strconv.Itoa(caps.Sessions)})
	} else {
		st = status.Newf(codes.ResourceExhausted,
			"your uploads under way have %d bytes still to send; %d more would pass the %d bytes one user may have declared and not yet sent: finish or cancel one first",
			e.Outstanding, size, caps.Bytes)
		info = errinfo.MediaInfo(mediav1.ErrorReason_ERROR_REASON_UPLOAD_QUOTA, map[string]string{
			"outstanding_bytes": strconv.FormatInt(e.Outstanding, 10), "size_bytes": strconv.FormatInt(size, 10),
			"limit_bytes": strconv.FormatInt(caps.Bytes, 10)})
	}
	details := []protoadapt.MessageV1{info}
	if !e.FreesAt.IsZero() {
		wait := time.Until(e.FreesAt).Truncate(time.Second) + time.Second
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(wait)})
	}
	if d, err := st.WithDetails(details...); err == nil {
		st = d
	}
	return st.Err()
}

// roughly says d in whole hours or minutes when it is whole: 24h, not 24h0m0s.
func roughly(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return d.String()
}

// liveSession returns session id of child if p may see it: another user's
// session (unless p is an admin), one of another child and an expired one
// are NOT_FOUND. The caller has checked p's permission on the child.
func (s *Service) liveSession(ctx context.Context, p auth.Principal, child, id string) (store.Session, error) {
	name := names.UploadSession{Child: child, ID: id}.String()
	sess, err := s.store.GetSession(ctx, id)
	if err != nil {
		return store.Session{}, storeError(err, name)
	}
	if sess.ChildID != child || (sess.UploadedBy != p.Subject && !p.Admin) || !sess.ExpireTime.After(time.Now()) {
		return store.Session{}, status.Errorf(codes.NotFound, "%s not found", name)
	}
	return sess, nil
}

// writeSession appends the bytes next gives, up to io.EOF, to a session
// from offset, which must be its committed offset, committing each chunk
// as it arrives: written to this process's file, stored as a part in the
// blob store, then the offset moved over it with the part recorded (see
// parts.go). It returns the session as last committed.
func (s *Service) writeSession(ctx context.Context, sess store.Session, offset int64, next func() ([]byte, error)) (store.Session, error) {
	name := names.UploadSession{Child: sess.ChildID, ID: sess.ID}.String()
	if sess.ItemID != "" {
		return store.Session{}, alreadyFinished(sess)
	}
	sess, f, hold, err := s.holdSession(ctx, sess)
	if err != nil {
		return store.Session{}, err
	}
	defer hold.release(ctx)
	if sess.ItemID != "" {
		return store.Session{}, alreadyFinished(sess)
	}
	if offset != sess.CommittedOffset {
		return store.Session{}, offsetMismatch(sess.CommittedOffset)
	}
	h, err := s.runningHash(sess, f)
	if err != nil {
		return store.Session{}, s.internal(ctx, "writing upload session", err)
	}
	u := &upload{sess: sess, holder: hold.holder, f: f, n: sess.CommittedOffset, h: h, what: "writing upload session"}
	if u.n > 0 && u.n < min(sess.Metadata.SizeBytes, ingest.SniffLen) {
		// The head so far, for the sniff once it is complete.
		if u.head, err = headOf(s.uploadFile(f), u.n); err != nil {
			return store.Session{}, s.internal(ctx, "writing upload session", err)
		}
	}
	err = s.receive(ctx, u, next, func(from, end int64, chunk []byte) error {
		// Each chunk is committed: stored as a part (durably, where every
		// instance finds it), then the offset moved over it with the
		// running hash of the bytes up to it and the part, in one
		// transaction. The file here is a cache of the parts, not synced.
		// On the hold's context: a writer whose hold lapsed stops.
		ctx := hold.ctx
		part := partName(from)
		if err := s.blobs.PutPart(ctx, sess.ID, part, chunk); err != nil {
			return hold.fail(s.internal(ctx, "writing upload session", err))
		}
		state, err := hashState(u.h)
		if err != nil {
			s.dropPart(ctx, sess.ID, part)
			return s.internal(ctx, "writing upload session", err)
		}
		next, err := s.store.CommitSession(ctx, sess.ID, from, end, state, part)
		if err != nil {
			s.dropPart(ctx, sess.ID, part)
		}
		if errors.Is(err, store.ErrOffsetMismatch) {
			return offsetMismatch(next.CommittedOffset)
		}
		if errors.Is(err, store.ErrFinished) {
			return alreadyFinished(next)
		}
		if err != nil {
			return hold.fail(storeError(err, name))
		}
		sess = next
		s.cached.Store(sess.ID, end)
		return nil
	})
	if err != nil {
		return store.Session{}, err
	}
	return sess, nil
}

func offsetMismatch(committed int64) error {
	return errinfo.Media(codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH,
		fmt.Sprintf("the session's committed offset is %d: continue from there", committed),
		map[string]string{"committed_offset": strconv.FormatInt(committed, 10)})
}

// finishUpload stores a session whose bytes are all there, uploaded by p,
// and marks it finished (keeping it, without its bytes, until it expires),
// so that finishing again answers with the same item.
func (s *Service) finishUpload(ctx context.Context, p auth.Principal, sess store.Session) (store.Item, error) {
	name := names.UploadSession{Child: sess.ChildID, ID: sess.ID}.String()
	if sess.ItemID != "" {
		return s.finishedItemOf(ctx, sess)
	}
	sess, f, hold, err := s.holdSession(ctx, sess)
	if err != nil {
		return store.Item{}, err
	}
	defer hold.release(ctx)
	if sess.ItemID != "" {
		return s.finishedItemOf(ctx, sess)
	}
	size := sess.Metadata.SizeBytes
	if sess.CommittedOffset < size {
		return store.Item{}, errinfo.Media(codes.FailedPrecondition, mediav1.ErrorReason_ERROR_REASON_INCOMPLETE,
			fmt.Sprintf("%d of %d bytes are committed: write the rest first", sess.CommittedOffset, size),
			map[string]string{"committed_offset": strconv.FormatInt(sess.CommittedOffset, 10)})
	}
	// Push the expiry forward so the sweeper leaves the bytes alone.
	next, err := s.store.AdvanceSession(ctx, sess.ID, size, size)
	if errors.Is(err, store.ErrFinished) { // by another process, meanwhile
		return s.finishedItemOf(ctx, next)
	}
	if err != nil {
		return store.Item{}, storeError(err, name)
	}
	sess = next
	if err := f.Truncate(size); err != nil {
		return store.Item{}, s.internal(ctx, "finishing upload session", err)
	}
	head, err := headOf(s.uploadFile(f), size)
	if err != nil {
		return store.Item{}, s.internal(ctx, "finishing upload session", err)
	}
	h, err := s.runningHash(sess, f)
	if err != nil {
		return store.Item{}, s.internal(ctx, "finishing upload session", err)
	}
	it, err := s.keep(ctx, hold, p, sess, f, hex.EncodeToString(h.Sum(nil)), head)
	if refusedForGood(err) {
		return store.Item{}, s.refuse(ctx, sess, hold.holder, err)
	}
	if err != nil {
		return store.Item{}, err
	}
	// Still held: nobody writes or finishes again until it is marked
	// finished.
	s.markFinished(ctx, sess, hold.holder, it.ID)
	return it, nil
}

// markFinished marks a session finished as item itemID, then removes its
// bytes (its file and its parts). In that order: a crash in between leaves
// bytes the sweeper removes (sweepParts, or when the session expires),
// never a finished session without its item.
// Failures are logged, not returned: the item is stored either way.
func (s *Service) markFinished(ctx context.Context, sess store.Session, holder, itemID string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := s.store.FinishSession(ctx, sess.ID, itemID); err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: marking upload session finished", "session", sess.ID, "err", err)
		s.dropSession(ctx, sess, holder)
		return
	}
	if err := os.Remove(s.tempPath(sess.ID)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.cfg.Logger.WarnContext(ctx, "media: removing upload bytes", "session", sess.ID, "err", err)
	}
	s.cached.Delete(sess.ID)
	s.dropParts(ctx, sess.ID)
}

// finishedItemOf answers a repeated finish with the item the session
// became (NOT_FOUND if it was deleted since).
func (s *Service) finishedItemOf(ctx context.Context, sess store.Session) (store.Item, error) {
	it, err := s.store.GetItem(ctx, sess.ChildID, sess.ItemID)
	return it, storeError(err, finishedItem(sess))
}

// cancelSession abandons a session and removes its bytes.
func (s *Service) cancelSession(ctx context.Context, sess store.Session) error {
	sess, _, h, err := s.hold(ctx, sess, false)
	if err != nil {
		return err
	}
	defer h.release(ctx)
	s.dropSession(ctx, sess, h.name())
	return nil
}
