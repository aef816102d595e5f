package main

// The CLI conventions, checked on the real binary for every command in the
// tables: --version, help CMD, exit status 2 for a command line that is
// wrong as typed and 1 for a failure, and shell completion.

import (
	"bytes"
	"errors"
	"flag"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testVersion is what buildKinbridge stamps into the binary, as the
// Makefile's LDFLAGS do.
const testVersion = "v9.8.7-test"

// buildKinbridge builds this command into a temporary directory.
func buildKinbridge(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "kinbridge")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// leaf is a command that runs, found by walking the command tables.
type leaf struct {
	path string // "children get"
	cmd  command
	sub  subcommand
}

func leaves() []leaf {
	var all []leaf
	for _, c := range commands() {
		if c.self != nil {
			all = append(all, leaf{c.name, c, *c.self})
		}
		for _, sub := range c.subs {
			all = append(all, leaf{c.name + " " + sub.name, c, sub})
		}
	}
	return all
}

// execResult is one run of the binary.
type execResult struct {
	code           int
	stdout, stderr string
}

// kbExec runs the binary with env (on top of a copy of the test's
// environment without any KINBRIDGE_ variable) and args.
func kbExec(t *testing.T, bin string, env []string, args ...string) execResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KINBRIDGE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := errors.AsType[*exec.ExitError](err); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("kinbridge %s: %v", strings.Join(args, " "), err)
	}
	return execResult{code, stdout.String(), stderr.String()}
}

func TestVersion(t *testing.T) {
	bin := buildKinbridge(t)
	for _, args := range [][]string{{"--version"}, {"version"}, {"-version"}} {
		r := kbExec(t, bin, nil, args...)
		if r.code != 0 || strings.TrimSpace(r.stdout) != testVersion {
			t.Errorf("kinbridge %s: exit %d, stdout %q, want %q", args[0], r.code, r.stdout, testVersion)
		}
	}
	if r := kbExec(t, bin, nil, "--version", "extra"); r.code != 2 {
		t.Errorf("--version extra: exit %d, want 2", r.code)
	}
}

// busyPort returns an address something already listens on.
func busyPort(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return lis.Addr().String()
}

