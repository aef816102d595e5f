// Package sqldb is the SQL access every Kinbridge service shares.
//
// One store implementation per service runs unchanged on SQLite (the embedded
// default, pure Go driver modernc.org/sqlite) and on PostgreSQL (pgx). This
// package hides what differs between the two: how a DSN is opened and tuned,
// how migrations are applied safely by several instances at once, and how
// constraint errors are recognised. Queries are written once with $1, $2
// placeholders; both drivers bind them by number (see [DB.QueryContext]).
//
// Every statement gets an OpenTelemetry client span carrying the
// parameterised query text, never the argument values.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" database/sql driver
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// TracerName is the instrumentation scope of the spans this package creates.
const TracerName = "github.com/kinbridge/kinbridge/pkg/sqldb"

// Dialect is the SQL database family behind a [DB].
type Dialect int

const (
	// DialectSQLite is an embedded SQLite file (modernc.org/sqlite).
	DialectSQLite Dialect = iota + 1
	// DialectPostgres is a PostgreSQL server reached through pgx.
	DialectPostgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case DialectSQLite:
		return "sqlite"
	case DialectPostgres:
		return "postgres"
	default:
		return fmt.Sprintf("Dialect(%d)", int(d))
	}
}

// Options tunes [Open]. The zero value is ready to use.
type Options struct {
	// Migrations is a folder of goose SQL migrations (files such as
	// 0001_init.sql at its root), applied by Open. Nil applies none.
	Migrations fs.FS
	// TracerProvider creates the query spans. Nil uses the otel global.
	TracerProvider trace.TracerProvider
	// MaxOpenConns caps the connection pool. Zero picks a default that suits
	// the dialect.
	MaxOpenConns int
	// Logger receives one line per migration applied. Nil uses slog.Default.
	Logger *slog.Logger
}

// DB is a connection pool bound to one database, with tracing on every
// statement. It is safe for concurrent use.
type DB struct {
	db      *sql.DB
	dialect Dialect
	tracer  trace.Tracer
	// attrs are the span attributes that are the same for every statement.
	attrs []attribute.KeyValue
	// system is db.system.name, the span name of last resort.
	system string
	// lockPath is the file flocked while migrating SQLite; empty when the
	// database lives in memory and no other process can reach it.
	lockPath string
	logger   *slog.Logger
	// prepared keeps SQLite statements prepared; nil on PostgreSQL.
	prepared *stmts
}

// Open opens the database named by dsn, checks that it answers, and applies
// opts.Migrations.
//
// A dsn starting with postgres:// or postgresql:// opens PostgreSQL. Anything
// else is SQLite: sqlite:PATH, file:PATH (an SQLite URI) or a bare PATH, whose
// parent directory is created if missing. SQLite connections run in WAL mode
// with a 10s busy timeout, foreign keys on, synchronous=NORMAL and
// BEGIN IMMEDIATE transactions, so concurrent writers wait for each other
// instead of failing with SQLITE_BUSY; settings already present in the DSN
// win. ":memory:" gives a private in-memory database on a single connection,
// meant for tests.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	target, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", RedactDSN(dsn), err)
	}

	tp := opts.TracerProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	db := &DB{
		dialect: target.dialect,
		tracer: tp.Tracer(TracerName,
			trace.WithSchemaURL(semconv.SchemaURL)),
		logger: opts.Logger,
	}
	if db.logger == nil {
		db.logger = slog.Default()
	}

	maxOpen := opts.MaxOpenConns
	switch target.dialect {
	case DialectSQLite:
		db.system = semconv.DBSystemNameSQLite.Value.AsString()
		db.attrs = []attribute.KeyValue{semconv.DBSystemNameSQLite}
		if target.memory {
			// Every connection to :memory: is a database of its own, so the
			// pool must never hold more than one, nor let it go idle away.
			maxOpen = 1
		} else {
			db.lockPath = target.path + ".migrate.lock"
			if err := os.MkdirAll(filepath.Dir(target.path), 0o750); err != nil {
				return nil, fmt.Errorf("sqldb: open %s: %w", RedactDSN(dsn), err)
			}
		}
		db.prepared = &stmts{}
		if maxOpen <= 0 {
			// WAL lets readers run beside the one writer, which is all the
			// parallelism an embedded database offers.
			maxOpen = max(4, runtime.NumCPU())
		}
	case DialectPostgres:
		db.system = semconv.DBSystemNamePostgreSQL.Value.AsString()
		db.attrs = postgresAttrs(target.driverDSN)
		if maxOpen <= 0 {
			maxOpen = 10
		}
	}

	db.db, err = sql.Open(target.driverName, target.driverDSN)
	if err != nil {
		return nil, fmt.Errorf("sqldb: open %s: %w", RedactDSN(dsn), err)
	}
	db.db.SetMaxOpenConns(maxOpen)
	// database/sql keeps only 2 idle connections by default, which makes a
	// busy service reconnect (and, for SQLite, re-run its pragmas) constantly.
	db.db.SetMaxIdleConns(maxOpen)
	if target.dialect == DialectPostgres {
		// Lets the pool shrink after a burst and follow server failovers.
		db.db.SetConnMaxIdleTime(5 * time.Minute)
		db.db.SetConnMaxLifetime(30 * time.Minute)
	}

	if err := db.start(ctx, opts.Migrations); err != nil {
		db.db.Close()
		return nil, fmt.Errorf("sqldb: open %s: %w", RedactDSN(dsn), err)
	}
	return db, nil
}

