package media

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image/jpeg"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/ingest"
	"github.com/kinbridge/kinbridge/services/media/store"
	"github.com/kinbridge/kinbridge/services/media/thumb"
)

// Background work: the job worker makes thumbnails (and reads dimensions
// and durations) of new items and marks them READY, announcing them with a
// MEDIA_READY event written in the same transaction; the sweeper removes
// expired (or ended) upload sessions with their bytes and deletes blobs
// nothing references any more, with the store's condemn-then-delete
// protocol. The sweeper runs when a deletion wakes it, and every
// SweepInterval in case a process died before its sweep.

const (
	// jobLease is how long a claimed job is a worker's: longer than making
	// a video's thumbnails with ffmpeg takes.
	jobLease = 10 * time.Minute
	// sweepLease is how long a sweeper holds a condemned blob; its Delete
	// is bounded well within it (see the store's package doc).
	sweepLease    = 5 * time.Minute
	deleteTimeout = time.Minute
	sweepBatch    = 100
)

// runWorker claims and runs due jobs until ctx is done, woken by new jobs
// or the poll interval.
func (s *Service) runWorker(ctx context.Context) {
	owner := s.owner + "/" + names.NewID()[:6]
	tick := time.NewTicker(s.cfg.PollInterval)
	defer tick.Stop()
	for {
		for ctx.Err() == nil {
			jobs, err := s.store.ClaimJobs(ctx, owner, time.Now(), jobLease, 1)
			if err != nil {
				if ctx.Err() == nil {
					s.cfg.Logger.WarnContext(ctx, "media: claiming jobs", "err", err)
				}
				break
			}
			if len(jobs) == 0 {
				break
			}
			s.runJob(ctx, owner, jobs[0])
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.wake:
		}
	}
}

// permanentError is a failure that retrying cannot cure.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// runJob runs one claimed job and records its outcome.
func (s *Service) runJob(ctx context.Context, owner string, job store.Job) {
	ctx, span := s.startJobSpan(ctx, job)
	defer span.End()
	log := s.cfg.Logger.With("job", job.ID, "item", names.MediaItem{Child: job.ChildID, ID: job.ItemID}.String(), "attempt", job.Attempts)
	it, err := s.store.GetItem(ctx, job.ChildID, job.ItemID)
	if errors.Is(err, store.ErrNotFound) {
		s.itemGone(ctx, owner, job)
		return
	}
	if err == nil {
		switch job.Kind {
		case jobThumbnail:
			err = s.thumbnail(ctx, owner, job, it)
		default:
			err = permanentError{fmt.Errorf("unknown job kind %q", job.Kind)}
		}
	}
	if errors.Is(err, errItemGone) {
		s.itemGone(ctx, owner, job)
		return
	}
	if err == nil {
		return
	}
	span.RecordError(err)
	span.SetStatus(codes.Error, err.Error())
	// The outcome is recorded even when ctx ended (shutdown): the lease
	// would otherwise hold the job for its whole length.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var perm permanentError
	if ctx.Err() == nil && (errors.As(err, &perm) || job.Attempts >= s.cfg.JobAttempts) {
		log.WarnContext(ctx, "media: processing failed for good", "err", err)
		_, ferr := s.store.FinishJob(rctx, job.ID, owner, func(it *store.Item) error {
			it.State, it.FailureReason = store.StateFailed, failureReason(err)
			return nil
		})
		switch {
		case errors.Is(ferr, store.ErrNotFound):
			s.itemGone(rctx, owner, job)
		case ferr != nil:
			log.ErrorContext(ctx, "media: recording failure", "err", ferr)
		}
		return
	}
	backoff := time.Duration(job.Attempts*job.Attempts) * 5 * time.Second
	if ctx.Err() != nil {
		backoff = 0
	} else {
		log.WarnContext(ctx, "media: processing failed, will retry", "err", err, "in", backoff)
	}
	if ferr := s.store.FailJob(rctx, job.ID, owner, err, time.Now().Add(backoff)); ferr != nil && !errors.Is(ferr, store.ErrNotFound) {
		log.ErrorContext(ctx, "media: recording failed attempt", "err", ferr)
	}
}

// errItemGone says a job's item was deleted while the job ran.
var errItemGone = errors.New("the item was deleted")

