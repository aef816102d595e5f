package sqldb

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

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
func Migrate(ctx context.Context, db *DB, migrations fs.FS) error {
	if db == nil {
		return errNilDB
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
	return db.migrate(ctx, migrations)
}

// migrate applies migrations; on SQLite the caller holds the lock file.
func (db *DB) migrate(ctx context.Context, migrations fs.FS) (err error) {
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
