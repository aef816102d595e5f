package notification

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	notificationv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/v1"
	"github.com/kinbridge/kinbridge/pkg/errinfo"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// Caps per user (docs/limits.md): how many live feeds one user may have
// open at once, over every transport and instance, and how many
// subscriptions one user may keep. One more is refused with
// RESOURCE_EXHAUSTED and an ErrorInfo naming the cap; what is open or
// stored already is never taken away to make room.

// Defaults of the caps.
const (
	// DefaultMaxFeedsPerUser: a family member's phone, tablet, a few
	// browser tabs and the command line need a handful of feeds; 32 leaves
	// room for many more while bounding what one user holds (a goroutine,
	// a live buffer and a database row per feed).
	DefaultMaxFeedsPerUser = 32
	// DefaultMaxSubscriptionsPerUser: a subscription is per child, and a
	// family follows a few children; a school's staff may follow hundreds.
	DefaultMaxSubscriptionsPerUser = 1000
	// DefaultFeedLease is how long an instance's feeds keep counting after
	// it was last heard of (it renews every third of it): after a crash,
	// its feeds stop counting within this time.
	DefaultFeedLease = 15 * time.Second
)

func tooManyFeeds(open, limit int) error {
	return errinfo.Notification(codes.ResourceExhausted, notificationv1.ErrorReason_ERROR_REASON_TOO_MANY_FEEDS,
		fmt.Sprintf("you have %d live feeds open (gRPC streams, SSE and WebSocket together), the most one user may have: close one before opening another", open),
		map[string]string{"open": strconv.Itoa(open), "limit": strconv.Itoa(limit)})
}

func tooManySubscriptions(count, limit int) error {
	return errinfo.Notification(codes.ResourceExhausted, notificationv1.ErrorReason_ERROR_REASON_TOO_MANY_SUBSCRIPTIONS,
		fmt.Sprintf("you have %d subscriptions, the most one user may have: delete one before creating another", count),
		map[string]string{"count": strconv.Itoa(count), "limit": strconv.Itoa(limit)})
}

// feedRegistry counts live feeds against the cap in the database, so the
// cap holds across instances: a feed is a row of this instance's, and an
// instance's rows count while its lease lasts. The instance renews the
// lease, retries the deletes that failed, puts its rows back if its lease
// ran out meanwhile (another instance may have swept them), and sweeps
// the rows of instances that died.
type feedRegistry struct {
	store    *store.SQL
	instance string
	limit    int
	lease    time.Duration
	logger   *slog.Logger

	mu       sync.Mutex
	open     map[string]string   // feed id -> user: this instance's feeds
	unclosed map[string]struct{} // ended feeds whose row is still to delete
}

func newFeedRegistry(st *store.SQL, limit int, lease time.Duration, logger *slog.Logger) *feedRegistry {
	return &feedRegistry{store: st, instance: rand.Text(), limit: limit, lease: lease, logger: logger,
		open: map[string]string{}, unclosed: map[string]struct{}{}}
}

// admit records a new feed of user, or refuses it with TOO_MANY_FEEDS.
func (r *feedRegistry) admit(ctx context.Context, user string) (string, error) {
	id := rand.Text()
	open, err := r.store.OpenFeed(ctx, id, r.instance, user, r.limit)
	if errors.Is(err, store.ErrCapReached) {
		return "", tooManyFeeds(open, r.limit)
	}
	if err != nil {
		return "", internal(ctx, r.logger, "open feed", err)
	}
	r.mu.Lock()
	r.open[id] = user
	r.mu.Unlock()
	return id, nil
}

// release forgets an ended feed, on a context of its own: the feed's
// ended. A delete that fails is retried by the next renewal.
func (r *feedRegistry) release(ctx context.Context, id string) {
	r.mu.Lock()
	delete(r.open, id)
	r.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := r.store.CloseFeed(ctx, id); err != nil {
		r.logger.WarnContext(ctx, "forgetting a live feed failed; retrying later", slog.Any("error", err))
		r.mu.Lock()
		r.unclosed[id] = struct{}{}
		r.mu.Unlock()
	}
}

// renew extends the lease and tidies up; see feedRegistry.
func (r *feedRegistry) renew(ctx context.Context) error {
	lapsed, err := r.store.RenewInstance(ctx, r.instance, time.Now().Add(r.lease))
	if err != nil {
		return fmt.Errorf("renew lease: %w", err)
	}
	r.mu.Lock()
	unclosed := maps.Clone(r.unclosed)
	var open map[string]string
	if lapsed {
		open = maps.Clone(r.open)
	}
	r.mu.Unlock()
	for id := range unclosed {
		if err := r.store.CloseFeed(ctx, id); err != nil {
			return fmt.Errorf("forget feed: %w", err)
		}
		r.mu.Lock()
		delete(r.unclosed, id)
		r.mu.Unlock()
	}
	for id, user := range open {
		if err := r.store.RestoreFeed(ctx, id, r.instance, user); err != nil {
			return fmt.Errorf("restore feed: %w", err)
		}
		r.mu.Lock()
		if _, still := r.open[id]; !still {
			r.unclosed[id] = struct{}{} // it ended meanwhile: delete it again next time
		}
		r.mu.Unlock()
	}
	if _, err := r.store.SweepInstances(ctx, time.Now().Add(-r.lease)); err != nil {
		return fmt.Errorf("sweep instances: %w", err)
	}
	return nil
}

// run renews every third of the lease until ctx is done.
func (r *feedRegistry) run(ctx context.Context) {
	tick := time.NewTicker(r.lease / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := r.renew(ctx); err != nil && ctx.Err() == nil {
			r.logger.WarnContext(ctx, "live feed lease", slog.Any("error", err))
		}
	}
}

// stop forgets this instance and its feeds.
func (r *feedRegistry) stop(ctx context.Context) error {
	return r.store.DropInstance(ctx, r.instance)
}