// itemGone completes a job whose item was deleted: the deletion left the
// job to its worker (see the store's package doc), and completing it
// releases the pins on what the job stored, for the sweeper to delete now.
func (s *Service) itemGone(ctx context.Context, owner string, job store.Job) {
	if err := s.store.CompleteJob(ctx, job.ID, owner); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.cfg.Logger.WarnContext(ctx, "media: completing the job of a deleted item", "job", job.ID, "err", err)
		return // the lease runs out, and the next claim finds the item gone
	}
	s.deleted()
}

// The reasons a reader sees for an item whose processing failed. The error
// itself stays in the log and on the job's span: it may quote a program's
// stderr, which names files on the server.
const (
	reasonTooLarge    = "The picture is too large to show a preview of. The original is kept."
	reasonUnsupported = "No preview can be made of this kind of file. The original is kept."
	reasonUnreadable  = "No preview could be made of this file; it may be damaged. The original is kept."
)

// failureReason is what readers are told about err, the error that failed
// an item's processing for good.
func failureReason(err error) string {
	switch {
	case errors.Is(err, thumb.ErrTooLarge):
		return reasonTooLarge
	case errors.Is(err, errors.ErrUnsupported):
		return reasonUnsupported
	default:
		return reasonUnreadable
	}
}

// jobTracerName is the instrumentation scope of the job spans.
const jobTracerName = "github.com/kinbridge/kinbridge/services/media"

// startJobSpan starts the span of one run of job, in the trace of the
// request that enqueued it (the upload that finished), whatever ctx
// carries; every run of the job, retries included, is a child of that
// request's span (no span link to it as well: Jaeger would show the pair as
// FOLLOWS_FROM rather than a child). The MEDIA_READY event written under
// this span carries it on, so the outbox delivery to notification stays in
// the same trace. A job without a stored context (enqueued outside any
// trace, or before contexts were stored) starts a trace of its own.
func (s *Service) startJobSpan(ctx context.Context, job store.Job) (context.Context, trace.Span) {
	tp := s.cfg.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	parent := telemetry.Continue(ctx, job.TraceContext)
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			// The job queue is a message queue in the semantic
			// conventions' terms: a job is a message, a run processes it.
			semconv.MessagingSystemKey.String("kinbridge.media.jobs"),
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingMessageID(job.ID),
			attribute.String("media.job.kind", job.Kind),
			attribute.Int("media.job.attempt", job.Attempts),
			attribute.String("media.item", names.MediaItem{Child: job.ChildID, ID: job.ItemID}.String()),
		),
	}
	return tp.Tracer(jobTracerName, trace.WithSchemaURL(semconv.SchemaURL)).Start(parent, "media.job "+job.Kind, opts...)
}

