package client

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/upload"
)

// An upload goes through the media service's resumable sessions: the bytes
// are hashed, a session is created with their size and SHA-256 (which the
// service verifies), and the bytes are streamed in chunks the service
// commits as they arrive. A dropped connection, a stall or a busy session
// is retried with backoff from wherever the service says the upload
// stands. With a state directory, the session's name is remembered in a
// small file, so an upload stopped by a crash or Ctrl-C resumes from the
// service's committed offset when it is run again.

// UploadOptions configure an upload. The zero value uploads without
// remembering anything across runs.
type UploadOptions struct {
	// Progress, when set, hears how the upload goes: hashing the bytes
	// first, then sending them. Within a phase Done only grows, except
	// that a retry goes back to what the service committed.
	Progress func(UploadProgress)
	// Events, when set, hears what a person watching the upload would want
	// to know: a resumed upload, a retry and why, a warning.
	Events func(UploadEvent)
	// StateDir, when set, is where unfinished uploads are remembered so
	// they resume when run again ([DefaultStateDir] is the usual place).
	// [Client.UploadFile] knows an upload by the file's path, size and
	// modification time and the child; [Client.Upload] needs ResumeKey.
	StateDir string
	// ResumeKey names the bytes given to [Client.Upload] across runs (a
	// path, say); an upload without one is not remembered.
	ResumeKey string
	// MaxStalls is how many attempts in a row may fail without moving the
	// upload forward before it gives up (8 when 0).
	MaxStalls int
	// Backoff is the wait between attempts (Base 500ms, Max 15s when zero).
	Backoff Backoff
}

// UploadPhase is what an upload is doing.
type UploadPhase int

const (
	// PhaseHashing reads the bytes once to compute their SHA-256.
	PhaseHashing UploadPhase = iota + 1
	// PhaseSending streams the bytes to the service.
	PhaseSending
)

// UploadProgress is how far an upload's phase has come.
type UploadProgress struct {
	Phase       UploadPhase
	Done, Total int64
}

// UploadEventKind says what an [UploadEvent] is about.
type UploadEventKind int

const (
	// EventResumed: a remembered session continues at Offset; Session is
	// where it stands (its metadata is the one it started with, which it
	// keeps).
	EventResumed UploadEventKind = iota + 1
	// EventAlreadyUploaded: an earlier run finished the upload; Item is
	// what it became.
	EventAlreadyUploaded
	// EventSessionGone: the remembered session expired or was canceled,
	// so the upload starts over.
	EventSessionGone
	// EventSessionMismatch: the remembered session is for other bytes, so
	// the upload starts over.
	EventSessionMismatch
	// EventRetrying: an attempt failed with Err; the next comes after
	// Delay. Sent is how far the failed write had sent; Finishing says the
	// failure was finishing the session; StillNoAnswer that it was asking
	// where the upload stands after an earlier failure.
	EventRetrying
	// EventContinuing: after a failure the service said it has Offset
	// bytes; sending goes on from there.
	EventContinuing
	// EventAllSent: every byte is sent, the service is checking and
	// storing them (which takes a while for a big upload).
	EventAllSent
	// EventWarning: something went wrong that does not stop the upload
	// (Err), for example the state file could not be written.
	EventWarning
)

// UploadEvent is something an upload reports as it goes; which fields are
// set depends on Kind.
type UploadEvent struct {
	Kind          UploadEventKind
	Offset, Size  int64
	Sent          int64
	Session       *mediav1.UploadSession
	Item          *mediav1.MediaItem
	Err           error
	Delay         time.Duration
	Finishing     bool
	StillNoAnswer bool
}

// Upload uploads size bytes read from r as a new media item described by
// meta (Parent is required; SizeBytes and Sha256 are filled in) and returns
// the item. It retries what a retry can fix and resumes from the committed
// offset; with opts.StateDir and opts.ResumeKey it also resumes an upload
// an earlier run left unfinished.
//
// A refusal of the content is a *RefusedError; an upload that stopped
// otherwise (interrupted, a token to renew, the service away for too long)
// is an *UploadError, and running it again with the same state resumes it.
func (c *Client) Upload(ctx context.Context, r io.ReaderAt, size int64, meta *mediav1.UploadMetadata, opts UploadOptions) (*mediav1.MediaItem, error) {
	if size <= 0 {
		return nil, errors.New("client: nothing to upload")
	}
	if _, err := names.ParseChild(meta.GetParent()); err != nil {
		return nil, fmt.Errorf("client: the upload's parent: %w", err)
	}
	u := c.newUploader(r, size, meta, opts)
	if opts.ResumeKey != "" && opts.StateDir != "" {
		u.state = uploadState{Path: opts.ResumeKey, Size: size, Child: meta.GetParent()}
		u.dir = opts.StateDir
	}
	return u.run(ctx)
}

