package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
)

// Migrate applies the goose SQL migrations in migrations that db has not
// applied yet, in version order. A nil or empty migrations does nothing.
//
// Several processes may migrate the same database at once (instances of a
// service starting together): on PostgreSQL they queue on a session advisory
// lock, on SQLite on an exclusive flock of the sibling file
// <dbfile>.migrate.lock (which [Open] also holds while it sets up its first
// connection), so each migration runs exactly once. The lock file is left in
// place: deleting it would let a late comer lock a different file.
//
// Migrations are meant to be written once, in SQL both dialects accept
// (TEXT, BIGINT, BOOLEAN, timestamps as BIGINT unix microseconds).
//
// Applied versions are recorded in goose's default table, goose_db_version,
// unless [WithVersionTable] names another: that is how a shared package
// (the outbox) keeps a schema of its own, numbered independently, in the
// database of every service that uses it.
func Migrate(ctx context.Context, db *DB, migrations fs.FS, opts ...MigrateOption) error {
	if db == nil {
		return errNilDB
	}
	var cfg migrateConfig
	for _, opt := range opts {
		opt(&cfg)
	}
	if cfg.table != "" && !versionTableName.MatchString(cfg.table) {
		return fmt.Errorf("sqldb: migrate: version table %q: want a lower-case SQL identifier ([a-z_][a-z0-9_]*)", cfg.table)
	}
	if migrations == nil {
		return nil
	}
	if db.lockPath != "" {
		unlock, err := lockFile(ctx, db.lockPath)
		if err != nil {
			return fmt.Errorf("sqldb: migrate: lock %s: %w", db.lockPath, err)
		}
		defer unlock()
	}
	return db.migrate(ctx, migrations, cfg.table)
}

// MigrateOption tunes [Migrate].
type MigrateOption func(*migrateConfig)

type migrateConfig struct {
	// table is the goose version table; empty means goose's default.
	table string
}

// versionTableName is what a version table may be called. goose pastes the
// name into its SQL unquoted and, on PostgreSQL, looks it up in pg_tables
// as written, so an upper-case letter would make it miss the table it
// created (folded to lower case) and try to create it again on every start.
var versionTableName = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// WithVersionTable makes [Migrate] record applied versions in table instead
// of goose_db_version, so that a second, independent set of migrations can
// live in the same database with version numbers of its own.
//
// Every set still migrates under the same lock (one PostgreSQL advisory lock
// id, one SQLite lock file per database): schema changes to one database
// then never interleave, whichever set they come from, and nothing is lost
// by the queueing since each Migrate takes the lock alone and briefly. A
// lock id per table would have to be derived from the name, with no gain
// and a chance of meeting some other advisory lock of the application.
func WithVersionTable(table string) MigrateOption {
	return func(c *migrateConfig) { c.table = table }
}

// migrate applies migrations, recording them in the version table named
// table (goose's default when empty); on SQLite the caller holds the lock
// file.
func (db *DB) migrate(ctx context.Context, migrations fs.FS, table string) (err error) {
	if migrations == nil {
		return nil
	}
	ctx, span := db.tracer.Start(ctx, "sqldb.Migrate")
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	opts := []goose.ProviderOption{
		// Only the SQL files given count, never Go migrations some imported
		// package registered globally.
		goose.WithDisableGlobalRegistry(true),
	}
	if table != "" {
		opts = append(opts, goose.WithTableName(table))
		span.SetAttributes(attribute.String("sqldb.migrations.table", table))
	}
	var dialect goose.Dialect
	switch db.dialect {
	case DialectPostgres:
		dialect = goose.DialectPostgres
		// Retry every second rather than goose's default five: instances
		// starting together wait for the first one, whose migrations are
		// usually done in well under a second. Five minutes in all.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300), lock.WithUnlockTimeout(1, 60))
		if err != nil {
			return fmt.Errorf("sqldb: migrate: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		dialect = goose.DialectSQLite3
	default:
		return fmt.Errorf("sqldb: migrate: unsupported dialect %v", db.dialect)
	}

	provider, err := goose.NewProvider(dialect, db.db, migrations, opts...)
	if errors.Is(err, goose.ErrNoMigrations) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqldb: migrate: %w", err)
	}
	// provider.Close would close db's pool, which the caller still owns.
	results, err := provider.Up(ctx)
	for _, r := range results {
		if r.Error == nil {
			db.logger.InfoContext(ctx, "applied migration",
				"dialect", db.dialect.String(), "version", r.Source.Version,
				"file", r.Source.Path, "duration", r.Duration)
		}
	}
	span.SetAttributes(attribute.Int("sqldb.migrations.applied", len(results)))
	if err != nil {
		return fmt.Errorf("sqldb: migrate: %w", err)
	}
	return nil
}
