package media

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/services/media/store"
)

// Holds on upload sessions across hosts.
//
// The lock on a session's file (holdSession) keeps out the processes that
// share its upload directory; other hosts never see it. So whoever works
// on a session (a writer, a finisher, a cancel, a sweeper dropping it) also
// holds it in the database (store.HoldSession) for as long as it works,
// renewing the hold every holdLease/3, and a session's row, with the pins
// it took, is deleted only by its holder or while no hold is live
// (store.DeleteSession). A sweeper on another host therefore cannot drop
// a session, release its pin and delete its bytes while a host finishing
// it is between its PinBlob and its Put.
//
// A hold is a lease: if renewals fail (the database away), it lapses and
// another host may take the session over. So the holder's work runs on a
// context that ends a margin before the hold may lapse, unless renewed
// meanwhile, and the finish renews once more right before it pins and
// writes the bytes; a holder that lost its hold answers UNAVAILABLE and
// the client retries. The margin must exceed the clock skew between hosts,
// since a sweeper compares the hold's end with its own clock: a quarter of
// a minute against seconds.
//
// A process that dies holding a session leaves its hold until it lapses.
// Its restart need not wait: a hold's name starts with the upload
// directory's (uploadDirID), and a process with the session's file lock
// takes over the holds of its directory (takeHold), since none of its
// processes at work on the session would have let the lock go.
//
// Tests: TestHeldSessionOutlivesSweepOnAnotherHost, TestLostHoldStopsItsHolder,
// TestRestartTakesOverItsDirectorysHold, and the store's contract cases on holds.

// defaultHoldLease is how long a hold on a session lasts unrenewed.
const defaultHoldLease = time.Minute

// errHoldLost ends a holder's work: its hold lapsed, or was taken over.
var errHoldLost = errors.New("hold on the upload session lost")

// errHoldLostStatus is the answer of a holder that lost its hold.
var errHoldLostStatus = status.Error(codes.Unavailable, "this instance lost its hold on the upload session (its database was away); retry")

// sessionHold is this process's hold on a session in the database.
type sessionHold struct {
	s      *Service
	id     string
	holder string // the hold's name in the database
	// ctx is the holder's work: it ends, with errHoldLost as its cause,
	// once the hold may have lapsed or was taken over.
	ctx    context.Context
	cancel context.CancelCauseFunc
	mu     sync.Mutex
	timer  *time.Timer // ends ctx a margin before the hold lapses
	stop   chan struct{}
	done   chan struct{}
	onDone func() // the rest of the release (holdSession's)
}

// takeHold holds session id for this process, renewing the hold until
// release, and returns the session as it stands (expired or not).
// store.ErrSessionHeld says another holds it. locked says the caller has
// the session's file lock in the upload directory: then a hold of another
// process of the directory is taken over, since that process is not at
// work on the session (it would have the lock): it died, and its restart
// continues the upload at once rather than after the hold lapses.
func (s *Service) takeHold(ctx context.Context, id string, locked bool) (*sessionHold, store.Session, error) {
	// The directory's name first, so that its processes' holds share a prefix.
	holder := s.dirID + "/" + s.owner + "/" + names.NewID()[:8]
	takeOver := ""
	if locked && fileLocks && s.dirID != "" {
		takeOver = s.dirID + "/"
	}
	start := time.Now()
	sess, err := s.store.HoldSession(ctx, id, holder, s.holdLease, takeOver)
	if err != nil {
		return nil, store.Session{}, err
	}
	h := &sessionHold{s: s, id: id, holder: holder, stop: make(chan struct{}), done: make(chan struct{})}
	h.ctx, h.cancel = context.WithCancelCause(ctx)
	h.timer = time.AfterFunc(h.left(start), func() { h.cancel(errHoldLost) })
	go h.keep()
	return h, sess, nil
}

// left is how long work may go on under a hold renewed at start: up to a
// margin before the hold lapses.
func (h *sessionHold) left(start time.Time) time.Duration {
	return time.Until(start.Add(h.s.holdLease - h.s.holdLease/4))
}

// keep renews the hold every holdLease/3 until release.
func (h *sessionHold) keep() {
	defer close(h.done)
	tick := time.NewTicker(h.s.holdLease / 3)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.WithoutCancel(h.ctx), h.s.holdLease/3)
			if err := h.renew(ctx); err != nil && !errors.Is(err, errHoldLost) {
				h.s.cfg.Logger.WarnContext(ctx, "media: renewing the hold on an upload session", "session", h.id, "err", err)
			}
			cancel()
		}
	}
}

// renew renews the hold now: errHoldLost if it is lost, another error if
// the database did not answer (the hold may still lapse).
func (h *sessionHold) renew(ctx context.Context) error {
	if h.isLost() {
		return errHoldLost
	}
	start := time.Now()
	_, err := h.s.store.HoldSession(ctx, h.id, h.holder, h.s.holdLease, "")
	switch {
	case err == nil:
		h.mu.Lock()
		if h.ctx.Err() == nil {
			h.timer.Reset(h.left(start))
		}
		h.mu.Unlock()
		return nil
	case errors.Is(err, store.ErrSessionHeld), errors.Is(err, store.ErrNotFound):
		// Lapsed, then taken over, or dropped by whoever did.
		h.cancel(errHoldLost)
		return errHoldLost
	}
	return err
}

// isLost reports whether the hold lapsed or was taken over.
func (h *sessionHold) isLost() bool { return errors.Is(context.Cause(h.ctx), errHoldLost) }

// check renews the hold before a step that must not run without it (the
// pin and Put of a finish): UNAVAILABLE if it cannot be renewed.
func (h *sessionHold) check(ctx context.Context) error {
	if err := h.renew(ctx); err != nil {
		if !errors.Is(err, errHoldLost) {
			h.s.cfg.Logger.WarnContext(ctx, "media: renewing the hold on an upload session", "session", h.id, "err", err)
		}
		return errHoldLostStatus
	}
	return nil
}

// fail is err, or UNAVAILABLE when the work failed because the hold was
// lost.
func (h *sessionHold) fail(err error) error {
	if err != nil && h.isLost() {
		return errHoldLostStatus
	}
	return err
}

// release ends the hold: the rest of the release first (which may drop
// the session as its holder), then the renewals, then the hold itself. A
// nil hold releases nothing.
func (h *sessionHold) release(ctx context.Context) {
	if h == nil {
		return
	}
	if h.onDone != nil {
		h.onDone()
	}
	close(h.stop)
	<-h.done
	h.mu.Lock()
	h.timer.Stop()
	h.cancel(nil)
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := h.s.store.ReleaseSession(ctx, h.id, h.holder); err != nil {
		h.s.cfg.Logger.WarnContext(ctx, "media: releasing the hold on an upload session", "session", h.id, "err", err)
	}
}

// name is the hold's name, "" for none: what dropSession deletes under.
func (h *sessionHold) name() string {
	if h == nil {
		return ""
	}
	return h.holder
}
