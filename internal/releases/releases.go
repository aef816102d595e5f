// Package releases reads RELEASES, the list at the repository root of
// every Kinbridge release and the commit it was built from, and checks the
// schema rule a release must keep so that it can run beside the previous
// one on the same databases (docs/operations.md, "Upgrades"):
//
//	# comment
//	v0.1.0 51ed4267595817230ec3c1a7a30663e26ea702a7 2026-12-03
//
// One release a line, oldest first: its version (vMAJOR.MINOR.PATCH,
// each higher than the line before), the full commit id and the day it
// was cut (UTC). The rolling-upgrade test builds the last one from the
// repository's history; the migration check compares the migrations of
// the working tree with the ones that release shipped.
package releases

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// File is the name of the release list at the repository root.
const File = "RELEASES"

// Release is one line of RELEASES.
type Release struct {
	Version string // v0.1.0
	Commit  string // the full commit id, 40 lower-case hex digits
	Date    string // the day it was cut, YYYY-MM-DD (UTC)
}

var (
	versionPattern = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$`)
	commitPattern  = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

// Load reads RELEASES from the repository at root.
func Load(root string) ([]Release, error) {
	f, err := os.Open(filepath.Join(root, File))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rels, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", File, err)
	}
	return rels, nil
}

// Last returns the newest release in the RELEASES of the repository at
// root: the one a new build must be able to run beside.
func Last(root string) (Release, error) {
	rels, err := Load(root)
	if err != nil {
		return Release{}, err
	}
	return rels[len(rels)-1], nil
}

// Parse reads a release list. It refuses a malformed line, a version that
// does not rise, and an empty list.
func Parse(r io.Reader) ([]Release, error) {
	var rels []Release
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want VERSION COMMIT DATE, got %q", n, line)
		}
		rel := Release{Version: fields[0], Commit: fields[1], Date: fields[2]}
		if !versionPattern.MatchString(rel.Version) {
			return nil, fmt.Errorf("line %d: version %q: want vMAJOR.MINOR.PATCH", n, rel.Version)
		}
		if !commitPattern.MatchString(rel.Commit) {
			return nil, fmt.Errorf("line %d: commit %q: want the full id, 40 lower-case hex digits", n, rel.Commit)
		}
		if _, err := time.Parse(time.DateOnly, rel.Date); err != nil {
			return nil, fmt.Errorf("line %d: date %q: want YYYY-MM-DD", n, rel.Date)
		}
		if len(rels) > 0 {
			prev := rels[len(rels)-1]
			if !less(prev.Version, rel.Version) {
				return nil, fmt.Errorf("line %d: %s does not come after %s", n, rel.Version, prev.Version)
			}
			if rel.Date < prev.Date {
				return nil, fmt.Errorf("line %d: %s is dated before %s", n, rel.Version, prev.Version)
			}
		}
		rels = append(rels, rel)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(rels) == 0 {
		return nil, fmt.Errorf("no release listed")
	}
	return rels, nil
}

// less compares two versions that match versionPattern.
func less(a, b string) bool {
	pa, pb := versionPattern.FindStringSubmatch(a)[1:], versionPattern.FindStringSubmatch(b)[1:]
	for i := range pa {
		x, _ := strconv.Atoi(pa[i])
		y, _ := strconv.Atoi(pb[i])
		if x != y {
			return x < y
		}
	}
	return false
}

// Has reports whether version is listed in rels.
func Has(rels []Release, version string) bool {
	for _, r := range rels {
		if r.Version == version {
			return true
		}
	}
	return false
}
