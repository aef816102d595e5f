package main

// `kinbridge health` against real servers on ephemeral ports: the suite
// in plaintext and over mutual TLS, a progress service whose database
// goes away, a gateway whose services are away, and a bare health server
// that says NOT_SERVING.

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// healthCase is one run of `kinbridge health`: its exit status and what
// its output (stdout on success, the one line on stderr otherwise) says.
type healthCase struct {
	name string
	args []string
	code int
	say  []string
}

// kbHealth runs `kinbridge health args` in the test process, as main
// would: its exit status, stdout and stderr.
func kbHealth(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := run(ctx, append([]string{"health"}, args...), &stdout, &stderr)
	return exitCode(err, &stderr), stdout.String(), stderr.String()
}

func (c healthCase) check(t *testing.T) {
	t.Helper()
	code, stdout, stderr := kbHealth(t, c.args...)
	out := stdout
	if c.code != 0 {
		out = stderr
		// One line a person (or docker inspect) reads; the usage
		// errors (exit 2) add the usage line.
		if lines := strings.Count(stderr, "\n"); c.code == 1 && (lines != 1 || stdout != "") {
			t.Errorf("%s: health %q printed %d lines on stderr, stdout %q; want one line on stderr:\n%s", c.name, c.args, lines, stdout, stderr)
		}
	}
	if code != c.code {
		t.Errorf("%s: health %q: exit %d, want %d\nstdout: %s\nstderr: %s", c.name, c.args, code, c.code, stdout, stderr)
		return
	}
	for _, w := range c.say {
		if !strings.Contains(out, w) {
			t.Errorf("%s: health %q does not say %q:\n%s", c.name, c.args, w, out)
		}
	}
}

func TestHealthAgainstTheSuite(t *testing.T) {
	s := startSuite(t)
	ca := testenv.MustCA(t)
	closed := testenv.FreeAddr(t)

	// A health server that says NOT_SERVING, as a draining server does.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	hs.SetServingStatus(grpcserver.LivenessService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	draining := lis.Addr().String()

	for _, c := range []healthCase{
		{"progress ready", []string{"--addr", s.progress}, 0, []string{"SERVING"}},
		{"media alive", []string{"--addr", s.media, "--service", grpcserver.LivenessService}, 0, []string{"SERVING"}},
		{"notification ready", []string{"--addr", s.notification, "--timeout", "2s"}, 0, []string{"SERVING"}},
		{"an unknown service", []string{"--addr", s.progress, "--service", "kinbridge.nope"}, 1, []string{"kinbridge.nope", "NOT_FOUND"}},
		{"NOT_SERVING", []string{"--addr", draining}, 1, []string{draining, "NOT_SERVING"}},
		{"NOT_SERVING yet alive", []string{"--addr", draining, "--service", grpcserver.LivenessService}, 0, []string{"SERVING"}},
		{"nothing listens", []string{"--addr", closed}, 1, []string{"cannot reach " + closed, "connection refused"}},
		{"TLS to a plaintext server", []string{"--addr", s.progress, "--tls-ca", ca.CertFile}, 1, []string{"cannot reach"}},
		{"gateway /healthz", []string{"--url", s.gateway + "/healthz"}, 0, []string{"200 OK"}},
		{"gateway /readyz", []string{"--url", s.gateway + "/readyz"}, 0, []string{"200 OK"}},
		{"a page that is not 2xx", []string{"--url", s.gateway + "/v1/children"}, 1, []string{"401"}},
		{"HTTP where nothing listens", []string{"--url", "http://" + closed + "/readyz"}, 1, []string{"cannot reach", "connection refused"}},
		{"--url with --addr", []string{"--url", s.gateway + "/readyz", "--addr", s.progress}, 2, []string{"one or the other"}},
		{"--url that is no URL", []string{"--url", "progress:9101"}, 2, []string{"--url"}},
		{"no timeout", []string{"--addr", s.progress, "--timeout", "0s"}, 2, []string{"--timeout"}},
		{"--tls-server-name in plaintext", []string{"--addr", s.progress, "--tls-server-name", "progress"}, 2, []string{"needs --tls-ca"}},
		{"a client certificate without a CA", []string{"--addr", s.progress, "--tls-cert", "c.pem", "--tls-key", "k.pem"}, 2, []string{"need --tls-ca"}},
	} {
		c.check(t)
	}
}

