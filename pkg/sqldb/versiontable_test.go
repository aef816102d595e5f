package sqldb_test

import (
	"sync"
	"testing"
	"testing/fstest"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// extraMigrations is a second set, as a shared package ships it: its
// version 1 and 2 must not be mistaken for the service's own 1 and 2.
// Its 0002 would insert a second row if it ever ran twice.
var extraMigrations = fstest.MapFS{
	"0001_extra.sql": {Data: []byte(`-- +goose Up
CREATE TABLE extra_items (id TEXT PRIMARY KEY);

-- +goose Down
DROP TABLE extra_items;
`)},
	"0002_extra_runs.sql": {Data: []byte(`-- +goose Up
CREATE TABLE IF NOT EXISTS extra_runs (note TEXT NOT NULL);
INSERT INTO extra_runs (note) VALUES ('0002');

-- +goose Down
DROP TABLE extra_runs;
`)},
}

const extraTable = "extra_db_version"

// TestWithVersionTable applies a second, independent set of migrations
// beside the service's own, from several instances at once, on every
// dialect.
func TestWithVersionTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			dsn := b.dsn(t)
			// The service's own set, applied by Open into goose_db_version.
			db := open(t, dsn, sqldb.Options{})

			const instances = 4
			var wg sync.WaitGroup
			errs := make([]error, instances)
			for i := range instances {
				wg.Go(func() {
					other, err := sqldb.Open(ctx, dsn, sqldb.Options{Logger: quiet})
					if err != nil {
						errs[i] = err
						return
					}
					defer other.Close()
					errs[i] = sqldb.Migrate(ctx, other, extraMigrations, sqldb.WithVersionTable(extraTable))
				})
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Fatalf("instance %d: Migrate with %s: %v", i, extraTable, err)
				}
			}

			// A restart finds nothing to do in either set.
			if err := sqldb.Migrate(ctx, db, extraMigrations, sqldb.WithVersionTable(extraTable)); err != nil {
				t.Fatalf("Migrate again: %v", err)
			}
			if err := sqldb.Migrate(ctx, db, migrations); err != nil {
				t.Fatalf("Migrate the service's set again: %v", err)
			}

			var runs, versions, distinct int64
			if err := db.QueryRowContext(ctx, `SELECT count(*) FROM extra_runs`).Scan(&runs); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(ctx,
				`SELECT count(*), count(DISTINCT version_id) FROM extra_db_version WHERE version_id > 0`).Scan(&versions, &distinct); err != nil {
				t.Fatal(err)
			}
			if runs != 1 || versions != 2 || distinct != 2 {
				t.Errorf("extra_runs rows = %d, extra versions = %d (%d distinct); want 1, 2, 2", runs, versions, distinct)
			}
			// The service's own history is untouched: still exactly its two.
			appliedOnce(t, db, 2)
			if _, err := db.ExecContext(ctx, `INSERT INTO extra_items (id) VALUES ($1)`, "x"); err != nil {
				t.Errorf("extra schema not applied: %v", err)
			}
		})
	}
}

func TestWithVersionTableRejectsBadNames(t *testing.T) {
	db := open(t, ":memory:", sqldb.Options{})
	for _, name := range []string{"Outbox_Version", "outbox version", "x; DROP TABLE children", "1abc", "public.outbox"} {
		if err := sqldb.Migrate(t.Context(), db, extraMigrations, sqldb.WithVersionTable(name)); err == nil {
			t.Errorf("Migrate with version table %q succeeded", name)
		}
	}
}
