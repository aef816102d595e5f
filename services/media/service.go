// Package media is the media service: a child's artwork, photos, videos and
// scanned work, uploaded in one stream or through resumable sessions,
// checked (size, type sniffed from the bytes, checksum), cleaned of location
// data, stored as content-addressed blobs, thumbnailed in the background and
// read back in ranges.
//
// service.go wires the service (Config, New, Register, Run, Close),
// server.go is the transport: it checks requests, translates between the
// contract and the service, and calls the service's methods, which do the
// work: items.go reads and edits items, upload.go receives bytes
// (one-stream uploads and sessions) and turns them into items, peer.go takes progress's word that a child was
// deleted, and process.go runs the background work: the thumbnail job
// worker and the sweeper of expired sessions and unreferenced blobs.
//
// Nothing refused or deleted is kept: an upload refused for its content
// is dropped with its bytes at once, and the bytes of a deleted item or
// child (and of anything no item uses any more) are deleted by the sweeper
// as soon as the deletion commits (see the store's package doc).
//
// Access is never decided here: every method asks progress (through
// [AccessChecker], in production a *access.Checker) whether the caller may
// view (reads) or contribute (writes) for the child.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/discussion"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/names"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/media/store"
	"github.com/kinbridge/kinbridge/services/media/thumb"
)

// AccessChecker answers whether a principal may do perm on a child
// ("children/{id}"), with the suite's statuses (NOT_FOUND for a child the
// caller cannot see, PERMISSION_DENIED for a viewer asking to contribute).
// *access.Checker implements it. Grant answers the same, and says also
// what the caller holds (approval.go).
type AccessChecker interface {
	Check(ctx context.Context, p auth.Principal, child string, perm progresspeerv1.Permission) error
	Grant(ctx context.Context, p auth.Principal, child string, perm progresspeerv1.Permission) (access.Grant, error)
}

// Limits bound upload sizes per kind, in bytes. A zero field takes its
// default.
type Limits struct {
	Photo    int64
	Artwork  int64
	Document int64
	Video    int64
}

// Default limits.
const (
	DefaultPhotoLimit    = 50 << 20
	DefaultArtworkLimit  = 50 << 20
	DefaultDocumentLimit = 50 << 20
	DefaultVideoLimit    = 4 << 30
)

func (l Limits) withDefaults() Limits {
	def := func(v, d int64) int64 {
		if v <= 0 {
			return d
		}
		return v
	}
	return Limits{
		Photo:    def(l.Photo, DefaultPhotoLimit),
		Artwork:  def(l.Artwork, DefaultArtworkLimit),
		Document: def(l.Document, DefaultDocumentLimit),
		Video:    def(l.Video, DefaultVideoLimit),
	}
}

// of returns the limit of a kind; for an unspecified kind (not known until
// the bytes are sniffed), the largest.
func (l Limits) of(k store.Kind) int64 {
	switch k {
	case store.KindPhoto:
		return l.Photo
	case store.KindArtwork:
		return l.Artwork
	case store.KindDocument:
		return l.Document
	case store.KindVideo:
		return l.Video
	}
	return max(l.Photo, l.Artwork, l.Document, l.Video)
}

// Default caps per user (docs/limits.md).
const (
	// DefaultMaxUploadSessions: a family's app uploads a few files at a
	// time (Uppy suggests 10 at once), and the command line one; 16 leaves
	// room for that and for a few abandoned uploads, which count until
	// they expire.
	DefaultMaxUploadSessions = 16
	// DefaultMaxUploadBytes: four of the largest videos under way at once;
	// it bounds the upload directory one user can claim.
	DefaultMaxUploadBytes = 16 << 30
)

