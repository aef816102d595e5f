package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL databases are copied with pg_dump in its custom format and
// restored with pg_restore, both found on PATH (Debian:
// postgresql-client). pg_dump refuses a server newer than itself, so
// backup checks that first and says what to install.

// pgTool finds pg_dump or pg_restore and returns its major version.
func pgTool(name string) (string, int, error) {
	path, err := exec.LookPath(name)
	if err != nil {
		return "", 0, fmt.Errorf("%s is not on PATH; it is needed for PostgreSQL databases (Debian: apt-get install postgresql-client)", name)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil {
		return "", 0, fmt.Errorf("%s --version: %w", path, err)
	}
	m := regexp.MustCompile(`\(PostgreSQL\) (\d+)`).FindSubmatch(out)
	if m == nil {
		return "", 0, fmt.Errorf("%s --version printed %q, not a PostgreSQL version", path, bytes.TrimSpace(out))
	}
	major, _ := strconv.Atoi(string(m[1]))
	return path, major, nil
}

// serverMajor returns the major version of the server conn is on.
func serverMajor(ctx context.Context, conn *pgx.Conn) (int, error) {
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return 0, err
	}
	return num / 10000, nil
}

// pgDump dumps the database of dsn into dest. It exports a snapshot from a
// read-only repeatable-read transaction and has pg_dump use it
// (--snapshot), so that with blobs, the blobs it lists from the same
// transaction are exactly those the dump references.
func pgDump(ctx context.Context, dsn, dest string, blobs bool) ([]string, error) {
	tool, toolMajor, err := pgTool("pg_dump")
	if err != nil {
		return nil, err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	major, err := serverMajor(ctx, conn)
	if err != nil {
		return nil, err
	}
	if toolMajor < major {
		return nil, fmt.Errorf("%s is version %d and cannot dump a PostgreSQL %d server; put pg_dump %d or later first on PATH (Debian: postgresql-client-%d)",
			tool, toolMajor, major, major, major)
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(ctx)
	var snapshot string
	if err := tx.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snapshot); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o700); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, tool, "--format=custom", "--no-owner", "--no-privileges",
		"--snapshot="+snapshot, "--file="+dest, "--dbname="+dsn)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pg_dump: %w\n%s", err, bytes.TrimSpace(out))
	}
	if !blobs {
		return nil, nil
	}
	rows, err := tx.Query(ctx, referencedBlobsQuery)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return scanStrings(rows)
}

// pgEmpty reports why the database of dsn is not empty: it has tables
// outside the system schemas. "" when it is empty.
func pgEmpty(ctx context.Context, dsn string) (string, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT COUNT(*) FROM information_schema.tables
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`).Scan(&n)
	if err != nil || n == 0 {
		return "", err
	}
	return fmt.Sprintf("it has %d tables", n), nil
}

// pgRestore restores the dump at src into the empty database of dsn, in
// one transaction: on an error nothing is left half-restored.
func pgRestore(ctx context.Context, dsn, src string) error {
	tool, _, err := pgTool("pg_restore")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, tool, "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
		"--dbname="+dsn, src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_restore: %w\n%s", err, bytes.TrimSpace(out))
	}
	return nil
}
