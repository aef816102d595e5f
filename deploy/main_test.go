package deploy

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
