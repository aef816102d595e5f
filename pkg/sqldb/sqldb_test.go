package sqldb_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// migrations is written once, in SQL both dialects accept, as services do.
// 0002 would insert a second row if it ever ran twice, instead of failing.
var migrations = fstest.MapFS{
	"0001_init.sql": {Data: []byte(`-- +goose Up
CREATE TABLE children (
    id      TEXT PRIMARY KEY,
    name    TEXT NOT NULL UNIQUE,
    nick    TEXT,
    born_us BIGINT NOT NULL DEFAULT 0,
    active  BOOLEAN NOT NULL DEFAULT TRUE
);
CREATE TABLE guardianships (
    child_id TEXT NOT NULL REFERENCES children (id),
    user_id  TEXT NOT NULL,
    PRIMARY KEY (child_id, user_id)
);

-- +goose Down
DROP TABLE guardianships;
DROP TABLE children;
`)},
	"0002_runs.sql": {Data: []byte(`-- +goose Up
CREATE TABLE IF NOT EXISTS migration_runs (note TEXT NOT NULL);
INSERT INTO migration_runs (note) VALUES ('0002');

-- +goose Down
DROP TABLE migration_runs;
`)},
}

// quiet drops the "applied migration" lines tests would otherwise print.
var quiet = slog.New(slog.DiscardHandler)

// backend is one database the contract runs on.
type backend struct {
	name    string
	dialect sqldb.Dialect
	system  string // db.system.name
	// dsn returns a fresh, empty database for t.
	dsn func(t *testing.T) string
}

var backends = []backend{
	{
		name:    "sqlite",
		dialect: sqldb.DialectSQLite,
		system:  "sqlite",
		// The missing "data" folder checks that Open creates it.
		dsn: func(t *testing.T) string { return "sqlite:" + filepath.Join(t.TempDir(), "data", "kb.db") },
	},
	{
		name:    "postgres",
		dialect: sqldb.DialectPostgres,
		system:  "postgresql",
		dsn:     func(t *testing.T) string { return testenv.Postgres(t) },
	},
}

// TestContract runs the same behaviour on every dialect: a store written
// against sqldb must not be able to tell them apart.
func TestContract(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, b backend)
	}{
		{"Placeholders", testPlaceholders},
		{"InTx", testInTx},
		{"ConcurrentWriters", testConcurrentWriters},
		{"IsUniqueViolation", testIsUniqueViolation},
		{"MigrationsAppliedOnce", testMigrationsAppliedOnce},
		{"ConcurrentOpen", testConcurrentOpen},
		{"Spans", testSpans},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, b) })
			}
		})
	}
}

func open(t *testing.T, dsn string, opts sqldb.Options) *sqldb.DB {
	t.Helper()
	if opts.Migrations == nil {
		opts.Migrations = migrations
	}
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	db, err := sqldb.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", sqldb.RedactDSN(dsn), err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

func insertChild(ctx context.Context, db interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id, name string, nick any, bornUS int64, active bool) error {
	_, err := db.ExecContext(ctx,
		`INSERT INTO children (id, name, nick, born_us, active) VALUES ($1, $2, $3, $4, $5)`,
		id, name, nick, bornUS, active)
	return err
}

func countChildren(t *testing.T, db *sqldb.DB) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRowContext(t.Context(), `SELECT count(*) FROM children`).Scan(&n); err != nil {
		t.Fatalf("count children: %v", err)
	}
	return n
}

