package testenv_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestRequired(t *testing.T) {
	tests := []struct {
		env     string
		backend string
		want    bool
	}{
		{"", "postgres", false},
		{"postgres", "postgres", true},
		{"postgres,nats,s3", "nats", true},
		{" postgres , NATS ", "nats", true},
		{"Postgres", "postgres", true},
		{"postgresql", "postgres", false},
		{"nats,s3", "postgres", false},
		{",,", "", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%q/%s", tc.env, tc.backend), func(t *testing.T) {
			t.Setenv(testenv.RequireEnv, tc.env)
			if got := testenv.Required(tc.backend); got != tc.want {
				t.Errorf("Required(%q) with %s=%q = %v, want %v", tc.backend, testenv.RequireEnv, tc.env, got, tc.want)
			}
		})
	}
}

// recorder stands in for a test, recording how it was stopped instead of
// stopping the running one.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skipf(format string, args ...any)  { r.skipped = fmt.Sprintf(format, args...) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestSkipOrFail(t *testing.T) {
	tests := []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"s3", true},
		{"s3,nats", false},
	}
	for _, tc := range tests {
		t.Run(tc.require, func(t *testing.T) {
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			testenv.SkipOrFail(r, "nats", "no server on 127.0.0.1:4222")
			msg := r.skipped + r.failed
			if skipped := r.skipped != ""; skipped != tc.wantSkip || (r.skipped == "") == (r.failed == "") {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			for _, want := range []string{"nats", "no server on 127.0.0.1:4222", testenv.RequireEnv} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
		})
	}
}

func TestPostgresUnreachable(t *testing.T) {
	dsn := "postgres://kb:hunter2@" + testenv.FreeAddr(t) + "/postgres?sslmode=disable"
	tests := []struct {
		require  string
		wantSkip bool
	}{
		{"", true},
		{"postgres", false},
	}
	for _, tc := range tests {
		t.Run("require="+tc.require, func(t *testing.T) {
			t.Setenv(testenv.PostgresEnv, dsn)
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			if got := testenv.Postgres(r); got != "" {
				t.Errorf("Postgres() = %q on an unreachable server", got)
			}
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") == tc.wantSkip {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			msg := r.skipped + r.failed
			if strings.Contains(msg, "hunter2") {
				t.Errorf("message shows the password: %s", msg)
			}
			if !strings.Contains(msg, testenv.PostgresEnv) {
				t.Errorf("message %q does not say how to point at a server", msg)
			}
		})
	}
}

func TestPostgres(t *testing.T) {
	var dsn string
	t.Run("fresh database", func(t *testing.T) {
		dsn = testenv.Postgres(t)
		conn, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatalf("connect to %s: %v", dsn, err)
		}
		defer conn.Close(context.Background())
		var tables int
		if err := conn.QueryRow(t.Context(),
			`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Errorf("fresh database has %d tables", tables)
		}
		// A second call gives another database.
		if other := testenv.Postgres(t); other == dsn {
			t.Errorf("two calls returned the same database %s", dsn)
		}
		// Left open on purpose: cleanup must drop the database anyway.
		leaked, err := pgx.Connect(t.Context(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { leaked.Close(context.Background()) })
	})
	if dsn == "" {
		return // the subtest said why
	}

	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	name := cfg.Database
	cfg.Database = "postgres"
	conn, err := pgx.ConnectConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

func TestTool(t *testing.T) {
	tests := []struct {
		program, require string
		wantSkip         bool
	}{
		{"kinbridge-no-such-tool", "", true},
		{"kinbridge-no-such-tool", "kinbridge-no-such-tool", false},
		{"kinbridge-no-such-tool", "exiftool,ffmpeg", true},
	}
	for _, tc := range tests {
		t.Run(tc.require, func(t *testing.T) {
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			if got := testenv.Tool(r, tc.program); got != "" {
				t.Errorf("Tool(%q) = %q", tc.program, got)
			}
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") == tc.wantSkip {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			if msg := r.skipped + r.failed; !strings.Contains(msg, tc.program) {
				t.Errorf("message %q does not name %s", msg, tc.program)
			}
		})
	}
	for program, want := range map[string]string{"ffprobe": "ffmpeg", "heif-enc": "heif-convert", "exiftool": "exiftool", "pg_restore": "postgresql-client", "sh": "sh"} {
		if got := testenv.ToolRequirement(program); got != want {
			t.Errorf("ToolRequirement(%q) = %q, want %q", program, got, want)
		}
	}
	if p := testenv.Tool(t, "sh"); p == "" {
		t.Error("Tool(sh) found no sh")
	}
}
