package notification

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/notification/store"
)

// TestFeedRegistryOutlivesALapsedLease: an instance whose lease ran out
// (its database was away) had its feeds swept by another instance; its
// next renewal puts the feeds that are still open back, so they count
// again, and leaves out the ones that ended.
func TestFeedRegistryOutlivesALapsedLease(t *testing.T) {
	ctx := context.Background()
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "n.db"), sqldb.Options{Migrations: store.Migrations()})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st := store.NewSQL(db)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := newFeedRegistry(st, 2, time.Minute, logger)
	if err := r.renew(ctx); err != nil {
		t.Fatal(err)
	}
	kept, err := r.admit(ctx, "maria")
	if err != nil {
		t.Fatal(err)
	}
	ended, err := r.admit(ctx, "maria")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.admit(ctx, "maria"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a third feed: %v", err)
	}

	// The lease runs out and another instance sweeps: nothing counts.
	if _, err := st.RenewInstance(ctx, r.instance, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if n, err := st.SweepInstances(ctx, time.Now()); err != nil || n != 2 {
		t.Fatalf("sweep: %d, %v", n, err)
	}
	r.release(ctx, ended)
	if open, err := st.OpenFeed(ctx, "probe", "other", "maria", 0); err != nil || open != 0 {
		t.Fatalf("after the sweep %d feeds count (%v), want 0", open, err)
	}
	if err := st.CloseFeed(ctx, "probe"); err != nil {
		t.Fatal(err)
	}

	// The renewal puts back the feed still open, not the one that ended.
	if err := r.renew(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.admit(ctx, "maria"); err != nil {
		t.Fatalf("one feed back, a second: %v", err)
	}
	if _, err := r.admit(ctx, "maria"); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("with %s restored, a third: %v", kept, err)
	}

	// Stopping forgets every feed of the instance.
	if err := r.stop(ctx); err != nil {
		t.Fatal(err)
	}
	if open, err := st.OpenFeed(ctx, "probe", "other", "maria", 0); err != nil || open != 0 {
		t.Fatalf("after stop %d feeds count (%v), want 0", open, err)
	}
}
