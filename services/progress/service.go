// Package progress is the progress service: children, who may follow them,
// and (as the service grows) what is recorded about their school life.
//
// server.go translates between the contract and the domain, access.go
// decides who may do what, and store/ keeps the state.
package progress

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/events"
	"github.com/kinbridge/kinbridge/pkg/outbox"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/progress/store"
)

// Config is what the service needs to run.
type Config struct {
	// DSN of the service's own database: "sqlite:PATH" or "postgres://...".
	DSN string
	// Publisher receives the service's events (notification's Publish).
	// Without one, events wait in the outbox until a process that has one
	// runs.
	Publisher notificationpeerv1.PublishServiceClient
	// Media hears of deleted children (media's DeleteChildData), from the
	// same relay, before notification does. Without it media keeps a
	// deleted child's photos and videos: only tests of progress alone
	// leave it out.
	Media mediapeerv1.ChildDataServiceClient
	// AccessCache, when set, is the cache of access answers media and
	// notification share (Redis). A change to who may see a child drops the
	// child's answers there: at once, after the change commits, and again
	// from the outbox when the event of a grant, a revocation or a deletion
	// is delivered, which retries until it succeeds. (A role change has no
	// event: if dropping fails, its answers live out their TTL.)
	AccessCache AccessInvalidator
	// Now is the service's clock (when invitations expire); time.Now when
	// nil. Tests set it to move time without waiting.
	Now            func() time.Time
	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

// summaryCacheSize bounds the summaries kept in memory.
const summaryCacheSize = 10000

// Service is a running progress service, ready to register on a gRPC server.
type Service struct {
	db     *sqldb.DB
	server *server
	access *accessServer
	relay  *outbox.Relay
	cfg    Config
}

// notify tells the relay an event was just committed.
func (s *Service) notify() {
	if s.relay != nil {
		s.relay.Notify()
	}
}

// Run delivers the service's events until ctx is done.
// AccessInvalidator drops the shared access answers about a child
// (access.Shared).
type AccessInvalidator interface {
	Invalidate(ctx context.Context, child string) error
}

// accessChanged drops the shared access answers about child, if answers
// are shared. A failure is logged: the outbox's delivery of the change's
// event tries again.
func (s *Service) accessChanged(ctx context.Context, child string) {
	if s.cfg.AccessCache == nil {
		return
	}
	// The change has committed: drop the answers even if the caller leaves.
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := s.cfg.AccessCache.Invalidate(ictx, child); err != nil {
		s.cfg.Logger.WarnContext(ctx, "progress: could not drop the shared access answers; the event's delivery retries",
			"child", child, "err", err)
	}
}

func (s *Service) Run(ctx context.Context) error {
	if s.relay == nil {
		s.cfg.Logger.WarnContext(ctx, "no publisher configured: events stay in the outbox until one runs")
		<-ctx.Done()
		return nil
	}
	return s.relay.Run(ctx)
}

// New opens (and migrates) the service's database.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	db, err := sqldb.Open(ctx, cfg.DSN, sqldb.Options{Migrations: store.Migrations(), TracerProvider: cfg.TracerProvider, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("progress database: %w", err)
	}
	if err := outbox.Migrate(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("progress outbox: %w", err)
	}
	svc := &Service{db: db, cfg: cfg}
	if cfg.Publisher != nil {
		// A child's waiting events go to notification in one PublishBatch
		// (up to MaxPerCall), not one Publish each: one call and one
		// transaction carry what took as many as there were events.
		deliver := events.DeliverBatch(cfg.Publisher)
		if cfg.Media != nil {
			deliver = events.BatchWithChildDeletions(cfg.Media, deliver)
		} else {
			cfg.Logger.WarnContext(ctx, "no media client configured: media will not hear of deleted children")
		}
		if cfg.AccessCache != nil {
			deliver = events.BatchWithAccessChanges(cfg.AccessCache.Invalidate, deliver)
		}
		svc.relay = outbox.NewBatchRelay(db, deliver, outbox.Options{
			Logger: cfg.Logger, TracerProvider: cfg.TracerProvider, MeterProvider: cfg.MeterProvider, Outbox: "progress",
			BatchSize: 1000, MaxPerCall: 100,
		})
	}
	st := store.NewSQL(db)
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	st.UseClock(now)
	svc.server = &server{store: st, summaries: newSummaryCache(summaryCacheSize), notify: svc.notify, accessChanged: svc.accessChanged, now: now}
	svc.server.discussion = newDiscussion(db, svc.server, cfg.Logger)
	svc.access = &accessServer{store: st}
	return svc, nil
}

// Register adds the public and the service-only APIs to s.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	progressv1.RegisterProgressServiceServer(r, s.server)
	progresspeerv1.RegisterAccessServiceServer(r, s.access)
}

// Ready reports whether the service can answer: its database answers.
// Its gRPC health follows it, so callers balancing over instances skip one
// cut off from its database.
func (s *Service) Ready(ctx context.Context) error { return s.db.Ping(ctx) }

// Close releases the database.
func (s *Service) Close() error { return s.db.Close() }
