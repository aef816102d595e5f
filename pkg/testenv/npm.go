package testenv

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

var npmInstalls sync.Map // absolute dir -> *npmInstall

type npmInstall struct {
	once sync.Once
	err  error
}

// NPM installs the packages pinned in dir's package-lock.json with `npm ci`
// (once per test binary and dir) and returns dir's absolute path. It holds
// a shared lock on the lockfile until the test ends, so another test
// binary's `npm ci` does not replace node_modules under a running tool.
//
// Without node and npm on PATH, or when `npm ci` fails (no registry), the
// test is skipped, or fails when KINBRIDGE_TEST_REQUIRE names "node"; see
// [SkipOrFail].
func NPM(t testing.TB, dir string) string {
	t.Helper()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			SkipOrFail(t, "node", tool+" is not on PATH: install Node.js 20 or later with npm")
			return ""
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	lock := func(how int) (unlock func(), err error) {
		f, err := os.Open(filepath.Join(dir, "package-lock.json"))
		if err != nil {
			return nil, err
		}
		if err := syscall.Flock(int(f.Fd()), how); err != nil {
			f.Close()
			return nil, err
		}
		return func() { f.Close() }, nil // closing releases the lock
	}
	v, _ := npmInstalls.LoadOrStore(dir, &npmInstall{})
	in := v.(*npmInstall)
	in.once.Do(func() {
		unlock, err := lock(syscall.LOCK_EX)
		if err != nil {
			in.err = err
			return
		}
		defer unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			in.err = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	if in.err != nil {
		SkipOrFail(t, "node", in.err.Error())
		return ""
	}
	unlock, err := lock(syscall.LOCK_SH)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	return dir
}
