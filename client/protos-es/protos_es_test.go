// Package protoses_test proves that the protos are usable without Go: on a
// fresh clone, npm alone installs the buf CLI and protoc-gen-es, generates
// TypeScript for every proto, and type-checks it.
package protoses_test

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestGenerateTypeScriptOnAFreshClone(t *testing.T) {
	path := nodeOnlyPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	clone := t.TempDir()
	exportTracked(t, clone)
	dir := filepath.Join(clone, "client", "protos-es")
	npm := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "npm", args...)
		cmd.Dir = dir
		cmd.Env = append(withoutGo(os.Environ()), "PATH="+path, "BUF_CACHE_DIR="+t.TempDir(),
			"npm_config_update_notifier=false", "npm_config_fund=false", "npm_config_audit=false")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	for _, step := range [][]string{{"ci"}, {"run", "generate"}, {"run", "typecheck"}} {
		if out, err := npm(step...); err != nil {
			t.Fatalf("npm %s: %v\n%s", strings.Join(step, " "), err, out)
		}
	}

	// Every proto of ours has its TypeScript, so nothing was left out
	// quietly (and the typecheck above had them all to check).
	err := filepath.WalkDir(filepath.Join(clone, "proto"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".proto" {
			return err
		}
		rel, _ := filepath.Rel(filepath.Join(clone, "proto"), p)
		ts := filepath.Join(dir, "gen", strings.TrimSuffix(rel, ".proto")+"_pb.ts")
		if _, err := os.Stat(ts); err != nil {
			t.Errorf("%s has no generated TypeScript: %v", rel, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Without one of the committed third-party protos the same command
	// fails on the import: the copy above is what made it work.
	if err := os.Remove(filepath.Join(clone, "third_party", "proto", "google", "api", "http.proto")); err != nil {
		t.Fatal(err)
	}
	out, err := npm("run", "generate")
	if err == nil || !strings.Contains(out, "imported file does not exist") {
		t.Fatalf("npm run generate without google/api/http.proto: err %v, want a failure on the import:\n%s", err, out)
	}
}

// nodeOnlyPath returns a PATH holding node, npm and the sh npm runs scripts
// with, and nothing else (no Go, no .bin): npm adds node_modules/.bin itself.
func nodeOnlyPath(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	for _, tool := range []string{"node", "npm"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			testenv.SkipOrFail(t, "node", tool+" is not on PATH: install Node.js 20 or later with npm")
			return ""
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(sh, filepath.Join(bin, "sh")); err != nil {
		t.Fatal(err)
	}
	return bin
}

// withoutGo drops PATH and Go's variables (GOPATH, GOMODCACHE, GOFLAGS...).
func withoutGo(env []string) []string {
	var out []string
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") && !strings.HasPrefix(kv, "GO") {
			out = append(out, kv)
		}
	}
	return out
}

// exportTracked copies the files git tracks into dir, as a fresh clone of
// this tree would have them: nothing ignored or untracked comes along.
func exportTracked(t *testing.T, dir string) {
	t.Helper()
	rootOut, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("git rev-parse --show-toplevel: %v", err)
	}
	root := strings.TrimSpace(string(rootOut))
	files, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(files), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the work tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, info.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}
