package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Upload sessions across hosts.
//
// A resumable session's bytes are written to a file in this process's
// TempDir, which may be private to the host, and each chunk is also kept
// in the blob store as a part (blob.Parts), stored before the chunk is
// committed and recorded in the same transaction as the committed offset
// (store.CommitSession): the offset never claims bytes that only one host
// has. So when a write or a finish reaches an instance whose file is
// missing or behind (the session was begun or continued on another host,
// or that host died), the instance brings its file up to the committed
// offset from the parts (catchUp) and goes on from there; the running
// hash in the session row means nothing is read again to hash it.
//
// The file is this process's cache of the parts: it is not synced, and
// only what this process wrote or copied from the parts since it started
// (cached) is trusted; anything else in it is replaced from the parts. A
// session committed by a release that kept no parts has no part where its
// bytes begin: those bytes are trusted from the file, which that release
// synced before committing them.
//
// A session's parts go with it: when it is dropped (cancelled, refused,
// expired, its child deleted) or finished, and, for parts whose session is
// gone without them (a writer that lost a race, or died between its part
// and its commit), at each sweep (sweepParts).

// partName names a part of a session's bytes from offset from: unique per
// write, so two writers racing from one offset never overwrite each
// other's bytes (only the one whose commit wins is recorded).
func partName(from int64) string { return fmt.Sprintf("%020d-%s", from, names.NewID()) }

// errBytesLost says a session's committed bytes can be found neither in
// this process's file nor in the parts.
var errBytesLost = errors.New("committed bytes lost")

// catchUp makes f, this process's file of held session sess, hold exactly
// its committed bytes: it keeps what this process may trust of the file
// and copies the rest from the parts. It returns errBytesLost when some
// committed bytes are nowhere.
func (s *Service) catchUp(ctx context.Context, sess store.Session, f *os.File) error {
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	committed := sess.CommittedOffset
	trusted := int64(-1)
	if v, ok := s.cached.Load(sess.ID); ok {
		if n := v.(int64); n <= committed && n <= fi.Size() {
			trusted = n
		}
	}
	if trusted == committed {
		return f.Truncate(committed)
	}
	parts, err := s.store.Parts(ctx, sess.ID)
	if err != nil {
		return err
	}
	if trusted < 0 {
		// Nothing this process wrote: the bytes before the first part (all
		// of them, without parts) were committed by a release that kept
		// them in its synced file only.
		trusted = committed
		if len(parts) > 0 {
			trusted = min(parts[0].Start, committed)
		}
		if fi.Size() < trusted {
			return fmt.Errorf("%d of %d bytes before the first part are in the file: %w", fi.Size(), trusted, errBytesLost)
		}
	}
	if err := f.Truncate(trusted); err != nil {
		return err
	}
	pos := trusted
	for _, p := range parts {
		if pos == committed {
			break
		}
		if p.End <= pos {
			continue
		}
		if p.Start > pos {
			return fmt.Errorf("no part holds the bytes from %d to %d: %w", pos, p.Start, errBytesLost)
		}
		n, err := s.copyPart(ctx, sess.ID, p, pos, f)
		if err != nil {
			return err
		}
		pos += n
	}
	if pos != committed {
		return fmt.Errorf("the parts end at %d of %d committed bytes: %w", pos, committed, errBytesLost)
	}
	s.cached.Store(sess.ID, committed)
	return nil
}

// copyPart copies the bytes of part p from offset pos (within the part) to
// its end into f at pos, and returns how many it copied.
func (s *Service) copyPart(ctx context.Context, session string, p store.Part, pos int64, f *os.File) (int64, error) {
	r, err := s.blobs.OpenPart(ctx, session, p.Name)
	if errors.Is(err, blob.ErrNotFound) {
		return 0, fmt.Errorf("part %s: %w", p.Name, errBytesLost)
	}
	if err != nil {
		return 0, err
	}
	defer r.Close()
	if _, err := io.CopyN(io.Discard, r, pos-p.Start); err != nil {
		return 0, fmt.Errorf("part %s: %w", p.Name, err)
	}
	want := p.End - pos
	n, err := io.Copy(io.NewOffsetWriter(f, pos), io.LimitReader(r, want))
	s.partReads.Add(n)
	if err == nil && n != want {
		err = fmt.Errorf("part %s holds %d bytes from %d, not %d: %w", p.Name, n, pos, want, errBytesLost)
	}
	return n, err
}

// dropParts deletes a session's parts (on a context of its own: it runs
// after failures and cancellations), and reports whether they are gone.
func (s *Service) dropParts(ctx context.Context, sessionID string) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if err := s.blobs.DeleteParts(ctx, sessionID); err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: deleting upload parts", "session", sessionID, "err", err)
		return false
	}
	return true
}

// dropPart deletes one part a commit did not record; a failure leaves it
// to sweepParts.
func (s *Service) dropPart(ctx context.Context, sessionID, part string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.blobs.DeletePart(ctx, sessionID, part); err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: deleting an unrecorded upload part", "session", sessionID, "err", err)
	}
}

// sweepParts deletes the parts of sessions that are gone or finished
// (expired sessions are the sweeper's, with their parts): what a crash
// between a part and its commit, a writer that lost a race to a sweep, or
// a failed deletion left. A session's row exists before any part of it
// is stored, so parts without a row are never a write still to commit.
func (s *Service) sweepParts(ctx context.Context) {
	sessions, err := s.blobs.PartSessions(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "media: listing upload parts", "err", err)
		}
		return
	}
	for _, id := range sessions {
		sess, err := s.store.GetSession(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && sess.ItemID != "" {
			s.dropParts(ctx, id)
		}
	}
}
