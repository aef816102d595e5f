package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresEnv names the variable holding the admin DSN of the PostgreSQL
// server tests create their databases on.
const PostgresEnv = "KINBRIDGE_TEST_POSTGRES_DSN"

// DefaultPostgresDSN is used when PostgresEnv is unset: a local server with
// trust authentication, as a developer's machine or a CI service has.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// postgresDialTimeout bounds the reachability check, so a machine without
// PostgreSQL skips quickly instead of hanging on a filtered port.
const postgresDialTimeout = 2 * time.Second

// unreachable remembers admin DSNs that failed to connect, so that a test
// binary with many PostgreSQL tests pays the dial timeout once.
var unreachable sync.Map // admin DSN -> error

// Postgres returns the DSN of a fresh, empty database on the PostgreSQL
// server named by KINBRIDGE_TEST_POSTGRES_DSN (default [DefaultPostgresDSN]),
// dropped when the test and its subtests end. The role of that DSN must be
// allowed to create databases.
//
// If the server cannot be reached the test is skipped, or fails when
// KINBRIDGE_TEST_REQUIRE names "postgres"; see [SkipOrFail].
func Postgres(t testing.TB) string {
	t.Helper()
	admin := os.Getenv(PostgresEnv)
	if admin == "" {
		admin = DefaultPostgresDSN
	}
	howTo := fmt.Sprintf("set %s to the admin DSN of a PostgreSQL server whose role may CREATE DATABASE (default %s)",
		PostgresEnv, DefaultPostgresDSN)

	if err, ok := unreachable.Load(admin); ok {
		SkipOrFail(t, "postgres", fmt.Sprintf("cannot connect to %s: %v; %s", redact(admin), err, howTo))
		return ""
	}
	cfg, err := pgx.ParseConfig(admin)
	if err != nil {
		// A DSN that does not parse is a mistake to fix, not a missing server.
		t.Fatalf("testenv: %s: %v", PostgresEnv, err)
		return ""
	}
	cfg.ConnectTimeout = postgresDialTimeout

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		unreachable.Store(admin, err)
		SkipOrFail(t, "postgres", fmt.Sprintf("cannot connect to %s: %v; %s", redact(admin), err, howTo))
		return ""
	}
	defer conn.Close(ctx)

	name := "kb_test_" + randomHex(8)
	ident := pgx.Identifier{name}.Sanitize()
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("testenv: create database on %s: %v", redact(admin), err)
		return ""
	}
	t.Cleanup(func() {
		// The test's own context is already canceled when cleanups run.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		// FORCE ends the sessions a test left open (a leaked pool), which
		// would otherwise make DROP fail and the database pile up.
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("testenv: drop database %s: %v", name, err)
		}
	})

	dsn, err := withDatabase(admin, name)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return dsn
}

// withDatabase returns the admin DSN pointing at database name instead.
func withDatabase(admin, name string) (string, error) {
	if strings.HasPrefix(admin, "postgres://") || strings.HasPrefix(admin, "postgresql://") {
		u, err := url.Parse(admin)
		if err != nil {
			return "", fmt.Errorf("%s: %w", PostgresEnv, err)
		}
		u.Path = "/" + name
		u.RawPath = ""
		return u.String(), nil
	}
	// Keyword/value form: a later keyword overrides an earlier one.
	return admin + " dbname=" + name, nil
}

// redact masks the password of a DSN shown in a test message.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		if strings.Contains(strings.ToLower(dsn), "password") {
			return "(DSN with password, not shown)"
		}
		return dsn
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails since Go 1.24
	return hex.EncodeToString(b)
}