// UploadFile uploads the open file f as [Client.Upload] does, reading it
// from the start; meta.Filename defaults to its base name. With
// opts.StateDir the upload is known by the file's absolute path, size and
// modification time and the child, so an edited file is a new upload.
func (c *Client) UploadFile(ctx context.Context, f *os.File, meta *mediav1.UploadMetadata, opts UploadOptions) (*mediav1.MediaItem, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", f.Name())
	}
	if info.Size() == 0 {
		return nil, fmt.Errorf("%s is empty: nothing to upload", f.Name())
	}
	if _, err := names.ParseChild(meta.GetParent()); err != nil {
		return nil, fmt.Errorf("client: the upload's parent: %w", err)
	}
	meta = proto.CloneOf(meta)
	if meta.Filename == "" {
		meta.Filename = filepath.Base(f.Name())
	}
	u := c.newUploader(f, info.Size(), meta, opts)
	if opts.StateDir != "" {
		abs, err := filepath.Abs(f.Name())
		if err != nil {
			return nil, err
		}
		u.state = uploadState{Path: abs, Size: info.Size(), ModTime: info.ModTime().UnixNano(), Child: meta.GetParent()}
		u.dir = opts.StateDir
	}
	return u.run(ctx)
}

func (c *Client) newUploader(r io.ReaderAt, size int64, meta *mediav1.UploadMetadata, opts UploadOptions) *uploader {
	meta = proto.CloneOf(meta)
	meta.SizeBytes = size
	maxStalls := opts.MaxStalls
	if maxStalls <= 0 {
		maxStalls = 8
	}
	return &uploader{
		c: c, api: c.Media(), r: r, size: size, meta: meta, opts: opts,
		maxStalls: maxStalls,
		backoff:   opts.Backoff.start(500*time.Millisecond, 15*time.Second),
	}
}

// uploader runs one upload.
type uploader struct {
	c         *Client
	api       mediav1.MediaServiceClient
	r         io.ReaderAt
	size      int64
	meta      *mediav1.UploadMetadata
	opts      UploadOptions
	state     uploadState
	dir       string // "" when nothing is remembered
	maxStalls int
	backoff   *backoff
	sent      int64  // how far the current write has sent, for events
	buf       []byte // one for every chunk of every write
	phase     UploadPhase
}

func (u *uploader) event(e UploadEvent) {
	if u.opts.Events != nil {
		e.Size = u.size
		u.opts.Events(e)
	}
}

func (u *uploader) progress(phase UploadPhase, done int64) {
	u.phase = phase
	if u.opts.Progress != nil {
		u.opts.Progress(UploadProgress{Phase: phase, Done: done, Total: u.size})
	}
}

func (u *uploader) warn(err error) { u.event(UploadEvent{Kind: EventWarning, Err: err}) }

// run uploads, resuming a remembered session, and returns the item.
func (u *uploader) run(ctx context.Context) (*mediav1.MediaItem, error) {
	u.pruneStates()
	sess, done, err := u.resume(ctx)
	if err != nil {
		return nil, err
	}
	if done != nil {
		u.forget()
		return done, nil
	}
	if sess == nil {
		if sess, err = u.create(ctx); err != nil {
			return nil, err
		}
	}
	item, err := u.send(ctx, sess)
	if err != nil {
		return nil, err
	}
	u.forget()
	return item, nil
}

