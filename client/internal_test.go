package client

import (
	"go/build"
	"strings"
	"testing"
	"time"
)

// Tests of the package's inner parts; the rest run against a real suite
// (suite_test.go).

func TestBackoffIsCappedWithJitter(t *testing.T) {
	b := Backoff{Base: 100 * time.Millisecond, Max: time.Second}.start(time.Hour, time.Hour)
	for i, ceiling := range []time.Duration{100, 200, 400, 800, 1000, 1000, 1000} {
		ceiling *= time.Millisecond
		if d := b.next(); d < ceiling/2 || d > ceiling {
			t.Errorf("wait %d: %s, want between %s and %s", i, d, ceiling/2, ceiling)
		}
	}
	b.attempt = 1000 // no overflow however long the service stays away
	if d := b.next(); d < 500*time.Millisecond || d > time.Second {
		t.Errorf("after many: %s", d)
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		b.reset()
		d := b.next()
		if d < 50*time.Millisecond || d > 100*time.Millisecond {
			t.Fatalf("after a reset: %s", d)
		}
		seen[d] = true
	}
	if len(seen) < 2 {
		t.Errorf("no jitter: %v", seen)
	}
	if d := (Backoff{}).start(250*time.Millisecond, 30*time.Second); d.Base != 250*time.Millisecond || d.Max != 30*time.Second {
		t.Errorf("defaults %+v", d.Backoff)
	}
}

func TestUploadStateFileKeysTheUpload(t *testing.T) {
	base := uploadState{Path: "/home/ana/v.mp4", Size: 10, ModTime: 1, Child: "children/a"}
	seen := map[string]bool{base.file("d"): true}
	for _, other := range []uploadState{
		{Path: "/home/ana/w.mp4", Size: 10, ModTime: 1, Child: "children/a"},
		{Path: "/home/ana/v.mp4", Size: 11, ModTime: 1, Child: "children/a"},
		{Path: "/home/ana/v.mp4", Size: 10, ModTime: 2, Child: "children/a"},
		{Path: "/home/ana/v.mp4", Size: 10, ModTime: 1, Child: "children/b"},
	} {
		if f := other.file("d"); seen[f] {
			t.Errorf("%+v shares a state file", other)
		} else {
			seen[f] = true
		}
	}
	withSession := base
	withSession.Session, withSession.SHA256 = "children/a/uploadSessions/x", "ab"
	if withSession.file("d") != base.file("d") || !withSession.same(base) {
		t.Error("the session is not part of the key")
	}
}

// TestImportsOnlyGenAndPkg keeps the SDK's dependency direction: it speaks
// to the suite through the contracts, like any outside client, never
// through a service's packages.
func TestImportsOnlyGenAndPkg(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/kinbridge/kinbridge/"
	for _, imp := range pkg.Imports {
		rest, ours := strings.CutPrefix(imp, module)
		if ours && !strings.HasPrefix(rest, "gen/") && !strings.HasPrefix(rest, "pkg/") {
			t.Errorf("client imports %s: only gen/ and pkg/ may be imported", imp)
		}
	}
}