// start checks the database answers and migrates it. On SQLite both happen
// under the migration lock: the first connection switches a new file to WAL,
// which needs an exclusive lock that SQLite refuses at once (SQLITE_BUSY,
// busy_timeout or not) while another instance is opening or migrating it.
func (db *DB) start(ctx context.Context, migrations fs.FS) error {
	if db.lockPath != "" {
		unlock, err := lockFile(ctx, db.lockPath)
		if err != nil {
			return fmt.Errorf("lock %s: %w", db.lockPath, err)
		}
		defer unlock()
	}
	if err := db.db.PingContext(ctx); err != nil {
		return err
	}
	return db.migrate(ctx, migrations, "")
}

// postgresAttrs returns the server attributes of a Postgres DSN. A DSN pgx
// cannot parse yields none here; sql.Open and Ping report the error.
func postgresAttrs(dsn string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.DBSystemNamePostgreSQL}
	cfg, err := pgconn.ParseConfig(dsn)
	if err != nil {
		return attrs
	}
	if cfg.Database != "" {
		attrs = append(attrs, semconv.DBNamespace(cfg.Database))
	}
	if cfg.Host != "" {
		attrs = append(attrs, semconv.ServerAddress(cfg.Host))
		if cfg.Port != 0 {
			attrs = append(attrs, semconv.ServerPort(int(cfg.Port)))
		}
	}
	return attrs
}

// Dialect reports which database family db talks to.
func (db *DB) Dialect() Dialect { return db.dialect }

// SQL returns the underlying pool, for code that needs database/sql itself
// (goose, a driver-specific feature). Statements run on it are not traced.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the pool, waiting for queries already started to finish.
func (db *DB) Close() error {
	if db.prepared != nil {
		db.prepared.close()
	}
	return db.db.Close()
}

// Ping makes one round trip to the database (not traced: health checks
// call it every few seconds).
func (db *DB) Ping(ctx context.Context) error {
	var one int
	return db.db.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// stmt returns query's kept prepared statement, or nil to run it unprepared.
func (db *DB) stmt(ctx context.Context, query string) *sql.Stmt {
	if db.prepared == nil {
		return nil
	}
	return db.prepared.get(ctx, db.db, query)
}

// ExecContext runs a statement that returns no rows.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx, span := db.startSpan(ctx, query)
	var res sql.Result
	var err error
	if st := db.stmt(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = db.db.ExecContext(ctx, query, args...)
	}
	db.endSpan(span, err)
	return res, err
}

// QueryContext runs a query that returns rows.
//
// Placeholders are $1, $2, ... on both dialects: PostgreSQL binds them
// natively, and modernc.org/sqlite matches a parameter named $N to the N-th
// argument, so they may repeat or appear out of order. The span covers the
// statement's execution up to its first row, not the caller's iteration.
func (db *DB) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx, span := db.startSpan(ctx, query)
	var rows *sql.Rows
	var err error
	if st := db.stmt(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = db.db.QueryContext(ctx, query, args...)
	}
	db.endSpan(span, err)
	return rows, err
}

// QueryRowContext runs a query expected to return at most one row. Its
// error, if any, is reported by Scan on the returned row; sql.ErrNoRows is not
// recorded on the span as a failure.
func (db *DB) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx, span := db.startSpan(ctx, query)
	var row *sql.Row
	if st := db.stmt(ctx, query); st != nil {
		row = st.QueryRowContext(ctx, args...)
	} else {
		row = db.db.QueryRowContext(ctx, query, args...)
	}
	db.endSpan(span, row.Err())
	return row
}

// errNilDB keeps a nil *DB from panicking deep inside Migrate.
var errNilDB = errors.New("sqldb: nil DB")
