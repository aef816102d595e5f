//go:build e2e

// Package e2e runs whole journeys against a `kinbridge serve all` built
// from this tree, as a separate process, with real clients.
package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

var (
	repoRoot string
	bin      string // the kinbridge binary under test
	grpcurl  string // grpcurl at the version pinned in tools/go.mod
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		wd, err := os.Getwd()
		if err != nil {
			panic(err)
		}
		repoRoot = filepath.Dir(wd)
		dir, err := os.MkdirTemp("", "kinbridge-e2e-")
		if err != nil {
			panic(err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "kinbridge")
		grpcurl = filepath.Join(dir, "grpcurl")
		for _, build := range [][]string{
			{"go", "build", "-o", bin, "./cmd/kinbridge"},
			{"go", "-C", "tools", "build", "-o", grpcurl, "github.com/fullstorydev/grpcurl/cmd/grpcurl"},
		} {
			cmd := exec.Command(build[0], build[1:]...)
			cmd.Dir, cmd.Stdout, cmd.Stderr = repoRoot, os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				fmt.Fprintln(os.Stderr, "e2e: build failed:", strings.Join(build, " "), err)
				return 1
			}
		}
		return m.Run()
	}())
}

// process is a running `kinbridge serve ...`.
type process struct {
	cmd          *exec.Cmd
	dataDir      string
	gateway      string // host:port
	progress     string // host:port
	notification string // host:port
	media        string // host:port
	metrics      string // host:port
	adminToken   string // from `kinbridge token issue --admin`
	signInLink   string // the banner's one-time sign-in link
	stderr       *syncBuffer
	done         chan error
}

// serve starts `kinbridge serve all` on ephemeral ports and waits until
// the gateway is ready. It is stopped with SIGTERM when the test ends and
// must exit 0.
func serve(t *testing.T, dataDir string, env []string, args ...string) *process {
	t.Helper()
	return start(t, "all", dataDir, env, append([]string{"--progress-listen", "127.0.0.1:0", "--media-listen", "127.0.0.1:0", "--notification-listen", "127.0.0.1:0",
		"--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"}, args...)...)
}

// journeyLimits are the rate limits every process a journey starts runs
// under, unless its args say otherwise (a later flag wins): everything a
// journey sends comes from 127.0.0.1, some of it by the thousand, so they
// are set far above that. The rate-limit journeys set their own.
var journeyLimits = []string{
	"--rate-limit-user", "100000", "--rate-limit-user-burst", "100000",
	"--rate-limit-address", "100000", "--rate-limit-address-burst", "100000",
	"--rate-limit-service", "100000", "--rate-limit-service-burst", "100000",
}

// start runs `kinbridge serve ROLE` and waits until it is ready: the
// gateway answers /readyz, a service answers its gRPC health check.
func start(t *testing.T, role, dataDir string, env []string, args ...string) *process {
	t.Helper()
	return startBinary(t, bin, role, dataDir, env, args...)
}

// startBinary is start with another kinbridge binary than the one built
// from this tree (a previous release, for the rolling-upgrade test).
func startBinary(t *testing.T, binary, role, dataDir string, env []string, args ...string) *process {
	t.Helper()
	p := &process{dataDir: dataDir, stderr: &syncBuffer{}, done: make(chan error, 1)}
	all := append(append([]string{"serve", role, "--data-dir", dataDir}, journeyLimits...), args...)
	p.cmd = exec.Command(binary, all...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stderr = p.stderr
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.stop(t) })

	addrs, err := banner.Read(stdout)
	p.progress, p.media, p.notification = addrs.Progress, addrs.Media, addrs.Notification
	p.gateway, p.metrics = addrs.Gateway, addrs.Metrics
	p.signInLink = addrs.SignInLink
	if err != nil {
		t.Fatalf("kinbridge serve %s: %v; stderr:\n%s", role, err, p.stderr)
	}
	// The process has loaded (on a first run, created) the user key in
	// dataDir by the time it prints its banner.
	p.adminToken = adminToken(t, dataDir)
	go io.Copy(io.Discard, stdout)
	if p.gateway == "" && p.progress == "" && p.notification == "" && p.media == "" {
		t.Fatalf("kinbridge did not print its addresses; stderr:\n%s", p.stderr)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := p.ready()
		if err == nil {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("kinbridge serve %s not ready: %v; stderr:\n%s", role, err, p.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// adminToken gets an administrator's token for the suite whose data is in
// dataDir as a person does, with the binary under test: `kinbridge token
// issue --admin` (serve prints a sign-in link, not a token).
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	cmd := exec.Command(bin, "token", "issue", "--admin", "--data-dir", dataDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		// Anything on stderr means it created a key the suite does not use.
		t.Fatalf("kinbridge token issue --admin --data-dir %s: %v\n%s", dataDir, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

// ready asks the process whether it serves.
func (p *process) ready() error {
	if p.gateway != "" {
		resp, err := http.Get("http://" + p.gateway + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz: %d", resp.StatusCode)
		}
		return nil
	}
	addr := p.progress
	for _, a := range []string{p.notification, p.media} {
		if addr == "" {
			addr = a
		}
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health: %v", resp.GetStatus())
	}
	return nil
}

// kill ends the process at once, as a crash would.
func (p *process) kill(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Kill()
	<-p.done // stop, at cleanup, then sees the process has ended
}

// stop sends SIGTERM and expects a clean exit within the drain time.
func (p *process) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("kinbridge exited with %v after SIGTERM; stderr:\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		t.Errorf("kinbridge did not stop within 30s of SIGTERM")
	}
}

// runScript runs a shell snippet from the repository root.
func runScript(t *testing.T, ctx context.Context, script string, env []string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("script failed: %v\n--- script\n%s\n--- output\n%s", err, script, out)
	}
	return string(out)
}

// syncBuffer holds a process's output while it runs.
type syncBuffer = testenv.SyncBuffer