// Config is what the service needs to run.
type Config struct {
	// DSN of the service's own database: "sqlite:PATH" or "postgres://...".
	DSN string
	// BlobURL names the blob store (see blob.Open): a directory or s3://.
	BlobURL string
	// TempDir keeps this process's copy of the bytes of uploads in
	// progress, and its scratch files; default $TMPDIR/kinbridge-media.
	// It may be private to the host: what a resumable session committed is
	// also kept in the blob store (upload parts, parts.go), from which any
	// instance sharing the database and blob store continues it. What
	// crashed processes left there is removed at start (tempdir.go).
	TempDir string
	// Access decides who may see or contribute for a child. Required.
	Access AccessChecker
	// Publisher receives the service's events (notification's Publish).
	// Without one, events wait in the outbox.
	Publisher notificationpeerv1.PublishServiceClient
	// Limits bound upload sizes per kind.
	Limits Limits
	// KeepLocation stores uploads with their location data (EXIF GPS, XMP,
	// QuickTime atoms). The zero value strips it, which is the default.
	KeepLocation bool
	// Caps bound what one user may have under way at once, over every
	// upload path (one-stream uploads too) and every instance sharing the
	// database; a zero field takes its default (DefaultMaxUploadSessions,
	// DefaultMaxUploadBytes). Bytes must leave room for the largest upload
	// Limits allow.
	Caps store.UploadCaps
	// SessionIdleTimeout is how long an untouched upload session lives;
	// default store.DefaultIdleTimeout.
	SessionIdleTimeout time.Duration
	// Workers is how many thumbnail jobs run at once; default 2.
	Workers int
	// JobAttempts is how many times a job is tried before its item is
	// marked FAILED; default 3.
	JobAttempts int
	// PollInterval is how often the worker looks for due jobs when nothing
	// woke it; default 2s. SweepInterval is how often expired sessions and
	// unreferenced blobs are removed when nothing woke the sweeper (a
	// deletion does, at once); default 1m. It bounds how long a crash
	// between a deletion and its sweep can keep the bytes.
	PollInterval  time.Duration
	SweepInterval time.Duration

	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// Service is a running media service, ready to register on a gRPC server.
type Service struct {
	cfg      Config
	db       *sqldb.DB
	store    *store.SQL
	blobs    blob.Store
	relay    *outbox.Relay
	server   *server
	tools    thumb.Tools
	owner    string        // this process's name for job leases and sweeps
	dirID    string        // the upload directory's name in holds (hold.go)
	scratch  *scratch      // this process's short-lived files, in TempDir
	wake     chan struct{} // a job was enqueued
	sweepNow chan struct{} // something was deleted: sweep now
	// sweeping serializes sweeps (the sweeper's, and tests'): sweeps of
	// one process share the owner name they condemn blobs under.
	sweeping sync.Mutex
	// busy holds the sessions being written or finished in this process:
	// two writers appending to one temporary file would corrupt bytes the
	// other already committed.
	busy sync.Map
	// cached holds, per session, how many bytes of its file in TempDir this
	// process wrote or checked against the session's parts: what it may
	// trust of the file without reading the parts (parts.go).
	cached sync.Map
	// uploadReads counts the bytes read from upload files, rehashedBytes
	// those read again to hash them (a session resumed without its saved
	// running hash): see countedReads.
	uploadReads, rehashedBytes atomic.Int64
	// partReads counts the bytes copied from upload parts into files here
	// (a session continued from another host's bytes).
	partReads atomic.Int64
	gc        *uploadGC
	// holdLease is how long a hold on an upload session lasts unrenewed
	// (hold.go): defaultHoldLease, shorter in tests.
	holdLease time.Duration
	// beforePut, when set (by tests), is called by a finish between the
	// pin of its content blob and the Put of its bytes.
	beforePut atomic.Pointer[func(sessionID string)]

	metrics *metrics
	// discussion serves comments and reactions (discussion.go).
	discussion *discussion.Handler
}

// New opens (and migrates) the service's database and its blob store.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Access == nil {
		return nil, errors.New("media: an access checker is required")
	}
	if cfg.BlobURL == "" {
		return nil, errors.New("media: a blob store URL is required")
	}
	if cfg.TempDir == "" {
		cfg.TempDir = filepath.Join(os.TempDir(), "kinbridge-media")
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.Caps.Sessions <= 0 {
		cfg.Caps.Sessions = DefaultMaxUploadSessions
	}
	if cfg.Caps.Bytes <= 0 {
		cfg.Caps.Bytes = DefaultMaxUploadBytes
	}
	if largest := cfg.Limits.of(store.KindUnspecified); cfg.Caps.Bytes < largest {
		return nil, fmt.Errorf("media: the cap of %d bytes under way per user leaves no room for the largest upload allowed (%d bytes)", cfg.Caps.Bytes, largest)
	}
	if cfg.SessionIdleTimeout <= 0 {
		cfg.SessionIdleTimeout = store.DefaultIdleTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.JobAttempts <= 0 {
		cfg.JobAttempts = 3
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if err := os.MkdirAll(cfg.TempDir, 0o700); err != nil {
		return nil, fmt.Errorf("media temp dir: %w", err)
	}
	dirID, err := uploadDirID(cfg.TempDir)
	if err != nil {
		return nil, fmt.Errorf("media upload directory: %w", err)
	}
	db, err := sqldb.Open(ctx, cfg.DSN, sqldb.Options{Migrations: store.Migrations(), TracerProvider: cfg.TracerProvider, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("media database: %w", err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("media outbox: %w", err)
	}
	blobs, err := blob.Open(ctx, cfg.BlobURL, blob.WithTracerProvider(cfg.TracerProvider), blob.WithLogger(cfg.Logger))
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("media blobs: %w", err)
	}
	host, _ := os.Hostname()
	svc := &Service{
		cfg:       cfg,
		db:        db,
		store:     store.NewSQL(db),
		blobs:     blobs,
		tools:     thumb.LookupTools(),
		owner:     fmt.Sprintf("%s/%d/%s", host, os.Getpid(), names.NewID()[:8]),
		dirID:     dirID,
		wake:      make(chan struct{}, 1),
		sweepNow:  make(chan struct{}, 1),
		gc:        newUploadGC(uploadGCEvery),
		holdLease: defaultHoldLease,
	}
	if cfg.Publisher != nil {
		svc.relay = outbox.NewRelay(db, events.Deliver(cfg.Publisher), outbox.Options{
			Logger: cfg.Logger, TracerProvider: cfg.TracerProvider, MeterProvider: cfg.MeterProvider, Outbox: "media",
		})
	}
	if svc.metrics, err = newMetrics(cfg.MeterProvider, svc); err != nil {
		db.Close()
		return nil, fmt.Errorf("media metrics: %w", err)
	}
	svc.sweepTempDir(ctx)
	if svc.scratch, err = newScratch(cfg.TempDir); err != nil {
		db.Close()
		return nil, fmt.Errorf("media temp dir: %w", err)
	}
	svc.discussion = svc.newDiscussion()
	svc.server = &server{svc: svc}
	return svc, nil
}

// Register adds the public MediaService and the service-only
// ChildDataService to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	mediav1.RegisterMediaServiceServer(r, s.server)
	mediapeerv1.RegisterChildDataServiceServer(r, &peerServer{svc: s})
}

// Run processes jobs, sweeps expired sessions and unreferenced blobs, and
// delivers events, until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range s.cfg.Workers {
		wg.Go(func() { s.runWorker(ctx) })
	}
	wg.Go(func() { s.runSweeper(ctx) })
	wg.Go(func() { s.gc.run(ctx) })
	var err error
	if s.relay == nil {
		s.cfg.Logger.WarnContext(ctx, "no publisher configured: events stay in the outbox until one runs")
		<-ctx.Done()
	} else {
		err = s.relay.Run(ctx)
	}
	wg.Wait()
	return err
}

