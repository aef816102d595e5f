package releases

import (
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// During a rolling upgrade the previous release keeps serving on the
// schema the new build migrates to, so a migration added after a release
// may only add: new tables, indexes, columns that are nullable or have a
// default. Anything that takes away or changes what the previous release
// reads or writes is the second step of a two-step change, shipped in a
// release after the one that stopped using it, and its file says so with
// the contract marker (see [ContractMarker]).

// ContractMarker starts the comment that marks a migration as the second,
// contracting step of a two-step change:
//
//	-- kinbridge:contract after v0.2.0
//
// The version named is the release that stopped reading and writing what
// this migration drops or changes; it must be listed in RELEASES already,
// so the release running beside this build during the upgrade no longer
// needs it.
const ContractMarker = "-- kinbridge:contract after "

var contractLine = regexp.MustCompile(`(?m)^\s*` + regexp.QuoteMeta(ContractMarker) + `(\S+)\s*$`)

// IsMigration reports whether a repository path (slash-separated) is a
// goose SQL migration the product ships: a .sql file in a folder called
// migrations, outside test data.
func IsMigration(p string) bool {
	if path.Ext(p) != ".sql" || path.Base(path.Dir(p)) != "migrations" {
		return false
	}
	for _, part := range strings.Split(p, "/") {
		if part == "testdata" || part == "node_modules" {
			return false
		}
	}
	return true
}

// Version returns the goose version of a migration file: the number its
// name starts with.
func Version(p string) (int64, error) {
	base := path.Base(p)
	digits := base[:len(base)-len(strings.TrimLeft(base, "0123456789"))]
	v, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: the name does not start with a version number", p)
	}
	return v, nil
}

// CreatedTables returns the tables the up part of a migration creates,
// lower-cased and without schema.
func CreatedTables(sql string) []string {
	var tables []string
	for _, st := range statements(upPart(sql)) {
		if m := createTable.FindStringSubmatch(st); m != nil {
			tables = append(tables, tableName(m[1]))
		}
	}
	return tables
}

// CheckAdditive returns what the up part of a migration added after the
// last release does that the previous release may not survive; nothing
// when it only adds. existing holds the tables (lower-case) that release's
// migrations created: only those need protecting, a table created since
// may be changed at will. A migration carrying [ContractMarker] may do
// anything, provided the release it names is in rels.
func CheckAdditive(sql string, existing map[string]bool, rels []Release) []string {
	if m := contractLine.FindStringSubmatch(sql); m != nil {
		if !Has(rels, m[1]) {
			return []string{fmt.Sprintf("the contract marker names %s, which RELEASES does not list: the change's first "+
				"step must ship in a release before its second step may drop or change anything", m[1])}
		}
		return nil
	}
	var problems []string
	for _, st := range statements(upPart(sql)) {
		for _, p := range checkStatement(st, existing) {
			problems = append(problems, fmt.Sprintf("%s: %s", p, shorten(st)))
		}
	}
	return problems
}

var (
	createTable  = regexp.MustCompile(`^CREATE (?:TEMP |TEMPORARY |UNLOGGED )?TABLE (?:IF NOT EXISTS )?([^ (]+)`)
	alterTable   = regexp.MustCompile(`^ALTER TABLE (?:IF EXISTS )?(?:ONLY )?([^ ]+) (.*)$`)
	alterOther   = regexp.MustCompile(`^ALTER (?:INDEX|VIEW|SEQUENCE|TYPE|SCHEMA) .*\bRENAME\b`)
	uniqueIndex  = regexp.MustCompile(`^CREATE UNIQUE INDEX .*\bON (?:ONLY )?([^ (]+)`)
	deleteFrom   = regexp.MustCompile(`^DELETE FROM (?:ONLY )?([^ ]+)`)
	addClause    = regexp.MustCompile(`^ADD (?:COLUMN )?(?:IF NOT EXISTS )?(.*)$`)
	typeChange   = regexp.MustCompile(`^ALTER (?:COLUMN )?[^ ]+ (?:SET DATA )?TYPE\b`)
	constraintKw = regexp.MustCompile(`\b(?:UNIQUE|CHECK|REFERENCES|PRIMARY KEY|FOREIGN KEY)\b`)
)