func testPlaceholders(t *testing.T, b backend) {
	ctx := t.Context()
	db := open(t, b.dsn(t), sqldb.Options{})
	if got := db.Dialect(); got != b.dialect {
		t.Fatalf("Dialect() = %v, want %v", got, b.dialect)
	}
	if err := insertChild(ctx, db, "a", "Ada", "b", 100, true); err != nil {
		t.Fatal(err)
	}
	if err := insertChild(ctx, db, "b", "Bo", nil, 200, false); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		query string
		args  []any
		want  int64
	}{
		{"in order", `SELECT born_us FROM children WHERE id = $1 AND name = $2`, []any{"a", "Ada"}, 100},
		// $N is bound by its number, not by where it appears.
		{"out of order", `SELECT born_us FROM children WHERE name = $2 AND id = $1`, []any{"a", "Ada"}, 100},
		{"repeated", `SELECT count(*) FROM children WHERE id = $1 OR nick = $1`, []any{"b"}, 2},
		// $10 must not be read as $1 followed by a 0.
		{"ten", `SELECT count(*) FROM children WHERE id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9) OR name = $10`,
			[]any{"z1", "z2", "z3", "z4", "z5", "z6", "z7", "z8", "z9", "Bo"}, 1},
		{"bool and null", `SELECT count(*) FROM children WHERE active = $1 AND nick IS NULL`, []any{false}, 1},
		{"bigint", `SELECT count(*) FROM children WHERE born_us > $1`, []any{int64(150)}, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got int64
			if err := db.QueryRowContext(ctx, tc.query, tc.args...).Scan(&got); err != nil {
				t.Fatalf("%s: %v", tc.query, err)
			}
			if got != tc.want {
				t.Errorf("%s = %d, want %d", tc.query, got, tc.want)
			}
		})
	}

	t.Run("scan bool and null", func(t *testing.T) {
		rows, err := db.QueryContext(ctx, `SELECT id, nick, active FROM children ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id string
			var nick sql.NullString
			var active bool
			if err := rows.Scan(&id, &nick, &active); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%s/%v/%v", id, nick, active))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := []string{"a/{b true}/true", "b/{ false}/false"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("rows = %v, want %v", got, want)
		}
	})
}

func testInTx(t *testing.T, b backend) {
	errBoom := errors.New("boom")
	tests := []struct {
		name      string
		fn        func(tx *sqldb.Tx) error
		wantErr   error
		wantPanic bool
		wantRows  int64
	}{
		{name: "commit on nil", fn: func(*sqldb.Tx) error { return nil }, wantRows: 1},
		{name: "rollback on error", fn: func(*sqldb.Tx) error { return fmt.Errorf("store: %w", errBoom) }, wantErr: errBoom},
		{name: "rollback on panic", fn: func(*sqldb.Tx) error { panic(errBoom) }, wantPanic: true},
	}
	db := open(t, b.dsn(t), sqldb.Options{})
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			if _, err := db.ExecContext(ctx, `DELETE FROM children`); err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprint("c", i)
			var err error
			panicked := func() (panicked bool) {
				defer func() { panicked = recover() != nil }()
				err = db.InTx(ctx, func(tx *sqldb.Tx) error {
					if tx.Dialect() != b.dialect {
						t.Errorf("Tx.Dialect() = %v, want %v", tx.Dialect(), b.dialect)
					}
					if err := insertChild(ctx, tx, id, "name-"+id, nil, 0, true); err != nil {
						return err
					}
					// The transaction reads its own write.
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM children WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
						t.Errorf("read own write: n=%d err=%v", n, err)
					}
					return tc.fn(tx)
				})
				return false
			}()
			if panicked != tc.wantPanic {
				t.Fatalf("panicked = %v, want %v", panicked, tc.wantPanic)
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Fatalf("InTx error = %v, want %v", err, tc.wantErr)
			}
			if got := countChildren(t, db); got != tc.wantRows {
				t.Errorf("rows after InTx = %d, want %d", got, tc.wantRows)
			}
		})
	}
}

// testConcurrentWriters checks that read-then-write transactions queue
// rather than fail (SQLITE_BUSY on lock upgrade, without _txlock=immediate).
func testConcurrentWriters(t *testing.T, b backend) {
	const workers, perWorker = 4, 10
	ctx := t.Context()
	db := open(t, b.dsn(t), sqldb.Options{})
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				errs <- db.InTx(ctx, func(tx *sqldb.Tx) error {
					var n int64
					if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM children`).Scan(&n); err != nil {
						return err
					}
					id := fmt.Sprintf("w%d-%d", w, i)
					return insertChild(ctx, tx, id, id, nil, n, true)
				})
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("InTx: %v", err)
		}
	}
	if got := countChildren(t, db); got != workers*perWorker {
		t.Errorf("rows = %d, want %d", got, workers*perWorker)
	}
}

