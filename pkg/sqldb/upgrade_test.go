package sqldb_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kinbridge/kinbridge/pkg/sqldb"
)

// TestOlderBuildOnNewerSchema is what the upgrade rule of
// docs/operations.md ("Upgrades") rests on, on every dialect: a build
// whose migrations stop at 0001 opens a database a newer build migrated to
// 0002 (goose applies nothing and ignores the versions it does not know),
// and its writes still work when 0002 only added; but a build with a
// migration numbered below the database's newest that the database lacks
// refuses to start, so a new migration must be numbered above every
// released one.
func TestOlderBuildOnNewerSchema(t *testing.T) {
	v1 := fstest.MapFS{"0001_init.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);\n")}}
	v2 := fstest.MapFS{
		"0001_init.sql": v1["0001_init.sql"],
		"0002_tags.sql": {Data: []byte("-- +goose Up\nALTER TABLE notes ADD COLUMN tag TEXT NOT NULL DEFAULT '';\n")},
	}
	gap := fstest.MapFS{
		"0001_init.sql":   v1["0001_init.sql"],
		"0002_tags.sql":   v2["0002_tags.sql"],
		"0003_later.sql":  {Data: []byte("-- +goose Up\nCREATE TABLE later (id TEXT);\n")},
		"0004_beside.sql": {Data: []byte("-- +goose Up\nCREATE TABLE beside (id TEXT);\n")},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dsn := b.dsn(t)
			open(t, dsn, sqldb.Options{Migrations: v2})
			older := open(t, dsn, sqldb.Options{Migrations: v1})
			if _, err := older.ExecContext(t.Context(), "INSERT INTO notes (id, body) VALUES ($1, $2)", "n1", "from the older build"); err != nil {
				t.Fatalf("the older build's insert on the newer schema: %v", err)
			}
			// A database at 0004 that lacks 0003, as one migrated by a build
			// whose new migration took a number below a released one.
			open(t, dsn, sqldb.Options{Migrations: fstest.MapFS{
				"0001_init.sql": v1["0001_init.sql"], "0002_tags.sql": v2["0002_tags.sql"], "0004_beside.sql": gap["0004_beside.sql"],
			}})
			db, err := sqldb.Open(t.Context(), dsn, sqldb.Options{Migrations: gap, Logger: quiet})
			if err == nil {
				db.Close()
				t.Fatal("a build with an unapplied migration below the database's newest started")
			}
			if !strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "3") {
				t.Fatalf("the refusal does not name the missing migration 3: %v", err)
			}
		})
	}
}
