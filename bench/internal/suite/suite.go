// Package suite runs `kinbridge serve all` as a separate process for the
// load generators under bench/: on ephemeral loopback ports, with a data
// directory of its own, tied to the life of the load generator. It also
// reads a process's memory from /proc and describes the machine.
package suite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	kbbanner "github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// Server is one `kinbridge serve all` run as a separate process, on
// ephemeral loopback ports, with its own data directory.
type Server struct {
	DataDir      string
	Progress     string // host:port of progress gRPC
	Media        string // host:port of media gRPC
	Notification string // host:port of notification gRPC
	Gateway      string // host:port of the REST gateway
	Metrics      string // host:port of /metrics

	cmd     *exec.Cmd
	done    chan error
	logPath string
	issuer  *auth.UserIssuer
}

// LoadLimits are the rate limits a benchmark's server runs under. All its
// load comes from 127.0.0.1 and a few users, far past what the defaults
// let one address or one user send: a benchmark measures the suite, not
// its rate limits, so they are set far above what it sends.
var LoadLimits = []string{
	"--rate-limit-user", "1000000", "--rate-limit-user-burst", "1000000",
	"--rate-limit-address", "1000000", "--rate-limit-address-burst", "1000000",
	"--rate-limit-service", "1000000", "--rate-limit-service-burst", "1000000",
}

// Start runs bin in a fresh data directory under dir, with env added to
// this process's environment and, after the listen flags and [LoadLimits],
// args, and waits until the gateway answers /readyz.
func Start(ctx context.Context, bin, dir string, env []string, args ...string) (*Server, error) {
	dataDir, err := os.MkdirTemp(dir, "data-")
	if err != nil {
		return nil, err
	}
	s := &Server{DataDir: dataDir, logPath: filepath.Join(dataDir, "server.log"), done: make(chan error, 1)}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin, append([]string{"serve", "all", "--data-dir", dataDir,
		"--progress-listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--notification-listen", "127.0.0.1:0",
		"--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, slices.Concat(LoadLimits, args)...)...)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = childAttrs() // dies with the load generator
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()

	banner := make(chan error, 1)
	go func() {
		addrs, err := kbbanner.Read(stdout)
		s.Progress, s.Media, s.Notification = addrs.Progress, addrs.Media, addrs.Notification
		s.Gateway, s.Metrics = addrs.Gateway, addrs.Metrics
		banner <- err
		_, _ = io.Copy(io.Discard, stdout)
	}()
	fail := func(err error) (*Server, error) {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.LogTail(20))
	}
	select {
	case err := <-banner:
		if err != nil {
			return fail(err)
		}
	case <-time.After(60 * time.Second):
		return fail(errors.New("kinbridge did not print its addresses within 60s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if s.Progress == "" || s.Media == "" || s.Notification == "" || s.Gateway == "" || s.Metrics == "" {
		return fail(errors.New("kinbridge did not print every address"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.Gateway + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
			err = fmt.Errorf("readyz: %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("kinbridge not ready: %w", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	key, err := auth.LoadKey(filepath.Join(dataDir, "keys", "user.pem"))
	if err != nil {
		return fail(err)
	}
	s.issuer = auth.NewUserIssuer(key)
	return s, nil
}

// PID is the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Token issues a user token signed with the server's user key, as
// `kinbridge token issue` does.
func (s *Server) Token(user string, admin bool) (string, error) {
	return s.issuer.Issue(user, admin, 2*time.Hour)
}

// Stop sends SIGTERM and waits for the drain, then kills.
func (s *Server) Stop() {
	if s.cmd.Process == nil {
		return
	}
	select {
	case err := <-s.done:
		s.done <- err
		return // already gone
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-s.done:
		s.done <- err
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		s.done <- <-s.done
	}
}

// LogTail returns the last n lines of the server's stderr.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- kinbridge stderr (tail) ---\n" + strings.Join(lines, "\n")
}

// Scrape returns the unlabelled samples of the server's /metrics.
func (s *Server) Scrape(ctx context.Context) (map[string]float64, error) {
	all, err := s.ScrapeAll(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for series, v := range all {
		if !strings.ContainsRune(series, '{') {
			out[series] = v
		}
	}
	return out, nil
}

// ScrapeAll returns every sample of the server's /metrics by its series
// (name and labels, as written).
func (s *Server) ScrapeAll(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics: %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		// name{labels} value [timestamp]; label values may hold spaces.
		cut := strings.LastIndexByte(line, '}') + 1
		if cut == 0 {
			cut = strings.IndexByte(line, ' ')
		}
		if cut <= 0 || cut >= len(line) {
			continue
		}
		fields := strings.Fields(line[cut:])
		if len(fields) == 0 {
			continue
		}
		if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
			out[line[:cut]] = v
		}
	}
	return out, sc.Err()
}

// Workspace makes a run's temporary folder under parent (the system's
// when ""), removed by cleanup unless keep says to leave it (and where it
// is told to out), and builds kinbridge into it when *bin is "".
func Workspace(ctx context.Context, parent, prefix string, keep bool, out io.Writer, bin *string) (dir string, cleanup func(), err error) {
	if dir, err = os.MkdirTemp(parent, prefix); err != nil {
		return "", nil, err
	}
	cleanup = func() { os.RemoveAll(dir) }
	if keep {
		fmt.Fprintf(out, "files, data directories and server logs kept in %s\n", dir)
		cleanup = func() {}
	}
	if *bin == "" {
		if *bin, err = Build(ctx, dir); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return dir, cleanup, nil
}

// Build builds ./cmd/kinbridge (run from the repository root) into dir and
// returns the binary's path.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "kinbridge")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/kinbridge")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building kinbridge (run from the repository root or pass -bin): %w", err)
	}
	return bin, nil
}