func testIsUniqueViolation(t *testing.T, b backend) {
	ctx := t.Context()
	db := open(t, b.dsn(t), sqldb.Options{})
	if err := insertChild(ctx, db, "a", "Ada", nil, 0, true); err != nil {
		t.Fatal(err)
	}
	exec := func(query string, args ...any) error {
		_, err := db.ExecContext(ctx, query, args...)
		return err
	}
	dupPK := insertChild(ctx, db, "a", "Other", nil, 0, true)

	tests := []struct {
		name    string
		err     error
		wantErr bool
		want    bool
	}{
		{"duplicate primary key", dupPK, true, true},
		{"duplicate unique column", insertChild(ctx, db, "z", "Ada", nil, 0, true), true, true},
		{"duplicate composite key", func() error {
			if err := exec(`INSERT INTO guardianships (child_id, user_id) VALUES ($1, $2)`, "a", "u1"); err != nil {
				return err
			}
			return exec(`INSERT INTO guardianships (child_id, user_id) VALUES ($1, $2)`, "a", "u1")
		}(), true, true},
		{"wrapped", fmt.Errorf("store: create: %w", dupPK), true, true},
		{"not null", exec(`INSERT INTO children (id, name) VALUES ($1, NULL)`, "n"), true, false},
		// Also proves foreign keys are enforced on SQLite.
		{"foreign key", exec(`INSERT INTO guardianships (child_id, user_id) VALUES ($1, $2)`, "missing", "u1"), true, false},
		{"syntax", exec(`INSERT INTO nowhere VALUES ($1)`, 1), true, false},
		{"no rows", db.QueryRowContext(ctx, `SELECT id FROM children WHERE id = $1`, "none").Scan(new(string)), true, false},
		{"nil", nil, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if (tc.err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error: %v", tc.err, tc.wantErr)
			}
			if got := sqldb.IsUniqueViolation(tc.err); got != tc.want {
				t.Errorf("IsUniqueViolation(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

// appliedOnce checks that every migration ran exactly once.
func appliedOnce(t *testing.T, db *sqldb.DB, wantVersions int64) {
	t.Helper()
	ctx := t.Context()
	var runs, versions, distinct int64
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM migration_runs`).Scan(&runs); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx,
		`SELECT count(*), count(DISTINCT version_id) FROM goose_db_version WHERE version_id > 0`).Scan(&versions, &distinct); err != nil {
		t.Fatal(err)
	}
	if runs != 1 || versions != wantVersions || distinct != wantVersions {
		t.Errorf("migration_runs rows = %d, goose versions = %d (%d distinct); want 1, %d", runs, versions, distinct, wantVersions)
	}
}

func testMigrationsAppliedOnce(t *testing.T, b backend) {
	ctx := t.Context()
	dsn := b.dsn(t)
	db := open(t, dsn, sqldb.Options{})
	appliedOnce(t, db, 2)

	// A restart finds nothing to do, through Open and through Migrate.
	again := open(t, dsn, sqldb.Options{})
	if err := sqldb.Migrate(ctx, again, migrations); err != nil {
		t.Fatalf("Migrate again: %v", err)
	}
	appliedOnce(t, db, 2)

	// A new release brings one more migration: only it runs.
	next := fstest.MapFS{"0003_milestones.sql": {Data: []byte(`-- +goose Up
CREATE TABLE milestones (child_id TEXT NOT NULL REFERENCES children (id), title TEXT NOT NULL, at_us BIGINT NOT NULL);
-- +goose Down
DROP TABLE milestones;
`)}}
	for name, f := range migrations {
		next[name] = f
	}
	if err := sqldb.Migrate(ctx, db, next); err != nil {
		t.Fatalf("Migrate with 0003: %v", err)
	}
	appliedOnce(t, db, 3)
	if _, err := db.ExecContext(ctx, `SELECT count(*) FROM milestones`); err != nil {
		t.Errorf("0003 not applied: %v", err)
	}

	if err := sqldb.Migrate(ctx, db, nil); err != nil {
		t.Errorf("Migrate(nil) = %v, want nil", err)
	}
	if err := sqldb.Migrate(ctx, db, fstest.MapFS{}); err != nil {
		t.Errorf("Migrate(empty) = %v, want nil", err)
	}
}

// testConcurrentOpen starts several instances on one new database at once,
// as a scaled-out service does after a deploy.
func testConcurrentOpen(t *testing.T, b backend) {
	const instances = 4
	dsn := b.dsn(t)
	dbs := make([]*sqldb.DB, instances)
	errs := make([]error, instances)
	var wg sync.WaitGroup
	for i := range instances {
		wg.Go(func() {
			dbs[i], errs[i] = sqldb.Open(t.Context(), dsn, sqldb.Options{Migrations: migrations, Logger: quiet})
		})
	}
	wg.Wait()
	for i := range instances {
		if errs[i] != nil {
			t.Errorf("instance %d: Open: %v", i, errs[i])
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		t.FailNow()
	}
	appliedOnce(t, dbs[0], 2)
}

func testSpans(t *testing.T, b backend) {
	ctx := t.Context()
	exporter := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	db := open(t, b.dsn(t), sqldb.Options{TracerProvider: tp})
	exporter.Reset() // drop the migration's span

	// Outside any trace (a poller, a gauge read at scrape time) statements
	// and transactions make no spans: each would be a root of its own.
	if _, err := db.ExecContext(ctx, `SELECT 1`); err != nil {
		t.Fatal(err)
	}
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		_, err := tx.ExecContext(ctx, `SELECT 1`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if spans := exporter.GetSpans(); len(spans) != 0 {
		t.Fatalf("%d spans for statements outside any trace, want none: first %q", len(spans), spans[0].Name)
	}

	// Inside a request's trace, everything is.
	ctx, request := tp.Tracer("test").Start(ctx, "request")

	const secret = "Secret-Argument-Value"
	const insert = `INSERT INTO children (id, name, nick) VALUES ($1, $2, $3)`
	const selectByName = `SELECT id FROM children WHERE name = $1`
	const broken = `SELECT nothing FROM nowhere WHERE id = $1`

	if _, err := db.ExecContext(ctx, insert, "a", secret, secret); err != nil {
		t.Fatal(err)
	}
	var id string
	if err := db.QueryRowContext(ctx, selectByName, secret).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, selectByName, "nobody").Scan(&id); !errors.Is(err, sql.ErrNoRows) {
		t.Fatalf("want sql.ErrNoRows, got %v", err)
	}
	if _, err := db.QueryContext(ctx, broken, secret); err == nil {
		t.Fatal("query on a missing table succeeded")
	}
	if err := db.InTx(ctx, func(tx *sqldb.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE children SET nick = $1 WHERE id = $2`, secret, "a"); err != nil {
			return err
		}
		// A span the caller starts inside the transaction stays the parent
		// of the statements run under it.
		stepCtx, step := tp.Tracer("test").Start(ctx, "store.step")
		defer step.End()
		var n int64
		return tx.QueryRowContext(stepCtx, `SELECT count(*) FROM children`).Scan(&n)
	}); err != nil {
		t.Fatal(err)
	}
	request.End()

	spans := exporter.GetSpans()
	type want struct {
		name, query, op string
		err             bool
	}
	wants := []want{
		{"INSERT children", insert, "INSERT", false},
		{"SELECT children", selectByName, "SELECT", false},
		{"SELECT children", selectByName, "SELECT", false}, // no rows is no error
		{"SELECT nowhere", broken, "SELECT", true},
		{"UPDATE children", `UPDATE children SET nick = $1 WHERE id = $2`, "UPDATE", false},
		{"SELECT children", `SELECT count(*) FROM children`, "SELECT", false},
		{"store.step", "", "", false},
		{"sqldb.InTx", "", "", false},
		{"request", "", "", false},
	}
	if len(spans) != len(wants) {
		for _, s := range spans {
			t.Logf("span %q", s.Name)
		}
		t.Fatalf("got %d spans, want %d", len(spans), len(wants))
	}
	for i, w := range wants {
		s := spans[i]
		attrs := map[attribute.Key]string{}
		for _, kv := range s.Attributes {
			attrs[kv.Key] = kv.Value.Emit()
			if strings.Contains(kv.Value.Emit(), secret) {
				t.Errorf("span %q attribute %s carries an argument value", s.Name, kv.Key)
			}
		}
		for _, ev := range s.Events {
			for _, kv := range ev.Attributes {
				if strings.Contains(kv.Value.Emit(), secret) {
					t.Errorf("span %q event %s carries an argument value", s.Name, ev.Name)
				}
			}
		}
		if s.Name != w.name {
			t.Errorf("span %d name = %q, want %q", i, s.Name, w.name)
		}
		if s.Name != "store.step" && s.Name != "request" && s.InstrumentationScope.Name != sqldb.TracerName {
			t.Errorf("span %q scope = %q", s.Name, s.InstrumentationScope.Name)
		}
		if gotErr := s.Status.Code == codes.Error; gotErr != w.err {
			t.Errorf("span %q status = %v, want error: %v", s.Name, s.Status, w.err)
		}
		if w.err && (len(s.Events) == 0 || s.Events[0].Name != "exception") {
			t.Errorf("span %q: error not recorded as an exception event", s.Name)
		}
		if w.query == "" {
			continue
		}
		if s.SpanKind != trace.SpanKindClient {
			t.Errorf("span %q kind = %v, want client", s.Name, s.SpanKind)
		}
		for key, value := range map[attribute.Key]string{
			"db.system.name":    b.system,
			"db.query.text":     w.query,
			"db.operation.name": w.op,
		} {
			if attrs[key] != value {
				t.Errorf("span %q %s = %q, want %q", s.Name, key, attrs[key], value)
			}
		}
	}
	// Statements in a transaction are children of its span, unless the
	// caller started one of its own in between.
	update, count, step, txSpan := spans[4], spans[5], spans[6], spans[7]
	if update.Parent.SpanID() != txSpan.SpanContext.SpanID() {
		t.Errorf("UPDATE span is not a child of the sqldb.InTx span")
	}
	if count.Parent.SpanID() != step.SpanContext.SpanID() {
		t.Errorf("SELECT span is not a child of the caller's span")
	}

}

func TestSQLiteSettings(t *testing.T) {
	db := open(t, filepath.Join(t.TempDir(), "kb.db"), sqldb.Options{})
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"busy_timeout", "10000"},
		{"foreign_keys", "1"},
		{"synchronous", "1"}, // NORMAL
	}
	// Every pooled connection must carry the settings, not only the first.
	conns := make([]*sql.Conn, 3)
	for i := range conns {
		c, err := db.SQL().Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	for i, c := range conns {
		for _, tc := range tests {
			var got string
			if err := c.QueryRowContext(t.Context(), "PRAGMA "+tc.pragma).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("conn %d: PRAGMA %s = %q, want %q", i, tc.pragma, got, tc.want)
			}
		}
	}
}