// Ready reports whether the service can answer: its database answers.
// Its gRPC health follows it, so callers balancing over instances skip one
// cut off from its database.
func (s *Service) Ready(ctx context.Context) error { return s.db.Ping(ctx) }

// Close releases the database and the blob store, and removes this
// process's short-lived files.
func (s *Service) Close() error {
	errs := []error{s.scratch.Close()}
	if c, ok := s.blobs.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// notify tells the relay an event was committed.
func (s *Service) notify() {
	if s.relay != nil {
		s.relay.Notify()
	}
}

// deleted wakes the sweeper: a write has just dropped references, ended
// sessions or dropped a session, and what nothing uses goes now.
func (s *Service) deleted() {
	select {
	case s.sweepNow <- struct{}{}:
	default:
	}
}

// jobEnqueued wakes a worker.
func (s *Service) jobEnqueued() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// authorize asks the checker whether the caller may do perm on the child.
func (s *Service) authorize(ctx context.Context, childID string, perm progresspeerv1.Permission) (auth.Principal, error) {
	p, err := caller(ctx)
	if err != nil {
		return p, err
	}
	return p, s.cfg.Access.Check(ctx, p, names.Child{ID: childID}.String(), perm)
}

// internal logs err and returns an INTERNAL status that does not leak it.
func (s *Service) internal(ctx context.Context, what string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return storeError(err, what)
	}
	s.cfg.Logger.ErrorContext(ctx, "media: "+what, "err", err)
	return status.Errorf(codes.Internal, "%s failed", what)
}
