package media

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kinbridge/kinbridge/services/media/store"
)

// What lives in TempDir, the upload directory, private to a host or
// shared by the media processes on it:
//
//   - upload-{session}: this process's copy of an upload session's bytes,
//     created after its session row and removed before it, so a file
//     without a row (or with a finished one) is what a crash, or a session
//     dropped or finished on another host, left. A live one is never
//     removed: the session goes on from it, brought up to date from the
//     session's parts in the blob store (parts.go);
//   - scratch-{random}/: one process's short-lived files (copies of
//     originals for the thumbnailer, its programs' output). The process
//     holds a lock on the folder while it lives, so a process starting
//     later tells the folders of the dead from those of the living;
//   - thumb-*: copies of originals an older release made in TempDir itself.
//
// sweepTempDir removes, when the service starts and at each sweep, what
// crashed processes (and sessions gone elsewhere) left of these; nothing
// else in the directory is touched.

const (
	uploadPrefix  = "upload-"
	scratchPrefix = "scratch-"
	// legacyThumbPrefix names an older release's copies of originals; one
	// older than legacyThumbAge is past any job that could still use it.
	legacyThumbPrefix = "thumb-"
	legacyThumbAge    = time.Hour
)

// scratch is this process's folder for short-lived files, held locked
// while the process lives and removed by Close.
type scratch struct {
	dir  string
	lock *os.File // the folder itself, opened to hold its lock
}

// newScratch makes a scratch folder in tempDir and locks it.
func newScratch(tempDir string) (*scratch, error) {
	for {
		dir, err := os.MkdirTemp(tempDir, scratchPrefix+"*")
		if err != nil {
			return nil, err
		}
		lock, err := lockedDir(dir)
		if errors.Is(err, errFileLocked) || errors.Is(err, os.ErrNotExist) {
			// A sweep starting meanwhile took the new folder for a dead
			// process's: start over with another.
			continue
		}
		if err != nil {
			os.Remove(dir)
			return nil, err
		}
		return &scratch{dir: dir, lock: lock}, nil
	}
}

// lockedDir opens dir and locks it. It fails when someone else holds the
// lock, or dir was removed or replaced before the lock was taken.
func lockedDir(dir string) (*os.File, error) { return openAndLock(dir, os.O_RDONLY) }

// Close removes the folder with what is in it, lock held until then.
func (s *scratch) Close() error {
	if s.lock == nil {
		return nil
	}
	err := os.RemoveAll(s.dir)
	s.lock.Close()
	s.lock = nil
	return err
}

// sweepTempDir removes what crashed processes left in the upload
// directory (see above). Failures are logged: none stops the service.
func (s *Service) sweepTempDir(ctx context.Context) {
	entries, err := os.ReadDir(s.cfg.TempDir)
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: listing the upload directory", "err", err)
		return
	}
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(s.cfg.TempDir, name)
		var err error
		switch {
		case strings.HasPrefix(name, uploadPrefix) && e.Type().IsRegular():
			err = s.sweepUploadFile(ctx, path, strings.TrimPrefix(name, uploadPrefix))
		case strings.HasPrefix(name, scratchPrefix) && e.IsDir():
			err = sweepScratch(path)
		case strings.HasPrefix(name, legacyThumbPrefix) && e.Type().IsRegular():
			if info, ierr := e.Info(); ierr == nil && time.Since(info.ModTime()) > legacyThumbAge {
				err = os.Remove(path)
			}
		}
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			s.cfg.Logger.WarnContext(ctx, "media: removing what a crash left", "file", name, "err", err)
		}
	}
}

// sweepUploadFile removes an upload file that no session wants: one
// without a session row, or whose session is finished (its item holds the
// bytes now). A file someone holds is in use and stays. A live session's
// file is never locked here, not even briefly: its lock would turn away a
// write arriving meanwhile (errSessionBusy).
func (s *Service) sweepUploadFile(ctx context.Context, path, id string) error {
	if _, busy := s.busy.Load(id); busy {
		return nil
	}
	if sess, err := s.store.GetSession(ctx, id); err == nil && sess.ItemID == "" {
		return nil // a live session's bytes: resumable, kept
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("looking up its session: %w", err)
	}
	// Gone or finished: nobody writes it any more, but a finish may still
	// hold it while it stores the item.
	f, err := openLocked(path)
	if errors.Is(err, errFileLocked) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return os.Remove(path)
}

// sweepScratch removes a dead process's scratch folder. Where locks do not
// work across processes, a living process's folder cannot be told from a
// dead one's, and none is removed.
func sweepScratch(dir string) error {
	if !fileLocks {
		return nil
	}
	f, err := lockedDir(dir)
	if errors.Is(err, errFileLocked) {
		return nil // its process lives
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return os.RemoveAll(dir)
}