// checkStatement judges one normalised statement (upper case, comments and
// string contents removed, single spaces).
func checkStatement(st string, existing map[string]bool) []string {
	switch {
	case strings.HasPrefix(st, "DROP "):
		return []string{"drops what the previous release may use"}
	case strings.HasPrefix(st, "TRUNCATE "):
		return []string{"empties a table"}
	case alterOther.MatchString(st):
		return []string{"renames what the previous release may use"}
	}
	if m := deleteFrom.FindStringSubmatch(st); m != nil && existing[tableName(m[1])] {
		return []string{"deletes rows the previous release may use"}
	}
	if m := uniqueIndex.FindStringSubmatch(st); m != nil && existing[tableName(m[1])] {
		return []string{"adds a unique index to an existing table, which the previous release's writes may break"}
	}
	m := alterTable.FindStringSubmatch(st)
	if m == nil || !existing[tableName(m[1])] {
		return nil
	}
	var problems []string
	for _, clause := range splitTopLevel(m[2]) {
		switch {
		case strings.Contains(" "+clause+" ", " DROP "):
			problems = append(problems, "drops a column, constraint or default of an existing table")
		case strings.Contains(" "+clause+" ", " RENAME "):
			problems = append(problems, "renames an existing table or column")
		case typeChange.MatchString(clause):
			problems = append(problems, "changes the type of an existing column")
		case strings.Contains(clause, "SET NOT NULL"):
			problems = append(problems, "makes an existing column required, which the previous release's writes may leave empty")
		case strings.HasPrefix(clause, "ADD CONSTRAINT ") || (strings.HasPrefix(clause, "ADD ") && constraintKw.MatchString(clause)):
			problems = append(problems, "adds a constraint to an existing table, which the previous release's writes may break")
		default:
			if a := addClause.FindStringSubmatch(clause); a != nil && strings.Contains(a[1], "NOT NULL") && !strings.Contains(a[1], "DEFAULT") {
				problems = append(problems, "adds a required column without a default, which the previous release's inserts leave empty")
			}
		}
	}
	return problems
}

// upPart returns the part of a goose file between "-- +goose Up" and
// "-- +goose Down" (all of it without annotations).
func upPart(sql string) string {
	lines := strings.Split(sql, "\n")
	var up []string
	in := !strings.Contains(sql, "+goose Up")
	for _, l := range lines {
		t := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(t, "-- +goose Up"):
			in = true
			continue
		case strings.HasPrefix(t, "-- +goose Down"):
			in = false
			continue
		}
		if in {
			up = append(up, l)
		}
	}
	return strings.Join(up, "\n")
}

// statements splits SQL into normalised statements: comments removed,
// string literals emptied (so a value never reads as a keyword), double
// quotes dropped, upper case, runs of space made one.
func statements(sql string) []string {
	var b strings.Builder
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			b.WriteByte(' ')
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 3
			}
			b.WriteByte(' ')
		case c == '\'':
			// '' inside a literal is a quote; skipping to each next quote
			// handles it as two literals, which empty the same.
			end := strings.IndexByte(sql[i+1:], '\'')
			if end < 0 {
				i = len(sql)
			} else {
				i += end + 1
			}
			b.WriteString("''")
		case c == '"':
			// a quoted identifier: keep its name, drop the quotes
		default:
			b.WriteByte(c)
		}
	}
	var out []string
	for _, st := range strings.Split(b.String(), ";") {
		st = strings.Join(strings.Fields(strings.ToUpper(st)), " ")
		if st != "" {
			out = append(out, st)
		}
	}
	return out
}

// splitTopLevel splits an ALTER TABLE's actions at the commas outside
// parentheses.
func splitTopLevel(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(parts, strings.TrimSpace(s[start:]))
}

// tableName lower-cases a table reference and drops its schema.
func tableName(ref string) string {
	ref = strings.ToLower(ref)
	if i := strings.LastIndexByte(ref, '.'); i >= 0 {
		ref = ref[i+1:]
	}
	return ref
}

func shorten(st string) string {
	if len(st) > 120 {
		return st[:117] + "..."
	}
	return st
}
