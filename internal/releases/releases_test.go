package releases

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	const a, b = "51ed4267595817230ec3c1a7a30663e26ea702a7", "3c784e8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	good := "# releases\n\nv0.1.0 " + a + " 2026-12-03\nv0.10.0 " + b + " 2026-12-24\n"
	rels, err := Parse(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	if len(rels) != 2 || rels[1] != (Release{"v0.10.0", b, "2026-12-24"}) || !Has(rels, "v0.1.0") || Has(rels, "v0.2.0") {
		t.Fatalf("parsed %+v", rels)
	}
	for name, bad := range map[string]string{
		"empty":            "# nothing yet\n",
		"short commit":     "v0.1.0 51ed426 2026-12-03\n",
		"upper-case hex":   "v0.1.0 " + strings.ToUpper(a) + " 2026-12-03\n",
		"no v":             "0.1.0 " + a + " 2026-12-03\n",
		"bad date":         "v0.1.0 " + a + " 3 Dec 2026\n",
		"extra field":      "v0.1.0 " + a + " 2026-12-03 final\n",
		"version not up":   "v0.2.0 " + a + " 2026-12-03\nv0.1.9 " + b + " 2026-12-04\n",
		"same version":     "v0.2.0 " + a + " 2026-12-03\nv0.2.0 " + b + " 2026-12-04\n",
		"dated before":     "v0.1.0 " + a + " 2026-12-03\nv0.2.0 " + b + " 2026-12-01\n",
		"leading zero":     "v0.01.0 " + a + " 2026-12-03\n",
		"missing a commit": "v0.1.0 2026-12-03\n",
	} {
		if rels, err := Parse(strings.NewReader(bad)); err == nil {
			t.Errorf("%s: accepted as %+v", name, rels)
		}
	}
}

func TestVersionAndIsMigration(t *testing.T) {
	for p, want := range map[string]bool{
		"services/media/store/migrations/0009_uploads.sql":   true,
		"pkg/outbox/migrations/0001_outbox.sql":              true,
		"pkg/discussion/testdata/migrations/0001_schema.sql": false,
		"services/media/store/migrations/README.md":          false,
		"services/media/store/0001.sql":                      false,
	} {
		if got := IsMigration(p); got != want {
			t.Errorf("IsMigration(%s) = %v", p, got)
		}
	}
	if v, err := Version("a/migrations/0012_x.sql"); v != 12 || err != nil {
		t.Errorf("Version: %d %v", v, err)
	}
	if _, err := Version("a/migrations/x.sql"); err == nil {
		t.Error("Version accepted a name without a number")
	}
}

func TestCheckAdditive(t *testing.T) {
	existing := map[string]bool{"children": true, "media_items": true}
	rels := []Release{{Version: "v0.1.0"}, {Version: "v0.2.0"}}
	const up = "-- +goose Up\n"
	for _, tc := range []struct {
		name, sql string
		refused   bool
	}{
		{"new table", up + "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL);", false},
		{"nullable column", up + "ALTER TABLE children ADD COLUMN nickname TEXT;", false},
		{"required column with default", up + "ALTER TABLE media_items ADD COLUMN publish_state INTEGER NOT NULL DEFAULT 2;", false},
		{"index", up + "CREATE INDEX children_by_name ON children (display_name);", false},
		{"backfill", up + "UPDATE children SET nickname = display_name WHERE nickname IS NULL;", false},
		{"down part drops", up + "ALTER TABLE children ADD COLUMN n TEXT;\n-- +goose Down\nALTER TABLE children DROP COLUMN n;", false},
		{"drop in a comment", up + "-- DROP TABLE children would lose data\nALTER TABLE children ADD COLUMN n TEXT;", false},
		{"drop in a string", up + "INSERT INTO notes (body) VALUES ('DROP TABLE children; ok');", false},
		{"new table changed freely", up + "CREATE TABLE notes (id TEXT);\nALTER TABLE notes ADD COLUMN n TEXT NOT NULL;\nDELETE FROM notes;", false},
		{"unique index on a new table", up + "CREATE TABLE notes (id TEXT);\nCREATE UNIQUE INDEX notes_id ON notes (id);", false},

		{"drop table", up + "DROP TABLE children;", true},
		{"drop index", up + "DROP INDEX IF EXISTS children_by_name;", true},
		{"drop column", up + "ALTER TABLE children DROP COLUMN school;", true},
		{"drop column, quoted and qualified", up + `ALTER TABLE public."children" DROP "school";`, true},
		{"drop default", up + "ALTER TABLE children ALTER COLUMN school DROP DEFAULT;", true},
		{"rename column", up + "ALTER TABLE children RENAME COLUMN school TO school_name;", true},
		{"rename table", up + "ALTER TABLE children RENAME TO kids;", true},
		{"rename index", up + "ALTER INDEX children_by_name RENAME TO kids_by_name;", true},
		{"type change", up + "ALTER TABLE children ALTER COLUMN birth_date TYPE DATE;", true},
		{"set not null", up + "ALTER TABLE children ALTER COLUMN school SET NOT NULL;", true},
		{"required column without default", up + "ALTER TABLE children ADD COLUMN nickname TEXT NOT NULL;", true},
		{"second action of several", up + "ALTER TABLE children ADD COLUMN a TEXT, ADD COLUMN b TEXT NOT NULL;", true},
		{"constraint", up + "ALTER TABLE children ADD CONSTRAINT one_name UNIQUE (display_name);", true},
		{"check column", up + "ALTER TABLE children ADD COLUMN age INTEGER CHECK (age > 0);", true},
		{"unique index", up + "CREATE UNIQUE INDEX one_name ON children (display_name);", true},
		{"truncate", up + "TRUNCATE media_items;", true},
		{"delete", up + "DELETE FROM media_items WHERE state = 3;", true},
		{"no annotations", "DROP TABLE children;", true},

		{"contract after a listed release", "-- kinbridge:contract after v0.2.0\n" + up + "ALTER TABLE children DROP COLUMN school;", false},
		{"contract after an unlisted release", "-- kinbridge:contract after v0.3.0\n" + up + "ALTER TABLE children DROP COLUMN school;", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			problems := CheckAdditive(tc.sql, existing, rels)
			if refused := len(problems) > 0; refused != tc.refused {
				t.Errorf("refused = %v, want %v: %q", refused, tc.refused, problems)
			}
		})
	}
}

func TestCreatedTables(t *testing.T) {
	sql := "-- +goose Up\nCREATE TABLE a (x INT);\ncreate table if not exists public.\"B\"(y INT);\nCREATE INDEX c ON a (x);\n" +
		"-- +goose Down\nCREATE TABLE d (z INT);"
	if got := strings.Join(CreatedTables(sql), ","); got != "a,b" {
		t.Errorf("CreatedTables = %s, want a,b", got)
	}
}
