package releases

import (
	"bytes"
	"crypto/sha1"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestMigrationsSinceLastRelease holds the working tree's migrations to
// the upgrade rule against the last release in RELEASES, whose migrations
// it reads from the repository's history:
//   - a migration that release shipped is unchanged and still there
//     (goose never runs a file twice, so an edit would reach only new
//     databases);
//   - a new one is numbered above every migration of its folder that
//     release shipped (goose refuses to start on a database that lacks a
//     version below its newest);
//   - a new one only adds (CheckAdditive), unless it is marked as the
//     second step of a two-step change.
//
// It fails, never skips, when git or the release's commit is missing: the
// rule cannot be checked then, and CI runs on a full clone.
func TestMigrationsSinceLastRelease(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	rels, err := Load(root)
	if err != nil {
		t.Fatal(err)
	}
	last := rels[len(rels)-1]
	for _, r := range rels {
		if _, err := git(root, "cat-file", "-e", r.Commit+"^{commit}"); err != nil {
			t.Fatalf("%s lists %s at commit %s, which this repository does not have (a shallow clone? run "+
				"`git fetch --unshallow`): %v", File, r.Version, r.Commit, err)
		}
	}

	// What the release shipped: path -> git blob id.
	tree, err := git(root, "ls-tree", "-r", "--full-tree", last.Commit)
	if err != nil {
		t.Fatalf("list the files of %s: %v", last.Version, err)
	}
	released := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(tree), "\n") {
		meta, p, ok := strings.Cut(line, "\t")
		if f := strings.Fields(meta); ok && len(f) == 3 && f[1] == "blob" && IsMigration(p) {
			released[p] = f[2]
		}
	}
	if len(released) == 0 {
		t.Fatalf("%s at %s has no migrations: IsMigration no longer finds where they live", last.Version, last.Commit)
	}
	existing, maxVersion := map[string]bool{}, map[string]int64{}
	for p := range released {
		sql, err := git(root, "show", last.Commit+":"+p)
		if err != nil {
			t.Fatal(err)
		}
		for _, table := range CreatedTables(sql) {
			existing[table] = true
		}
		v, err := Version(p)
		if err != nil {
			t.Fatal(err)
		}
		maxVersion[filepath.Dir(p)] = max(maxVersion[filepath.Dir(p)], v)
	}

	current := workingMigrations(t, root)
	for p := range released {
		if _, ok := current[p]; !ok {
			t.Errorf("%s: shipped in %s and now gone; a released migration stays (undo it with a new one)", p, last.Version)
		}
	}
	var added []string
	for p, sql := range current {
		if id, ok := released[p]; ok {
			if blobID(sql) != id {
				t.Errorf("%s: changed since %s shipped it; goose does not run a file twice, so write a new migration instead", p, last.Version)
			}
			continue
		}
		added = append(added, p)
	}
	sort.Strings(added)
	for _, p := range added {
		v, err := Version(p)
		if err != nil {
			t.Error(err)
			continue
		}
		if top, ok := maxVersion[filepath.Dir(p)]; ok && v <= top {
			t.Errorf("%s: version %d is not above %d, the newest %s shipped in that folder; "+
				"goose refuses to start on a database that has a later version but not this one", p, v, top, last.Version)
		}
		for _, problem := range CheckAdditive(current[p], existing, rels) {
			t.Errorf("%s (added after %s): %s\n\tthe previous release keeps running on this schema during an upgrade; "+
				"make the change in two steps (docs/operations.md, Upgrades)", p, last.Version, problem)
		}
	}
	t.Logf("%d migrations shipped in %s, %d added since: %s", len(released), last.Version, len(added), strings.Join(added, ", "))
}

// workingMigrations reads the migrations of the working tree, by
// slash-separated path from root.
func workingMigrations(t *testing.T, root string) map[string]string {
	t.Helper()
	found := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && p != root && (strings.HasPrefix(name, ".") || name == "node_modules" || name == "testdata") {
			return filepath.SkipDir
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || d.IsDir() || !IsMigration(filepath.ToSlash(rel)) {
			return err
		}
		b, err := os.ReadFile(p)
		found[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// blobID is the id git gives a file's content.
func blobID(content string) string {
	return fmt.Sprintf("%x", sha1.Sum([]byte(fmt.Sprintf("blob %d\x00%s", len(content), content))))
}

func git(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
