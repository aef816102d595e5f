package sqldb

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		query, op, table string
	}{
		{"SELECT id FROM children WHERE id = $1", "SELECT", "children"},
		{"select count(*) from children", "select", "children"},
		{"\n\tSELECT c.id\n\tFROM children c JOIN guardianships g ON g.child_id = c.id", "SELECT", "children"},
		{`SELECT id FROM "children"`, "SELECT", "children"},
		{"SELECT id FROM public.children;", "SELECT", "public.children"},
		{"SELECT id FROM (SELECT id FROM children) AS c", "SELECT", ""},
		{"SELECT 1", "SELECT", ""},
		{"SELECT", "SELECT", ""},
		{"INSERT INTO children(id, name) VALUES ($1, $2)", "INSERT", "children"},
		{"INSERT INTO outbox (id) VALUES ($1) ON CONFLICT DO NOTHING", "INSERT", "outbox"},
		{"UPDATE children SET name = $1", "UPDATE", "children"},
		{"UPDATE", "UPDATE", ""},
		{"DELETE FROM outbox WHERE id = $1", "DELETE", "outbox"},
		{"WITH x AS (SELECT 1) SELECT * FROM x", "WITH", ""},
		{"CREATE TABLE t (id TEXT)", "CREATE", ""},
		{"PRAGMA journal_mode", "PRAGMA", ""},
		{"SELECT id FROM $1", "SELECT", ""},
		{"", "", ""},
		{"   ", "", ""},
		{"-- comment\nSELECT 1", "", ""},
		{"(SELECT 1)", "", ""},
	}
	for _, tc := range tests {
		op, table := summarize(tc.query)
		if op != tc.op || table != tc.table {
			t.Errorf("summarize(%q) = %q, %q; want %q, %q", tc.query, op, table, tc.op, tc.table)
		}
	}
}

// FuzzSummarize checks that any query text yields a span name made of
// plain words, never a panic.
func FuzzSummarize(f *testing.F) {
	for _, s := range []string{"SELECT id FROM children WHERE id = $1", "INSERT INTO t(a) VALUES ($1)", "UPDATE", "DELETE FROM", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, query string) {
		op, table := summarize(query)
		if op == "" && table != "" {
			t.Fatalf("table %q without operation", table)
		}
		if strings.ContainsAny(op+table, " \t\n'\"$()") {
			t.Fatalf("summarize(%q) = %q, %q", query, op, table)
		}
	})
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn      string
		dialect  Dialect
		path     string
		driver   string // prefix of the driver DSN
		memory   bool
		wantFail bool
	}{
		{dsn: "postgres://u@h/db", dialect: DialectPostgres, driver: "postgres://u@h/db"},
		{dsn: "POSTGRESQL://u@h/db", dialect: DialectPostgres, driver: "POSTGRESQL://u@h/db"},
		{dsn: "sqlite:data/kb.db", dialect: DialectSQLite, path: "data/kb.db", driver: "file:data/kb.db?"},
		{dsn: "sqlite:///srv/kb.db", dialect: DialectSQLite, path: "/srv/kb.db", driver: "file:/srv/kb.db?"},
		{dsn: "file:/srv/a%20b.db?mode=rwc", dialect: DialectSQLite, path: "/srv/a b.db", driver: "file:/srv/a%20b.db?"},
		{dsn: "/srv/a b?#.db", dialect: DialectSQLite, path: "/srv/a b", driver: "file:/srv/a b?"},
		{dsn: "/srv/50%.db", dialect: DialectSQLite, path: "/srv/50%.db", driver: "file:/srv/50%25.db?"},
		{dsn: ":memory:", dialect: DialectSQLite, memory: true, driver: "file::memory:?"},
		{dsn: "file:kb?mode=memory&cache=shared", dialect: DialectSQLite, memory: true, driver: "file:kb?"},
		{dsn: "", wantFail: true},
		{dsn: "sqlite:", wantFail: true},
		{dsn: "mysql://h/db", wantFail: true},
		{dsn: "sqlite:x.db?a=%zz", wantFail: true},
	}
	for _, tc := range tests {
		got, err := parseDSN(tc.dsn)
		if (err != nil) != tc.wantFail {
			t.Errorf("parseDSN(%q) error = %v, want failure: %v", tc.dsn, err, tc.wantFail)
			continue
		}
		if err != nil {
			continue
		}
		if got.dialect != tc.dialect || got.path != tc.path || got.memory != tc.memory || !strings.HasPrefix(got.driverDSN, tc.driver) {
			t.Errorf("parseDSN(%q) = %+v, want dialect %v path %q memory %v driver %q...",
				tc.dsn, got, tc.dialect, tc.path, tc.memory, tc.driver)
		}
	}

	t.Run("sqlite defaults", func(t *testing.T) {
		got, err := parseDSN("kb.db?_journal=DELETE&_pragma=busy_timeout%3D5&_txlock=deferred")
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"_pragma=foreign_keys%281%29", "_pragma=synchronous%28NORMAL%29", "_txlock=deferred", "_journal=DELETE", "busy_timeout%3D5"} {
			if !strings.Contains(got.driverDSN, want) {
				t.Errorf("driver DSN %q lacks %q", got.driverDSN, want)
			}
		}
		for _, unwanted := range []string{"journal_mode", "busy_timeout%2810000", "immediate"} {
			if strings.Contains(got.driverDSN, unwanted) {
				t.Errorf("driver DSN %q overrides the DSN's own setting with %q", got.driverDSN, unwanted)
			}
		}
	})
}

// FuzzRedactDSN checks that a password never survives redaction.
func FuzzRedactDSN(f *testing.F) {
	f.Add("kb", "hunter2", "db:5432", "progress")
	f.Add("u", "p@ss:w/rd", "h", "d")
	f.Fuzz(func(t *testing.T, user, password, host, db string) {
		const marker = "Zq7Pw"
		pw := marker + password
		for _, dsn := range []string{
			"postgres://" + user + ":" + pw + "@" + host + "/" + db,
			"host=" + host + " password=" + pw + " dbname=" + db,
			"postgres://" + user + "@" + host + "/" + db + "?password=" + pw,
		} {
			if strings.Contains(user+host+db, marker) {
				return
			}
			if got := RedactDSN(dsn); strings.Contains(got, marker) {
				t.Fatalf("RedactDSN(%q) = %q shows the password", dsn, got)
			}
		}
	})
}

// FuzzParseDSN checks that any DSN is either refused or yields a usable
// target, never a panic.
func FuzzParseDSN(f *testing.F) {
	for _, s := range []string{"postgres://u@h/db", "sqlite:data/kb.db", "file:/srv/a%20b.db?mode=rwc", "/srv/50%.db", ":memory:", "x.db?_pragma=busy_timeout(5)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		got, err := parseDSN(dsn)
		if err != nil {
			return
		}
		if got.driverName == "" || got.driverDSN == "" {
			t.Fatalf("parseDSN(%q) = %+v", dsn, got)
		}
		if got.dialect == DialectSQLite && !got.memory && got.path == "" {
			t.Fatalf("parseDSN(%q): file database without a path", dsn)
		}
	})
}