// resume looks for a remembered session of this upload: it returns the
// session to continue, or the item when the upload already finished, or
// neither when there is nothing to resume.
func (u *uploader) resume(ctx context.Context) (*mediav1.UploadSession, *mediav1.MediaItem, error) {
	saved, ok := u.recall()
	if !ok {
		return nil, nil, nil
	}
	u.state.Session, u.state.SHA256 = saved.Session, saved.SHA256
	u.meta.Sha256 = saved.SHA256
	sess, err := u.api.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: saved.Session})
	switch {
	case status.Code(err) == codes.NotFound:
		// Expired or canceled (a finished session is kept until it
		// expires); an earlier run may still have stored the bytes, and
		// the service keeps one item per content, so look there.
		item, ferr := u.findItem(ctx)
		if ferr != nil {
			return nil, nil, ferr
		}
		if item != nil {
			u.event(UploadEvent{Kind: EventAlreadyUploaded, Item: item})
			return nil, item, nil
		}
		u.event(UploadEvent{Kind: EventSessionGone})
		u.startOver()
		return nil, nil, nil
	case err != nil:
		return nil, nil, err
	}
	if sess.GetMediaItem() != "" {
		// Finished by an earlier run whose answer was lost: finishing
		// again answers with the item.
		item, err := u.finish(ctx, saved.Session)
		if err != nil {
			return nil, nil, err
		}
		u.event(UploadEvent{Kind: EventAlreadyUploaded, Item: item})
		return nil, item, nil
	}
	if m := sess.GetMetadata(); m.GetSizeBytes() != u.size || m.GetSha256() != saved.SHA256 {
		u.event(UploadEvent{Kind: EventSessionMismatch})
		u.startOver()
		return nil, nil, nil
	}
	u.state.ExpireTime = sess.GetExpireTime().AsTime()
	_ = u.remember() // only the expiry changed, for pruning; the old file does as well
	u.event(UploadEvent{Kind: EventResumed, Offset: sess.GetCommittedOffset(), Session: sess})
	return sess, nil, nil
}

// startOver forgets a remembered session that cannot continue.
func (u *uploader) startOver() {
	u.forget()
	u.state.Session, u.state.SHA256 = "", ""
	u.meta.Sha256 = ""
}

// create hashes the bytes and starts a session for them, remembering it.
func (u *uploader) create(ctx context.Context) (*mediav1.UploadSession, error) {
	sum, err := u.checksum(ctx)
	if err != nil {
		return nil, err
	}
	u.meta.Sha256 = sum
	sess, err := u.api.CreateUploadSession(ctx, &mediav1.CreateUploadSessionRequest{Metadata: u.meta})
	if err != nil {
		if ctx.Err() != nil {
			return nil, &UploadError{Committed: -1, Size: u.size, Err: ctx.Err()}
		}
		if r, ok := refusal(err); ok {
			return nil, r
		}
		return nil, err
	}
	u.state.Session, u.state.SHA256 = sess.GetName(), sum
	u.state.ExpireTime = sess.GetExpireTime().AsTime()
	if u.dir != "" {
		if err := u.remember(); err != nil {
			u.warn(fmt.Errorf("cannot remember this upload, so it will not resume if stopped: %w", err))
		}
	}
	return sess, nil
}

// chunk returns the buffer every chunk is read into.
func (u *uploader) chunk() []byte {
	if u.buf == nil {
		u.buf = make([]byte, upload.ChunkSize)
	}
	return u.buf
}

// ErrShortSource is the bytes to upload ending before their size: a file
// that got shorter while it was read.
var ErrShortSource = errors.New("the file got shorter while it was read")

