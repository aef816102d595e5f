package main

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
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// server is one `kinbridge serve all` run as a separate process, on
// ephemeral loopback ports, with its own data directory.
type server struct {
	cmd          *exec.Cmd
	done         chan error
	dataDir      string
	logPath      string
	progress     string // host:port
	notification string // host:port
	gateway      string // host:port
	metrics      string // host:port
	issuer       *auth.UserIssuer
}

var addrRE = regexp.MustCompile(`^\s+(progress gRPC|notification gRPC|REST gateway|metrics)\s+(?:http://)?([^/\s]+)`)

// startServer runs bin in a fresh data directory under dir and waits
// until the gateway answers /readyz.
func startServer(ctx context.Context, bin, dir string, env []string) (*server, error) {
	dataDir, err := os.MkdirTemp(dir, "data-")
	if err != nil {
		return nil, err
	}
	s := &server{dataDir: dataDir, logPath: filepath.Join(dataDir, "server.log"), done: make(chan error, 1)}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child has its own descriptor
	s.cmd = exec.Command(bin, "serve", "all", "--data-dir", dataDir,
		"--progress-listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--notification-listen", "127.0.0.1:0",
		"--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
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
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				switch m[1] {
				case "progress gRPC":
					s.progress = m[2]
				case "notification gRPC":
					s.notification = m[2]
				case "REST gateway":
					s.gateway = m[2]
				case "metrics":
					s.metrics = m[2]
				}
			}
			if strings.HasPrefix(line, "More tokens:") {
				banner <- nil
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		banner <- errors.New("kinbridge exited before printing its addresses")
	}()
	fail := func(err error) (*server, error) {
		s.stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logTail(20))
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
	if s.progress == "" || s.notification == "" || s.gateway == "" || s.metrics == "" {
		return fail(errors.New("kinbridge did not print every address"))
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + s.gateway + "/readyz")
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

func (s *server) pid() int { return s.cmd.Process.Pid }

// token issues a user token signed with the server's user key.
func (s *server) token(user string, admin bool) (string, error) {
	return s.issuer.Issue(user, admin, 2*time.Hour)
}

// stop sends SIGTERM and waits for the drain, then kills.
func (s *server) stop() {
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

// logTail returns the last n lines of the server's stderr.
func (s *server) logTail(n int) string {
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

// memSample is one reading of the server's memory and resources.
type memSample struct {
	RSS        float64 // VmRSS from /proc/<pid>/status, bytes
	HeapInuse  float64 // go_memstats_heap_inuse_bytes
	StackInuse float64 // go_memstats_stack_inuse_bytes
	Goroutines float64 // go_goroutines
	OpenFDs    float64 // process_open_fds
	GCs        float64 // go_gc_duration_seconds_count
	CPUSeconds float64 // process_cpu_seconds_total
}

// sample reads the server's RSS and scrapes its /metrics.
func (s *server) sample(ctx context.Context) (memSample, error) {
	var m memSample
	rss, err := vmRSS(s.pid())
	if err != nil {
		return m, err
	}
	m.RSS = rss
	metrics, err := s.scrape(ctx)
	if err != nil {
		return m, err
	}
	for name, dst := range map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &m.HeapInuse,
		"go_memstats_stack_inuse_bytes": &m.StackInuse,
		"go_goroutines":                 &m.Goroutines,
		"process_open_fds":              &m.OpenFDs,
		"go_gc_duration_seconds_count":  &m.GCs,
		"process_cpu_seconds_total":     &m.CPUSeconds,
	} {
		v, ok := metrics[name]
		if !ok {
			return m, fmt.Errorf("/metrics has no %s", name)
		}
		*dst = v
	}
	if m.RSS == 0 { // no /proc: fall back to the process collector
		m.RSS = metrics["process_resident_memory_bytes"]
	}
	return m, nil
}

// scrape returns the unlabelled samples of the server's /metrics.
func (s *server) scrape(ctx context.Context) (map[string]float64, error) {
	all, err := s.scrapeAll(ctx)
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

// rpcServerTime is how many calls of a gRPC method the server has
// finished, and their total duration in seconds, whatever their status.
func (s *server) rpcServerTime(ctx context.Context, method string) (count, seconds float64, err error) {
	all, err := s.scrapeAll(ctx)
	if err != nil {
		return 0, 0, err
	}
	label := `rpc_method="` + method + `"`
	for series, v := range all {
		name, labels, ok := strings.Cut(series, "{")
		if !ok || !strings.Contains(labels, label) {
			continue
		}
		switch name {
		case "rpc_server_call_duration_seconds_count":
			count += v
		case "rpc_server_call_duration_seconds_sum":
			seconds += v
		}
	}
	return count, seconds, nil
}

// scrapeAll returns every sample of the server's /metrics by its series
// (name and labels, as written).
func (s *server) scrapeAll(ctx context.Context) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metrics+"/metrics", nil)
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

// vmRSS reads VmRSS of a process from /proc; 0 where there is no /proc.
func vmRSS(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if errors.Is(err, os.ErrNotExist) {
		if _, statErr := os.Stat("/proc/self/status"); statErr != nil {
			return 0, nil
		}
	}
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				return kb * 1024, err
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}