// TestSQLiteConcurrentFirstOpen starts instances together on a new file
// with no migrations at all: the switch to WAL alone used to fail some of
// them with SQLITE_BUSY.
func TestSQLiteConcurrentFirstOpen(t *testing.T) {
	const rounds, instances = 12, 8
	for round := range rounds {
		dsn := filepath.Join(t.TempDir(), fmt.Sprint(round, ".db"))
		errs := make(chan error, instances)
		var wg sync.WaitGroup
		for i := range instances {
			wg.Go(func() {
				db, err := sqldb.Open(t.Context(), dsn, sqldb.Options{Logger: quiet})
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				if _, err := db.ExecContext(t.Context(), `CREATE TABLE IF NOT EXISTS t (x BIGINT)`); err != nil {
					errs <- err
					return
				}
				_, err = db.ExecContext(t.Context(), `INSERT INTO t (x) VALUES ($1)`, i)
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}
}

func TestSQLiteDSNForms(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		dsn  string
		file string // the file that must exist after Open
	}{
		{"bare path", filepath.Join(dir, "a", "bare.db"), filepath.Join(dir, "a", "bare.db")},
		{"sqlite:", "sqlite:" + filepath.Join(dir, "b", "s.db"), filepath.Join(dir, "b", "s.db")},
		{"sqlite:///", "sqlite://" + filepath.Join(dir, "c", "s.db"), filepath.Join(dir, "c", "s.db")},
		{"file:", "file:" + filepath.Join(dir, "d", "f.db"), filepath.Join(dir, "d", "f.db")},
		{"file: with options", "file:" + filepath.Join(dir, "e", "f.db") + "?_pragma=busy_timeout(2000)", filepath.Join(dir, "e", "f.db")},
		{"awkward name", filepath.Join(dir, "f", "50% #1.db"), filepath.Join(dir, "f", "50% #1.db")},
		{"memory", ":memory:", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, tc.dsn, sqldb.Options{})
			if db.Dialect() != sqldb.DialectSQLite {
				t.Errorf("Dialect() = %v", db.Dialect())
			}
			// Usable end to end, transaction included.
			if err := db.InTx(t.Context(), func(tx *sqldb.Tx) error {
				return insertChild(t.Context(), tx, "a", "Ada", nil, 0, true)
			}); err != nil {
				t.Fatal(err)
			}
			if n := countChildren(t, db); n != 1 {
				t.Errorf("rows = %d", n)
			}
			if tc.file != "" {
				if _, err := os.Stat(tc.file); err != nil {
					t.Errorf("database file: %v", err)
				}
			}
		})
	}

	t.Run("DSN setting wins", func(t *testing.T) {
		db := open(t, "file:"+filepath.Join(dir, "g.db")+"?_pragma=busy_timeout(2000)", sqldb.Options{})
		var got int
		if err := db.QueryRowContext(t.Context(), "PRAGMA busy_timeout").Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != 2000 {
			t.Errorf("busy_timeout = %d, want 2000", got)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name string
		dsn  string
	}{
		{"empty", ""},
		{"unknown scheme", "mysql://root:pw@localhost/db"},
		{"postgres closed port", "postgres://u:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"},
		{"sqlite under a file", filepath.Join(os.Args[0], "x.db")}, // os.Args[0] is a file
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			db, err := sqldb.Open(ctx, tc.dsn, sqldb.Options{})
			if err == nil {
				db.Close()
				t.Fatalf("Open(%q) succeeded", tc.dsn)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestMigrateBadSQL(t *testing.T) {
	bad := fstest.MapFS{"0001_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLE (;\n")}}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db, err := sqldb.Open(t.Context(), b.dsn(t), sqldb.Options{Migrations: bad, Logger: quiet})
			if err == nil {
				db.Close()
				t.Fatal("Open with a broken migration succeeded")
			}
		})
	}
}

