package sqldb

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// target is a parsed DSN: what to hand database/sql, and what Open needs to
// know about it.
type target struct {
	dialect    Dialect
	driverName string
	driverDSN  string
	// path is the SQLite file on disk; empty for Postgres.
	path string
	// memory is an SQLite database that lives in memory only.
	memory bool
}

// sqliteDefaults are the pragmas every SQLite connection runs, keyed by the
// pragma name a DSN would use to override them.
var sqliteDefaults = []struct{ name, pragma string }{
	// First, so the pragmas after it wait for a lock rather than fail.
	{"busy_timeout", "busy_timeout(10000)"},
	// Readers never block the writer, nor the writer the readers.
	{"journal_mode", "journal_mode(WAL)"},
	{"foreign_keys", "foreign_keys(1)"},
	// Durable across a process crash; only an OS crash can lose the last
	// commits, which is the usual trade-off with WAL.
	{"synchronous", "synchronous(NORMAL)"},
}

// sqliteShorthands maps modernc's mattn-style DSN keys to the pragma they set,
// so that a DSN using them still overrides our defaults.
var sqliteShorthands = map[string]string{
	"_busy_timeout": "busy_timeout",
	"_timeout":      "busy_timeout",
	"_journal_mode": "journal_mode",
	"_journal":      "journal_mode",
	"_foreign_keys": "foreign_keys",
	"_fk":           "foreign_keys",
	"_synchronous":  "synchronous",
	"_sync":         "synchronous",
}

func parseDSN(dsn string) (target, error) {
	if dsn == "" {
		return target{}, errors.New("empty DSN")
	}
	lower := strings.ToLower(dsn)
	if strings.HasPrefix(lower, "postgres://") || strings.HasPrefix(lower, "postgresql://") {
		return target{dialect: DialectPostgres, driverName: "pgx", driverDSN: dsn}, nil
	}

	var rest string
	uri := false // rest is an SQLite URI path: percent-encoded
	switch {
	case strings.HasPrefix(lower, "sqlite:"):
		rest = dsn[len("sqlite:"):]
	case strings.HasPrefix(lower, "file:"):
		rest, uri = dsn[len("file:"):], true
	case strings.Contains(dsn, "://"):
		// A typo or an unsupported database must not silently become an
		// SQLite file named after it.
		return target{}, fmt.Errorf("unsupported DSN scheme %q (want postgres://, postgresql://, sqlite:, file: or a path)",
			dsn[:strings.Index(dsn, "://")])
	default:
		rest = dsn
	}
	// sqlite:///abs/path and file:///abs/path carry an empty authority.
	rest = strings.TrimPrefix(rest, "//")

	p, rawQuery, _ := strings.Cut(rest, "?")
	query, err := url.ParseQuery(rawQuery)
	if err != nil {
		return target{}, fmt.Errorf("SQLite DSN query: %w", err)
	}
	path := p
	if uri {
		if path, err = url.PathUnescape(p); err != nil {
			return target{}, fmt.Errorf("SQLite DSN path: %w", err)
		}
	} else {
		// Everything below hands modernc an SQLite URI, so a plain path must
		// be escaped where URI syntax would misread it.
		p = strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(p)
	}
	if path == "" {
		return target{}, errors.New("SQLite DSN has no path")
	}

	t := target{dialect: DialectSQLite, driverName: "sqlite"}
	t.memory = path == ":memory:" || query.Get("mode") == "memory"
	if !t.memory {
		t.path = path
	}

	overridden := map[string]bool{}
	for _, v := range query["_pragma"] {
		name, _, _ := strings.Cut(v, "(")
		name, _, _ = strings.Cut(name, "=")
		overridden[strings.ToLower(strings.TrimSpace(name))] = true
	}
	for key, name := range sqliteShorthands {
		if query.Has(key) {
			overridden[name] = true
		}
	}
	for _, d := range sqliteDefaults {
		if !overridden[d.name] {
			query.Add("_pragma", d.pragma)
		}
	}
	if !query.Has("_txlock") {
		// A deferred transaction that reads and then writes must upgrade its
		// lock, and SQLite fails that upgrade at once with SQLITE_BUSY when
		// another writer got there first (busy_timeout does not apply).
		// Taking the write lock at BEGIN makes writers queue instead.
		query.Set("_txlock", "immediate")
	}
	t.driverDSN = "file:" + p + "?" + query.Encode()
	return t, nil
}

// kvPassword matches password=... in a keyword/value connection string.
var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// urlPassword matches a password=... parameter in a URL.
var urlPassword = regexp.MustCompile(`(?i)(password=)[^&#\s]*`)

// RedactDSN returns dsn with any password masked, fit for logs and errors.
//
// It does not rely on the DSN being a valid URL: a password with an
// unescaped '/', '#' or '@' is masked too, at the cost of sometimes masking
// more than the password.
func RedactDSN(dsn string) string {
	const mask = "xxxxx"
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return kvPassword.ReplaceAllString(dsn, "${1}"+mask)
	}
	// The last '@' ends the user information even when the password holds
	// one; the first ':' before it ends the user name.
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":" + mask + rest[at:]
		}
	}
	// pgx also takes the password as a query parameter.
	return urlPassword.ReplaceAllString(scheme+"://"+rest, "${1}"+mask)
}
