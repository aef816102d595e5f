// Package notification is the notification service: per-user inboxes fed
// by the other services' events, and live delivery with resume.
//
// publish.go takes events in and fans them out, server.go serves the
// inbox, stream.go the live feed; store/ keeps the state and fanout/
// carries live messages between instances.
package notification

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"

	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/notification/digest"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// Config is what the service needs.
type Config struct {
	// DSN of the service's own database.
	DSN string
	// Progress answers who the guardians of a child are.
	Progress progresspeerv1.AccessServiceClient
	// Bus carries live notifications between instances; nil: in process.
	// The caller keeps ownership of a bus it passes.
	Bus fanout.Bus
	// GuardianCacheTTL is how long progress's answers about a child's
	// guardians (who they are, whether a caller is one) are remembered; 0
	// asks every time.
	GuardianCacheTTL time.Duration
	// Retention is how long notifications are kept; 0 keeps them forever.
	Retention time.Duration
	// Heartbeat is the interval of heartbeats on idle streams.
	Heartbeat time.Duration
	// StreamBuffer is how many live notifications a slow stream may lag by
	// before it is told to resume.
	StreamBuffer int
	// MaxFeedsPerUser caps the live feeds one user may have open at once,
	// counted across every transport and every instance sharing the
	// database (caps.go); 0 takes DefaultMaxFeedsPerUser.
	MaxFeedsPerUser int
	// MaxSubscriptionsPerUser caps one user's subscriptions; 0 takes
	// DefaultMaxSubscriptionsPerUser.
	MaxSubscriptionsPerUser int
	// FeedLease is how long this instance's feeds keep counting after it
	// was last heard of; 0 takes DefaultFeedLease.
	FeedLease time.Duration

	// Access answers whether a caller may see a child (built by the
	// caller to share a cache, see access.WithShared); nil asks Progress,
	// caching in process for GuardianCacheTTL.
	Access *access.Checker

	// Mailer sends the links that confirm users' e-mail addresses; nil:
	// this server sends no mail, and setting an address is refused
	// (settings_mail.go).
	Mailer digest.Mailer
	// PublicURL is the app's base URL as browsers reach it, for the links
	// in mails (`{PublicURL}/settings/confirm#{token}`).
	PublicURL string
	// Clock tells the time for quiet hours and confirmation links; nil:
	// the system's.
	Clock Clock
	// DigestTick is how often the daily digest looks for mails due
	// (package digest; it runs when Mailer is set); 0: digest.DefaultTick.
	DigestTick time.Duration

	Logger         *slog.Logger
	TracerProvider trace.TracerProvider
}

// tracerName is the instrumentation scope of the spans this package starts.
const tracerName = "github.com/kinbridge/kinbridge/services/notification"

// tracerProvider is tp, or the otel global one when tp is nil.
func tracerProvider(tp trace.TracerProvider) trace.TracerProvider {
	if tp == nil {
		return otel.GetTracerProvider()
	}
	return tp
}

// Service is a running notification service.
type Service struct {
	db     *sqldb.DB
	server *server
	digest *digest.Runner // nil: the digest is off
	cfg    Config
	ownBus bool
}

