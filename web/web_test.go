// The committed dist/ is what the sources build to, with the node tools
// pinned in package-lock.json. Without node the test skips, unless
// KINBRIDGE_TEST_REQUIRE names "node" (as CI does).
package web_test

import (
	"bytes"
	"context"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/web"
)

// files reads every file under fsys by its slash-separated path.
func files(t *testing.T, fsys fs.FS) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(fsys, name)
		out[name] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDistIsCurrent(t *testing.T) {
	dir := testenv.NPM(t, ".")
	fresh := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The same script as `make web`: type-check, then vite build.
	cmd := exec.CommandContext(ctx, "npm", "run", "--silent", "build", "--", "--outDir", fresh, "--emptyOutDir")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm run build: %v\n%s", err, out)
	}
	want := files(t, os.DirFS(fresh))
	got := files(t, web.Dist)
	stale := false
	for name, body := range want {
		if b, ok := got[name]; !ok {
			t.Errorf("web/dist lacks %s", name)
			stale = true
		} else if !bytes.Equal(b, body) {
			t.Errorf("web/dist/%s differs from a fresh build", name)
			stale = true
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("web/dist/%s is not in a fresh build", name)
			stale = true
		}
	}
	if stale {
		t.Fatal("web/dist is stale: run make web and commit it")
	}
}

// The embedded app has its page and at least one hashed script.
func TestDistHasTheApp(t *testing.T) {
	got := files(t, web.Dist)
	if _, ok := got["index.html"]; !ok {
		t.Fatal("web.Dist has no index.html")
	}
	var assets []string
	for name := range got {
		if filepath.Dir(name) == "assets" && filepath.Ext(name) == ".js" {
			assets = append(assets, name)
		}
	}
	if len(assets) == 0 {
		t.Fatalf("web.Dist has no assets/*.js: %v", slices.Sorted(maps.Keys(got)))
	}
}

// The gateway's Content-Security-Policy allows no inline script or style:
// the page must load everything from files.
func TestIndexHasNothingInline(t *testing.T) {
	page, err := fs.ReadFile(web.Dist, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`).FindAllSubmatch(page, -1) {
		if !bytes.Contains(m[1], []byte("src=")) || len(bytes.TrimSpace(m[2])) > 0 {
			t.Errorf("inline script in index.html: %s", m[0])
		}
	}
	if regexp.MustCompile(`(?i)<style\b|\sstyle=|\son[a-z]+=`).Match(page) {
		t.Errorf("inline style or event handler in index.html:\n%s", page)
	}
}