// checksum returns the hex SHA-256 of the bytes, reading them once.
func (u *uploader) checksum(ctx context.Context) (string, error) {
	h := sha256.New()
	u.progress(PhaseHashing, 0)
	n, err := upload.Send(io.NewSectionReader(u.r, 0, u.size), u.chunk(), func(b []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		h.Write(b)
		return nil
	}, func(n int64) { u.progress(PhaseHashing, n) })
	switch {
	case ctx.Err() != nil:
		return "", &UploadError{Committed: -1, Size: u.size, Err: ctx.Err()}
	case err != nil:
		return "", fmt.Errorf("reading the bytes to upload: %w", errors.Unwrap(err))
	case n < u.size:
		return "", fmt.Errorf("reading the bytes to upload: %w", ErrShortSource)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// send writes the bytes from the session's committed offset and finishes
// the session. A dropped connection, a stall or a busy session is retried
// with backoff from wherever the service says the upload stands.
func (u *uploader) send(ctx context.Context, sess *mediav1.UploadSession) (*mediav1.MediaItem, error) {
	name := sess.GetName()
	offset := sess.GetCommittedOffset()
	u.progress(PhaseSending, offset)
	finishing := false // a finish was sent: the session may be gone because it worked
	stalls := 0
	for {
		var err error
		if offset < u.size {
			var committed int64
			if committed, err = u.write(ctx, name, offset); err == nil {
				offset = committed
				continue
			}
		} else {
			if !finishing {
				u.event(UploadEvent{Kind: EventAllSent, Offset: offset})
			}
			finishing = true
			var item *mediav1.MediaItem
			if item, err = u.finish(ctx, name); err == nil {
				return item, nil
			}
		}
		if item, serr, done := u.settle(ctx, name, err); done {
			return item, serr
		}
		// Wait, then ask where the upload stands, until the service says.
		still := false
		for {
			if stalls++; stalls > u.maxStalls {
				return nil, &UploadError{Session: name, Committed: u.committedNow(ctx, name), Size: u.size, Attempts: u.maxStalls, Err: err}
			}
			delay := u.backoff.next()
			if after, ok := ratelimit.RetryDelay(err); ok && after > delay {
				delay = after // a rate limit says when a retry can pass
			}
			u.event(UploadEvent{Kind: EventRetrying, Err: err, Delay: delay, Sent: u.sent, Finishing: finishing && !still, StillNoAnswer: still})
			if !sleep(ctx, delay) {
				return nil, u.interrupted(ctx, name)
			}
			reconnect(u.c.media)
			var cur *mediav1.UploadSession
			cur, err = u.api.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: name})
			if err == nil {
				if cur.GetCommittedOffset() > offset {
					u.backoff.reset()
					stalls = 0
				}
				offset = cur.GetCommittedOffset()
				if !finishing {
					u.event(UploadEvent{Kind: EventContinuing, Offset: offset})
				}
				u.progress(PhaseSending, offset)
				break
			}
			if item, serr, done := u.settle(ctx, name, err); done {
				return item, serr
			}
			still = true
		}
	}
}

// settle decides whether a failed attempt ends the upload (done), and
// with what: the item a gone session became, or the error to return.
func (u *uploader) settle(ctx context.Context, name string, err error) (*mediav1.MediaItem, error, bool) {
	var local *localError
	switch {
	case ctx.Err() != nil:
		return nil, u.interrupted(ctx, name), true
	case errors.As(err, &local):
		return nil, local.err, true
	case status.Code(err) == codes.NotFound:
		item, gerr := u.gone(ctx, name, err)
		return item, gerr, true
	}
	if r, ok := refusal(err); ok {
		return nil, u.refused(ctx, name, r), true
	}
	if !retryable(err) {
		return nil, &UploadError{Session: name, Committed: u.committedNow(ctx, name), Size: u.size, Err: err}, true
	}
	return nil, nil, false
}

// gone handles a session that no longer exists: a finish whose answer was
// lost made it an item, or it expired or was canceled.
func (u *uploader) gone(ctx context.Context, name string, err error) (*mediav1.MediaItem, error) {
	item, ferr := u.findItem(ctx)
	if ferr != nil {
		return nil, ferr
	}
	if item != nil {
		return item, nil
	}
	u.forget()
	return nil, &UploadError{Session: name, Committed: -1, Size: u.size, Gone: true, Err: err}
}

// write streams the bytes from offset to their end into the session and
// returns the committed offset the service answers with. The stream is
// canceled when it makes no progress for the client's timeout: a
// connection that silently stopped carrying bytes never fails by itself.
func (u *uploader) write(ctx context.Context, name string, offset int64) (int64, error) {
	sctx, guard := newStallGuard(ctx, u.c.opts.timeout)
	defer guard.stop()
	u.sent = offset
	src := io.NewSectionReader(u.r, offset, u.size-offset)
	sess, err := upload.WriteSession(sctx, u.api, name, offset, src, u.chunk(), func(n int64) {
		guard.kick()
		u.sent = offset + n
		u.progress(PhaseSending, u.sent)
	})
	var re *upload.ReadError
	switch {
	case errors.As(err, &re):
		return 0, &localError{fmt.Errorf("reading the bytes to upload: %w", re.Err)}
	case err != nil:
		return 0, guard.explain(err)
	case u.sent < u.size && sess.GetCommittedOffset() == u.sent:
		return 0, &localError{fmt.Errorf("reading the bytes to upload: %w", ErrShortSource)} // every byte read was taken, yet fewer than size
	}
	return sess.GetCommittedOffset(), nil
}