// New opens the database and prepares the service.
func New(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ownBus := cfg.Bus == nil
	if ownBus {
		cfg.Bus = fanout.NewLocal()
	}
	if cfg.Access == nil {
		cfg.Access = access.New(cfg.Progress, cfg.GuardianCacheTTL, access.WithLogger(cfg.Logger))
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.StreamBuffer <= 0 {
		cfg.StreamBuffer = 256
	}
	if cfg.MaxFeedsPerUser <= 0 {
		cfg.MaxFeedsPerUser = DefaultMaxFeedsPerUser
	}
	if cfg.MaxSubscriptionsPerUser <= 0 {
		cfg.MaxSubscriptionsPerUser = DefaultMaxSubscriptionsPerUser
	}
	if cfg.FeedLease <= 0 {
		cfg.FeedLease = DefaultFeedLease
	}
	if cfg.Progress == nil {
		return nil, fmt.Errorf("notification: a progress client is required")
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	digestOn := cfg.Mailer != nil
	if cfg.Mailer == nil {
		cfg.Mailer = noMailer{logger: cfg.Logger}
	}
	db, err := sqldb.Open(ctx, cfg.DSN, sqldb.Options{Migrations: store.Migrations(), TracerProvider: cfg.TracerProvider, Logger: cfg.Logger})
	if err != nil {
		if ownBus {
			cfg.Bus.Close()
		}
		return nil, fmt.Errorf("notification database: %w", err)
	}
	st := store.NewSQL(db)
	feeds := newFeedRegistry(st, cfg.MaxFeedsPerUser, cfg.FeedLease, cfg.Logger)
	// Registered before the first feed opens, so that every feed counts.
	if err := feeds.renew(ctx); err != nil {
		db.Close()
		if ownBus {
			cfg.Bus.Close()
		}
		return nil, fmt.Errorf("notification: %w", err)
	}
	s := &server{
		store:            st,
		feeds:            feeds,
		maxSubscriptions: cfg.MaxSubscriptionsPerUser,
		bus:              cfg.Bus,
		guardians:        newGuardians(cfg.Progress, cfg.GuardianCacheTTL),
		access:           cfg.Access,
		heartbeat:        cfg.Heartbeat,
		buffer:           cfg.StreamBuffer,
		logger:           cfg.Logger,
		clock:            cfg.Clock,
		mailer:           cfg.Mailer,
		publicURL:        strings.TrimSuffix(cfg.PublicURL, "/"),
		identities:       map[string]string{},
		tracer:           tracerProvider(cfg.TracerProvider).Tracer(tracerName, trace.WithSchemaURL(semconv.SchemaURL)),
	}
	svc := &Service{db: db, server: s, cfg: cfg, ownBus: ownBus}
	if !digestOn {
		cfg.Logger.InfoContext(ctx, "daily digest off: no SMTP server configured (--smtp-addr)")
	} else {
		// Unsubscribe links of mails sent earlier keep working either way
		// (UnsubscribeDigest).
		svc.digest, err = digest.New(digest.Config{Store: st, Mailer: cfg.Mailer, PublicURL: cfg.PublicURL,
			Clock: cfg.Clock, Tick: cfg.DigestTick, Logger: cfg.Logger})
		if err != nil {
			db.Close()
			if ownBus {
				cfg.Bus.Close()
			}
			return nil, fmt.Errorf("notification: %w", err)
		}
	}
	return svc, nil
}

// Register adds the public inbox API and the service-only Publish and
// Watch to r.
func (s *Service) Register(r grpc.ServiceRegistrar) {
	notificationv1.RegisterNotificationServiceServer(r, s.server)
	notificationpeerv1.RegisterPublishServiceServer(r, &publishServer{server: s.server})
	notificationpeerv1.RegisterLiveServiceServer(r, &liveServer{server: s.server})
}

// Run does the background work (the live feeds' lease, retention, old
// e-mail confirmation links) until ctx is done.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { s.server.feeds.run(ctx) })
	if s.digest != nil {
		wg.Go(func() { s.digest.Run(ctx) })
	}
	every := time.Hour
	if s.cfg.Retention > 0 {
		every = min(s.cfg.Retention/10, time.Hour)
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if _, err := s.server.store.ExpireEmailLinks(ctx, time.Now().Add(-emailLinkKeep)); err != nil && ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "deleting old e-mail confirmation links failed", slog.Any("error", err))
		}
		if s.cfg.Retention > 0 {
			s.expire(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// expire deletes the notifications older than the retention period.
func (s *Service) expire(ctx context.Context) {
	if n, err := s.server.store.Expire(ctx, time.Now().Add(-s.cfg.Retention)); err != nil {
		if ctx.Err() == nil {
			s.cfg.Logger.WarnContext(ctx, "retention run failed", slog.Any("error", err))
		}
	} else if n > 0 {
		s.cfg.Logger.InfoContext(ctx, "expired notifications", slog.Int64("count", n))
	}
}

// Ready reports whether the service can answer: its database answers.
// Its gRPC health follows it, so callers balancing over instances skip one
// cut off from its database.
func (s *Service) Ready(ctx context.Context) error { return s.db.Ping(ctx) }

// Close forgets this instance's live feeds (so they stop counting at
// once rather than when the lease runs out), then releases the database,
// and the bus when the service made it.
func (s *Service) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.server.feeds.stop(ctx); err != nil {
		s.cfg.Logger.WarnContext(ctx, "forgetting this instance's live feeds failed; they stop counting when its lease runs out", slog.Any("error", err))
	}
	if s.ownBus {
		s.cfg.Bus.Close()
	}
	return s.db.Close()
}
