package sqldb

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

var stmtsSchema = fstest.MapFS{"0001_t.sql": {Data: []byte(`-- +goose Up
CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL);

-- +goose Down
DROP TABLE t;
`)}}

// TestSQLiteKeepsStatementsPrepared checks that a query runs prepared from its
// second use, in and out of transactions, with the same answers as unprepared,
// and that neither a :memory: database (one connection) nor a bad query gets
// stuck or loses its error.
func TestSQLiteKeepsStatementsPrepared(t *testing.T) {
	for _, dsn := range []string{":memory:", "sqlite:" + filepath.Join(t.TempDir(), "kb.db")} {
		t.Run(dsn, func(t *testing.T) {
			ctx := context.Background()
			db, err := Open(ctx, dsn, Options{Migrations: stmtsSchema, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()

			const ins = `INSERT INTO t (id, v) VALUES ($1, $2)`
			const sel = `SELECT v FROM t WHERE id = $1`
			for i := range 3 {
				err := db.InTx(ctx, func(tx *Tx) error {
					_, err := tx.ExecContext(ctx, ins, i, fmt.Sprint("v", i))
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if db.prepared.lookup(ins) == nil {
				t.Fatalf("%q ran in transactions but was not kept prepared after them", ins)
			}
			for i := range 3 {
				var v string
				if err := db.QueryRowContext(ctx, sel, i).Scan(&v); err != nil || v != fmt.Sprint("v", i) {
					t.Fatalf("row %d: %q, %v", i, v, err)
				}
			}
			// The kept statement, used inside a transaction, sees the
			// transaction's own writes.
			err = db.InTx(ctx, func(tx *Tx) error {
				if _, err := tx.ExecContext(ctx, ins, 10, "ten"); err != nil {
					return err
				}
				var v string
				if err := tx.QueryRowContext(ctx, sel, 10).Scan(&v); err != nil || v != "ten" {
					return fmt.Errorf("in tx: %q, %v", v, err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := db.prepared.len(); got != 2 {
				t.Fatalf("kept %d statements, want 2 (the insert and the select)", got)
			}
			// A duplicate key fails the same way prepared as unprepared.
			if _, err := db.ExecContext(ctx, ins, 10, "again"); !IsUniqueViolation(err) {
				t.Fatalf("duplicate insert: %v, want a unique violation", err)
			}
			// A bad query is not kept and still reports its error.
			if _, err := db.ExecContext(ctx, `INSERT INTO nowhere VALUES ($1)`, 1); err == nil || !strings.Contains(err.Error(), "nowhere") {
				t.Fatalf("bad query: %v", err)
			}
			if got := db.prepared.len(); got != 2 {
				t.Fatalf("kept %d statements after a bad query, want 2", got)
			}
		})
	}
}

// TestStatementsBounded checks that queries beyond the bound run unprepared.
func TestStatementsBounded(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, ":memory:", Options{Migrations: stmtsSchema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range maxStmts + 10 {
		var n int
		if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT %d", i)).Scan(&n); err != nil || n != i {
			t.Fatalf("query %d: %d, %v", i, n, err)
		}
	}
	if got := db.prepared.len(); got != maxStmts {
		t.Fatalf("kept %d statements, want the bound %d", got, maxStmts)
	}
}