func TestDialectString(t *testing.T) {
	for d, want := range map[sqldb.Dialect]string{
		sqldb.DialectSQLite:   "sqlite",
		sqldb.DialectPostgres: "postgres",
		sqldb.Dialect(0):      "Dialect(0)",
	} {
		if got := d.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestRedactDSN(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://kb:hunter2@db:5432/progress?sslmode=disable", "postgres://kb:xxxxx@db:5432/progress?sslmode=disable"},
		{"postgresql://kb@db/progress", "postgresql://kb@db/progress"},
		{"postgres://kb@db/progress?password=hunter2", "postgres://kb@db/progress?password=xxxxx"},
		{"postgres://kb:hun%25ter@db/p", "postgres://kb:xxxxx@db/p"},
		{"postgres://kb:hunter2@db:bad-port/p", "postgres://kb:xxxxx@db:bad-port/p"},
		{"postgres://kb:p@ss/w#rd@db/p", "postgres://kb:xxxxx@db/p"},
		{"postgres://kb@db/p?sslmode=disable&PASSWORD=hunter2&x=1", "postgres://kb@db/p?sslmode=disable&PASSWORD=xxxxx&x=1"},
		{"host=db user=kb password=hunter2 dbname=p", "host=db user=kb password=xxxxx dbname=p"},
		{"host=db password='hunter 2' dbname=p", "host=db password=xxxxx dbname=p"},
		{"sqlite:/var/lib/kinbridge/progress.db", "sqlite:/var/lib/kinbridge/progress.db"},
		{"/var/lib/kinbridge/progress.db", "/var/lib/kinbridge/progress.db"},
	}
	for _, tc := range tests {
		if got := sqldb.RedactDSN(tc.dsn); got != tc.want {
			t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}