// thumbnail makes an item's thumbnails, stores them, and marks the item
// READY with a MEDIA_READY event, in the transaction that ends the job.
func (s *Service) thumbnail(ctx context.Context, owner string, job store.Job, it store.Item) error {
	// The thumbnailer's programs (ffmpeg, heif-convert) need a path: the
	// blob's own file, or a copy when the store keeps no files.
	f, err := blob.File(ctx, s.blobs, it.ContentSHA256, s.scratch.dir)
	if err != nil {
		return fmt.Errorf("opening original: %w", err)
	}
	defer f.Close()
	size := f.Size
	info := ingest.Info{Orientation: 1}
	if head, err := headOf(f, size); err == nil {
		if t, err := ingest.Sniff(head); err == nil {
			info = ingest.Inspect(f, size, t)
		}
	}
	res, err := thumb.MakeFromFile(ctx, f.Name(), it.ContentType, info.Orientation, nil, thumb.Limits{},
		thumb.WithTools(s.tools), thumb.WithTracerProvider(s.cfg.TracerProvider), thumb.WithTempDir(s.scratch.dir))
	if errors.Is(err, thumb.ErrTooLarge) || errors.Is(err, errors.ErrUnsupported) {
		return permanentError{err}
	}
	if err != nil {
		return err
	}
	var thumbs []store.Thumbnail
	for _, sz := range thumb.DefaultSizes {
		data, ok := res.Thumbs[sz.Name]
		if !ok {
			continue
		}
		sum := sha256.Sum256(data)
		sha := hex.EncodeToString(sum[:])
		if err := s.store.PinBlob(ctx, sha, store.JobHolder(job.ID)); err != nil {
			return fmt.Errorf("pinning thumbnail: %w", err)
		}
		if _, _, err := s.blobs.Put(ctx, bytes.NewReader(data), sha); err != nil {
			return fmt.Errorf("storing thumbnail: %w", err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return fmt.Errorf("thumbnail %s: %w", sz.Name, err)
		}
		thumbs = append(thumbs, store.Thumbnail{Size: sz.Name, Width: int32(cfg.Width), Height: int32(cfg.Height), SHA256: sha})
	}
	// Announced as stored: a published item to the guardians, a draft to
	// the contributors (approval.go).
	done, err := s.store.FinishJobAnnouncing(ctx, job.ID, owner, func(it *store.Item) error {
		it.State, it.FailureReason = store.StateReady, ""
		it.Width, it.Height, it.Duration = int32(res.Width), int32(res.Height), res.Duration
		it.TakenTime = info.TakenTime
		it.Thumbnails = thumbs
		return nil
	}, processedEvents)
	if errors.Is(err, store.ErrNotFound) {
		return errItemGone
	}
	if err != nil {
		return err
	}
	s.cfg.Logger.DebugContext(ctx, "media: ready", "item", names.MediaItem{Child: done.ChildID, ID: done.ID}.String(), "thumbnails", strconv.Itoa(len(thumbs)))
	s.notify()
	return nil
}

// runSweeper removes expired sessions and unreferenced blobs until ctx is
// done: at start, whenever a deletion wakes it, and every SweepInterval.
func (s *Service) runSweeper(ctx context.Context) {
	tick := time.NewTicker(s.cfg.SweepInterval)
	defer tick.Stop()
	for {
		s.sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.sweepNow:
		}
	}
}

// sweep removes every expired session nobody holds, with its bytes, and
// upload files and parts no live session wants, then deletes every blob
// nothing references, in batches until none is left.
// Bytes nothing references go at once: there is no grace period (see the
// store's package doc).
func (s *Service) sweep(ctx context.Context) {
	s.sweeping.Lock()
	defer s.sweeping.Unlock()
	for ctx.Err() == nil {
		sessions, err := s.store.ExpiredSessions(ctx, time.Now(), sweepBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "media: listing expired sessions", "err", err)
			}
			break
		}
		dropped := 0
		for _, sess := range sessions {
			if s.sweepSession(ctx, sess) {
				dropped++
			}
		}
		// A full batch of sessions someone holds would list itself again.
		if len(sessions) < sweepBatch || dropped == 0 {
			break
		}
	}
	// What sessions gone elsewhere left here and in the blob store: files
	// of sessions another host dropped or finished, and parts whose
	// session is gone (parts.go).
	s.sweepTempDir(ctx)
	s.sweepParts(ctx)
	for ctx.Err() == nil {
		now := time.Now()
		shas, err := s.store.UnreferencedBlobs(ctx, now, sweepBatch)
		if err != nil {
			if ctx.Err() == nil {
				s.cfg.Logger.WarnContext(ctx, "media: listing unreferenced blobs", "err", err)
			}
			return
		}
		deleted := 0
		for _, sha := range shas {
			if s.deleteBlob(ctx, sha, now) {
				deleted++
			}
		}
		if len(shas) < sweepBatch || deleted == 0 {
			return
		}
	}
}

// deleteBlob deletes an unreferenced blob's bytes with the store's
// condemn-then-delete protocol, and reports whether it did.
func (s *Service) deleteBlob(ctx context.Context, sha string, olderThan time.Time) bool {
	ok, err := s.store.CondemnBlob(ctx, sha, s.owner, olderThan, time.Now().Add(sweepLease))
	if err != nil || !ok {
		return false
	}
	dctx, cancel := context.WithTimeout(ctx, deleteTimeout)
	err = s.blobs.Delete(dctx, sha)
	cancel()
	if err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: deleting blob", "blob", sha, "err", err)
		return false // the lease runs out and a later sweep retries
	}
	if _, err := s.store.ForgetBlob(ctx, sha, s.owner); err != nil {
		s.cfg.Logger.WarnContext(ctx, "media: forgetting blob", "blob", sha, "err", err)
	}
	return true
}