// finish completes the session. The service hashes, checks and stores the
// whole upload, which takes far longer than a quick call for a big one.
func (u *uploader) finish(ctx context.Context, name string) (*mediav1.MediaItem, error) {
	const slowDisk = 8 << 20 // bytes per second
	ctx, cancel := context.WithTimeout(ctx, u.c.opts.timeout+time.Duration(u.size/slowDisk)*time.Second)
	defer cancel()
	return u.api.FinishUploadSession(ctx, &mediav1.FinishUploadSessionRequest{Name: name})
}

// localError is a failure on this side (reading the bytes): no retry helps.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }

// retryable reports whether a failed write or finish is worth trying again
// from the committed offset: a lost or stalled connection, a session still
// busy with a write the service has not yet seen end, or a write that
// started from an offset the service has moved past.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.Aborted, codes.Canceled, codes.ResourceExhausted:
		return true
	case codes.FailedPrecondition:
		// FINISHED: an earlier finish whose answer was lost made it an
		// item; asking where the session stands leads to finishing again,
		// which answers with that item.
		r := errinfo.MediaReason(err)
		return r == mediav1.ErrorReason_ERROR_REASON_OFFSET_MISMATCH || r == mediav1.ErrorReason_ERROR_REASON_FINISHED
	}
	return false
}

// refused cancels a session whose content the service refused, so its
// bytes go now rather than at expiry, and returns the refusal.
func (u *uploader) refused(ctx context.Context, name string, r *RefusedError) error {
	u.forget()
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.c.opts.timeout)
	defer cancel()
	if _, err := u.api.CancelUploadSession(cctx, &mediav1.CancelUploadSessionRequest{Name: name}); err != nil && status.Code(err) != codes.NotFound {
		u.warn(fmt.Errorf("canceling the refused upload: %w", err))
	}
	return r
}

// interrupted is the error of an upload whose context ended.
func (u *uploader) interrupted(ctx context.Context, name string) error {
	return &UploadError{Session: name, Committed: u.committedNow(ctx, name), Size: u.size, Err: ctx.Err()}
}

// committedNow asks how much of the session the service has, when it
// answers at once; -1 when it does not.
func (u *uploader) committedNow(ctx context.Context, name string) int64 {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if sess, err := u.api.GetUploadSession(ctx, &mediav1.GetUploadSessionRequest{Name: name}); err == nil {
		return sess.GetCommittedOffset()
	}
	return -1
}

// findItem returns the child's item whose original SHA-256 is the
// upload's, or nil: the service stores the same bytes once per child, so
// it is the item a finished upload of these bytes became.
func (u *uploader) findItem(ctx context.Context) (*mediav1.MediaItem, error) {
	sum := u.meta.GetSha256()
	if sum == "" {
		return nil, nil
	}
	token := ""
	seen := map[string]bool{}
	for {
		resp, err := u.api.ListMediaItems(ctx, &mediav1.ListMediaItemsRequest{Parent: u.meta.GetParent(), PageSize: 1000, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, it := range resp.GetMediaItems() {
			if it.GetOriginalSha256() == sum {
				return it, nil
			}
		}
		token = resp.GetNextPageToken()
		if token == "" || seen[token] {
			return nil, nil
		}
		seen[token] = true
	}
}

// stallGuard cancels a stream that makes no progress for a while.
type stallGuard struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	limit  time.Duration
}

var errStalled = errors.New("stalled")

func newStallGuard(ctx context.Context, limit time.Duration) (context.Context, *stallGuard) {
	ctx, cancel := context.WithCancelCause(ctx)
	g := &stallGuard{ctx: ctx, cancel: cancel, limit: limit}
	g.timer = time.AfterFunc(limit, func() { cancel(errStalled) })
	return ctx, g
}

// kick says the stream moved.
func (g *stallGuard) kick() { g.timer.Reset(g.limit) }

func (g *stallGuard) stop() {
	g.timer.Stop()
	g.cancel(context.Canceled)
}

// explain turns the cancellation of a stalled stream into what it is.
func (g *stallGuard) explain(err error) error {
	if errors.Is(context.Cause(g.ctx), errStalled) {
		return status.Errorf(codes.DeadlineExceeded, "no progress for %s", g.limit)
	}
	return err
}