// TestEveryCommandFollowsTheConventions runs every command in the tables
// through the real binary: -h and `help CMD` print the same help and exit
// 0; an unknown flag, a value a flag cannot take, extra arguments and
// (where the usage has a required part) no arguments exit 2; and a
// well-formed command line that cannot succeed here exits 1.
func TestEveryCommandFollowsTheConventions(t *testing.T) {
	bin := buildKinbridge(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "photo.jpg")
	notADir := filepath.Join(dir, "not-a-dir")
	for _, f := range []string{file, notADir} {
		if err := os.WriteFile(f, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	serveArgs := func(listenFlag string) []string {
		return []string{"--data-dir", t.TempDir(), "--metrics-listen", "", "--" + listenFlag, busyPort(t)}
	}
	// valid are well-formed command lines of every command, and the exit
	// status they get here: the client commands have no token, the
	// servers a port that is taken, migrate and token a path they cannot
	// use.
	valid := map[string]struct {
		args []string
		code int
	}{
		"serve all":           {serveArgs("progress-listen"), 1},
		"serve progress":      {serveArgs("progress-listen"), 1},
		"serve media":         {serveArgs("media-listen"), 1},
		"serve notification":  {serveArgs("notification-listen"), 1},
		"serve gateway":       {serveArgs("gateway-listen"), 1},
		"children create":     {[]string{"--name", "Ada"}, 1},
		"children list":       {nil, 1},
		"children get":        {[]string{"abc"}, 1},
		"children update":     {[]string{"abc", "--school", "Hill"}, 1},
		"children delete":     {[]string{"abc"}, 1},
		"guardians add":       {[]string{"abc", "--user", "maria", "--role", "guardian"}, 1},
		"guardians list":      {[]string{"abc"}, 1},
		"guardians remove":    {[]string{"abc", "maria"}, 1},
		"assessments add":     {[]string{"abc", "--subject", "Math", "--title", "Quiz", "--kind", "test", "--date", "2026-03-01"}, 1},
		"assessments list":    {[]string{"abc"}, 1},
		"milestones add":      {[]string{"abc", "--title", "Reads", "--date", "2026-03-01"}, 1},
		"milestones list":     {[]string{"abc"}, 1},
		"summary":             {[]string{"abc"}, 1},
		"whoami":              {nil, 1},
		"media upload":        {[]string{file, "--child", "abc"}, 1},
		"media list":          {[]string{"abc"}, 1},
		"media get":           {[]string{"children/abc/media/xyz"}, 1},
		"notifications list":  {nil, 1},
		"notifications count": {nil, 1},
		"notifications read":  {[]string{"--all"}, 1},
		"notifications watch": {nil, 1},
		"token issue":         {[]string{"--user", "maria", "--user-key", dir}, 1},
		"migrate":             {[]string{"--progress-db", "sqlite:" + filepath.Join(notADir, "progress.db")}, 1},
		"backup":              {[]string{"--to", t.TempDir(), "--data-dir", notADir}, 1},
		"restore":             {[]string{"--from", t.TempDir(), "--data-dir", t.TempDir()}, 1},
		"health":              {[]string{"--addr", "127.0.0.1:1", "--timeout", "2s"}, 1},
		"version":             {nil, 0},
		"help":                {[]string{"children", "get"}, 0},
		"completion":          {[]string{"bash"}, 0},
	}
	env := []string{"KINBRIDGE_STATE_DIR=" + t.TempDir(), "HOME=" + t.TempDir()}
	seen := map[string]bool{}
	for _, l := range leaves() {
		seen[l.path] = true
		t.Run(l.path, func(t *testing.T) {
			words := strings.Fields(l.path)
			expect := func(code int, args ...string) execResult {
				t.Helper()
				r := kbExec(t, bin, env, args...)
				if r.code != code {
					t.Errorf("kinbridge %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
				}
				return r
			}
			help := expect(0, append(slices.Clone(words), "-h")...)
			if !strings.HasPrefix(help.stdout, "Usage: kinbridge "+l.path) {
				t.Errorf("-h printed %q", help.stdout)
			}
			if r := expect(0, append([]string{"help"}, words...)...); r.stdout != help.stdout {
				t.Errorf("help %s printed\n%s\nbut -h printed\n%s", l.path, r.stdout, help.stdout)
			}
			if r := expect(2, append(slices.Clone(words), "--no-such-flag")...); !strings.Contains(r.stderr, "no-such-flag") {
				t.Errorf("unknown flag: stderr %q", r.stderr)
			}
			for _, f := range commandFlags(l.cmd, l.sub, l.path) {
				if getter, ok := f.Value.(flag.Getter); !ok {
					continue // a list: any text is a well-formed value
				} else if _, isString := getter.Get().(string); isString {
					continue
				}
				expect(2, append(slices.Clone(words), "--"+f.Name+"=not-a-value")...)
			}
			if required := !strings.HasPrefix(l.sub.usage, "[") && l.sub.usage != ""; required {
				expect(2, words...)
			}
			v, ok := valid[l.path]
			if !ok {
				t.Fatalf("no well-formed command line of %q in this test: add one", l.path)
			}
			expect(v.code, append(slices.Clone(words), v.args...)...)
			expect(2, append(append(slices.Clone(words), v.args...), "extra-1", "extra-2")...)
		})
	}
	for path := range valid {
		if !seen[path] {
			t.Errorf("%q is in this test but in no command table", path)
		}
	}
	t.Run("no command, unknown command, unknown help", func(t *testing.T) {
		for _, args := range [][]string{nil, {"nope"}, {"children"}, {"children", "nope"}, {"help", "nope"}, {"help", "children", "nope"}, {"help", "summary", "extra"}} {
			if r := kbExec(t, bin, env, args...); r.code != 2 {
				t.Errorf("kinbridge %s: exit %d, want 2", strings.Join(args, " "), r.code)
			}
		}
		for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "children"}, {"children", "-h"}} {
			if r := kbExec(t, bin, env, args...); r.code != 0 || !strings.Contains(r.stdout, "kinbridge") {
				t.Errorf("kinbridge %s: exit %d, stdout %q", strings.Join(args, " "), r.code, r.stdout)
			}
		}
	})
}

// TestUsageNamesEveryCommand keeps the hand-written usage text in step
// with the tables: each command is on a line of its own.
func TestUsageNamesEveryCommand(t *testing.T) {
	for _, l := range leaves() {
		found := false
		for line := range strings.Lines(usage) {
			fields := strings.Fields(line)
			if len(fields) < 2 || fields[0] != "kinbridge" || fields[1] != l.cmd.name {
				continue
			}
			found = l.cmd.self != nil || len(fields) > 2 && slices.Contains(strings.Split(fields[2], "|"), l.sub.name)
			if found {
				break
			}
		}
		if !found {
			t.Errorf("the usage text has no line for kinbridge %s", l.path)
		}
	}
}