// TestHealthOverMutualTLS probes a suite that requires client
// certificates: the CA and a client certificate get through, the CA alone
// does not; --tls-server-name checks another name than the address's; the
// TLS flags come from the environment as well, where a server's container
// has them.
func TestHealthOverMutualTLS(t *testing.T) {
	ca := testenv.MustCA(t)
	node := ca.MustIssue(t, "node", "kinbridge-progress")
	client := ca.MustIssue(t, "client")
	s, _ := tlsSuite(t, ca, node, &client, "--tls-client-ca", ca.CertFile)
	mutual := []string{"--tls-ca", ca.CertFile, "--tls-cert", client.CertFile, "--tls-key", client.KeyFile}
	with := func(args ...string) []string { return append(args, mutual...) }
	gatewayHost := hostOf(t, s.gateway)

	for _, c := range []healthCase{
		{"progress ready", with("--addr", s.progress), 0, []string{"SERVING"}},
		{"media alive", with("--addr", s.media, "--service", grpcserver.LivenessService), 0, []string{"SERVING"}},
		{"notification ready", with("--addr", s.notification), 0, []string{"SERVING"}},
		{"without a client certificate", []string{"--addr", s.progress, "--tls-ca", ca.CertFile}, 1, []string{"cannot reach " + s.progress}},
		{"in plaintext", []string{"--addr", s.progress}, 1, []string{"cannot reach " + s.progress}},
		{"another CA", []string{"--addr", s.progress, "--tls-ca", testenv.MustCA(t).CertFile}, 1, []string{"cannot reach", "certificate"}},
		{"the service's name", with("--addr", s.progress, "--tls-server-name", "kinbridge-progress"), 0, []string{"SERVING"}},
		{"a name the certificate lacks", with("--addr", s.progress, "--tls-server-name", "elsewhere"), 1, []string{"cannot reach", "elsewhere"}},
		{"gateway /readyz", []string{"--url", s.gateway + "/readyz", "--tls-ca", ca.CertFile}, 0, []string{"200 OK"}},
		{"gateway /healthz with a client certificate", with("--url", s.gateway+"/healthz"), 0, []string{"200 OK"}},
		{"gateway by its name", []string{"--url", s.gateway + "/readyz", "--tls-ca", ca.CertFile, "--tls-server-name", "kinbridge-progress"}, 0, []string{"200 OK"}},
		{"gateway without the CA", []string{"--url", s.gateway + "/readyz"}, 1, []string{"cannot reach", "certificate"}},
		{"gateway in plain http", []string{"--url", "http://" + gatewayHost + "/readyz"}, 1, []string{"400"}},
	} {
		c.check(t)
	}

	t.Setenv("KINBRIDGE_TLS_CA", ca.CertFile)
	t.Setenv("KINBRIDGE_TLS_CERT", client.CertFile)
	t.Setenv("KINBRIDGE_TLS_KEY", client.KeyFile)
	healthCase{"TLS from the environment", []string{"--addr", s.progress}, 0, []string{"SERVING"}}.check(t)
	t.Setenv("KINBRIDGE_TLS_CERT", "")
	t.Setenv("KINBRIDGE_TLS_KEY", "")
	healthCase{"the CA alone from the environment", []string{"--addr", s.progress}, 1, []string{"cannot reach " + s.progress}}.check(t)
}

// TestHealthFollowsTheDatabase: readiness of a progress service turns
// NOT_SERVING, and health exits 1, while its PostgreSQL is cut off, and
// back once it returns; liveness stays SERVING throughout.
func TestHealthFollowsTheDatabase(t *testing.T) {
	dsn, err := url.Parse(testenv.Postgres(t))
	if err != nil {
		t.Fatal(err)
	}
	proxy := testenv.NewProxy(t, dsn.Host)
	dsn.Host = proxy.Addr()
	progress := startRole(t, "progress", "--data-dir", t.TempDir(), "--progress-listen", "127.0.0.1:0",
		"--progress-db", dsn.String(), "--media-addr", "127.0.0.1:1", "--notification-addr", "127.0.0.1:1").Progress
	ready := []string{"--addr", progress, "--timeout", "2s"}
	alive := append(ready, "--service", grpcserver.LivenessService)

	// waitFor polls readiness until it exits with code.
	waitFor := func(code int, what string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, stdout, stderr := kbHealth(t, ready...)
			if got == code {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: health still exits %d, want %d:\n%s%s", what, got, code, stdout, stderr)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitFor(0, "with its database")
	healthCase{"alive", alive, 0, []string{"SERVING"}}.check(t)

	proxy.Cut()
	waitFor(1, "its database cut off")
	healthCase{"not ready", ready, 1, []string{progress, `service ""`, "NOT_SERVING"}}.check(t)
	healthCase{"alive all the same", alive, 0, []string{"SERVING"}}.check(t)

	proxy.Restore()
	waitFor(0, "its database back")
}

// TestHealthOfAGatewayWhoseServicesAreAway: the gateway's process is up
// (/healthz) but not ready (/readyz), which names the service it misses.
func TestHealthOfAGatewayWhoseServicesAreAway(t *testing.T) {
	away := testenv.FreeAddr(t)
	gw := startRole(t, "gateway", "--data-dir", t.TempDir(), "--gateway-listen", "127.0.0.1:0",
		"--progress-addr", away, "--media-addr", away, "--notification-addr", away)
	base := "http://" + gw.Gateway
	healthCase{"/healthz", []string{"--url", base + "/healthz"}, 0, []string{"200 OK"}}.check(t)
	healthCase{"/readyz", []string{"--url", base + "/readyz"}, 1, []string{"503 Service Unavailable", `"progress":"unreachable"`}}.check(t)
}
