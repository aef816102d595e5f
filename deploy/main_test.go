package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testVersion is the version the tests build kinbridge with.
const testVersion = "v0.0.0-deploytest"

// binDir holds what the tests build, once for all of them.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kinbridge-deploy-test-")
	if err != nil {
		panic(err)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
	buildOut  []byte
)

// kinbridgeBinary builds cmd/kinbridge as `make image` does (static,
// linux/amd64) from this tree, once per test run, and returns its path.
func kinbridgeBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "kinbridge")
	buildOnce.Do(func() {
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version="+testVersion, "-o", bin, "./cmd/kinbridge")
		cmd.Dir = ".."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/kinbridge: %v\n%s", buildErr, buildOut)
	}
	return bin
}

// roles are the serve targets of a split deployment.
var roles = []string{"progress", "media", "notification", "gateway"}

var (
	flagsOnce sync.Once
	flagsErr  error
	flagSet   map[string]map[string]string // role -> flag -> default ("" when none)
)

// flagLine is a flag in the help text: "  --progress-db string" or
// "  -progress-db value"; its default follows on the line or the next ones.
var (
	flagLine = regexp.MustCompile(`^\s+--?([a-z0-9-]+)\b`)
	// Go's flag package prints `(default "127.0.0.1:9101")`; the usage
	// texts' own "(default: ...)" have a colon.
	defaultText = regexp.MustCompile(`\(default (?:"([^"]*)"|([^)]*))\)`)
)

// serverFlags returns, per role, the flags `kinbridge serve ROLE -h` lists
// with their defaults: what the binary really reads, so the compose file
// and the chart cannot name a flag that does not exist.
func serverFlags(t *testing.T) map[string]map[string]string {
	t.Helper()
	bin := kinbridgeBinary(t)
	flagsOnce.Do(func() {
		flagSet = map[string]map[string]string{}
		for _, role := range append([]string{"all"}, roles...) {
			cmd := exec.Command(bin, "serve", role, "-h")
			cmd.Env = []string{"HOME=" + binDir}
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			_ = cmd.Run() // -h may exit non-zero; the text is what counts
			flags := map[string]string{}
			var last string
			sc := bufio.NewScanner(&out)
			for sc.Scan() {
				line := sc.Text()
				if m := flagLine.FindStringSubmatch(line); m != nil {
					last = m[1]
					flags[last] = ""
				}
				if ms := defaultText.FindAllStringSubmatch(line, -1); ms != nil && last != "" {
					m := ms[len(ms)-1]
					flags[last] = m[1] + m[2]
				}
			}
			if len(flags) < 5 {
				flagsErr = &helpError{role, out.String()}
				return
			}
			flagSet[role] = flags
		}
	})
	if flagsErr != nil {
		t.Fatal(flagsErr)
	}
	return flagSet
}

type helpError struct{ role, out string }

func (e *helpError) Error() string {
	return "kinbridge serve " + e.role + " -h lists almost no flags:\n" + e.out
}

var (
	healthOnce  sync.Once
	healthErr   error
	healthFlagS map[string]bool // flag -> takes a value
)

// healthFlagLine is a flag in `kinbridge health -h`: "  -addr string",
// or "  -json" for a flag that takes no value.
var healthFlagLine = regexp.MustCompile(`^\s+--?([a-z0-9-]+)( \S+)?$`)

// healthFlags returns the flags `kinbridge health -h` lists, and whether
// each takes a value: the probe the compose file and the chart run.
func healthFlags(t *testing.T) map[string]bool {
	t.Helper()
	bin := kinbridgeBinary(t)
	healthOnce.Do(func() {
		cmd := exec.Command(bin, "health", "-h")
		cmd.Env = []string{"HOME=" + binDir}
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run()
		healthFlagS = map[string]bool{}
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			if m := healthFlagLine.FindStringSubmatch(sc.Text()); m != nil {
				healthFlagS[m[1]] = m[2] != ""
			}
		}
		if len(healthFlagS) < 4 {
			healthErr = &helpError{"health", out.String()}
		}
	})
	if healthErr != nil {
		t.Fatal(healthErr)
	}
	return healthFlagS
}

// parseHealth checks that argv (what follows the binary) is a
// `kinbridge health` command line: flags the binary lists, each with its
// value, no other argument; and that the binary itself takes it (exit 0
// or 1, whatever answers here, never 2, a command line it refuses). It
// returns the flags' values.
func parseHealth(t *testing.T, where string, argv []string) map[string]string {
	t.Helper()
	if len(argv) == 0 || argv[0] != "health" {
		t.Errorf("%s: runs %q, want kinbridge health", where, argv)
		return nil
	}
	known := healthFlags(t)
	values := map[string]string{}
	for i := 1; i < len(argv); i++ {
		name, value, inline := strings.Cut(strings.TrimLeft(argv[i], "-"), "=")
		takes, ok := known[name]
		switch {
		case !strings.HasPrefix(argv[i], "-") || !ok:
			t.Errorf("%s: %q is no flag of kinbridge health (it has %v)", where, argv[i], known)
			continue
		case takes && !inline:
			if i+1 == len(argv) {
				t.Errorf("%s: --%s has no value", where, name)
				continue
			}
			i++
			value = argv[i]
		}
		values[name] = value
	}
	// Where the addresses are the container's, they are not this
	// machine's: a short timeout bounds the run.
	run := append(slices.Clone(argv), "--timeout", "1s")
	cmd := exec.Command(kinbridgeBinary(t), run...)
	cmd.Env = []string{"HOME=" + binDir}
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); ok && exit.ExitCode() == 2 {
		t.Errorf("%s: kinbridge %s: the binary refuses the command line:\n%s", where, strings.Join(argv, " "), out)
	} else if err != nil && !ok {
		t.Fatal(err)
	}
	return values
}
