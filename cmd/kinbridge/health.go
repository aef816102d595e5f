package main

// `kinbridge health` asks a Kinbridge process once whether it serves, and
// says so in its exit status: the probe of the compose file's healthchecks
// and of the Helm chart's exec probes. The image has no shell and no curl,
// and Kubernetes' own gRPC probes cannot speak TLS, so the binary probes
// itself.

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
)

var healthCommand = subcommand{"health", "[--addr HOST:PORT] [--service NAME] | --url URL",
	"ask a server's gRPC health, or a gateway's /healthz or /readyz, once: exit 0 when it serves", healthRun}

// healthFlags are health's own flags. They are plain flags, not settings:
// a KINBRIDGE_ADDR or KINBRIDGE_TIMEOUT exported for the client commands
// must not redirect a probe. Only the TLS flags come from the environment,
// named as the servers' settings, so a probe run in a server's container
// finds the server's CA and certificate.
type healthFlags struct {
	addr, service, url, serverName string
	timeout                        time.Duration
	tls                            clientFlags
}

func healthRun(ctx context.Context, cmd *cmdline, args []string) error {
	var f healthFlags
	cmd.local.StringVar(&f.addr, "addr", progressAPI.addr, "gRPC address of the server to ask")
	cmd.local.StringVar(&f.service, "service", "", `the health service to ask: "" for readiness (NOT_SERVING while the database is away or the server drains),
`+grpcserver.LivenessService+" for liveness (SERVING while the process runs)")
	cmd.local.StringVar(&f.url, "url", "", "ask over HTTP(S) instead: GET this URL (a gateway's /healthz or /readyz); a 2xx answer is healthy")
	cmd.local.DurationVar(&f.timeout, "timeout", 5*time.Second, "how long to wait for the answer")
	cmd.local.StringVar(&f.serverName, "tls-server-name", "", "the name the server's certificate must hold (default: the host of --addr or --url)")
	f.tls.defineTLS(cmd.global)
	args, err := cmd.parse(args)
	if err != nil {
		return err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return err
	}
	if f.timeout <= 0 {
		return usagef("--timeout must be positive, got %s", f.timeout)
	}
	if f.url != "" && (cmd.given("addr") || cmd.given("service")) {
		return usagef("--url asks over HTTP, --addr and --service over gRPC: give one or the other")
	}
	tlsCfg, err := f.tls.tlsConfig()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if f.url != "" {
		return f.checkHTTP(ctx, cmd.stdout, tlsCfg)
	}
	if f.serverName != "" {
		if tlsCfg == nil {
			return usagef("--tls-server-name needs --tls-ca: the connection is TLS only with it")
		}
		tlsCfg.ServerName = f.serverName
	}
	return f.checkGRPC(ctx, cmd.stdout, tlsCfg)
}

// checkGRPC calls grpc.health.v1.Health/Check once.
func (f *healthFlags) checkGRPC(ctx context.Context, stdout io.Writer, tlsCfg *tls.Config) error {
	conn, err := grpcclient.New(f.addr, grpcclient.Options{TLS: tlsCfg, Timeout: f.timeout})
	if err != nil {
		return fmt.Errorf("--addr %q: %w", f.addr, err)
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: f.service})
	service := fmt.Sprintf("service %q", f.service)
	if err != nil {
		st := status.Convert(err)
		switch st.Code() {
		case codes.Unavailable:
			return fmt.Errorf("cannot reach %s: %s", f.addr, st.Message())
		case codes.DeadlineExceeded:
			return fmt.Errorf("no answer from %s within %s (--timeout)", f.addr, f.timeout)
		case codes.NotFound:
			return fmt.Errorf("%s has no health %s (NOT_FOUND): ask \"\" (readiness) or %s", f.addr, service, grpcserver.LivenessService)
		case codes.Unimplemented:
			return fmt.Errorf("%s serves no gRPC health service (UNIMPLEMENTED)", f.addr)
		}
		return fmt.Errorf("%s, %s: %s: %s", f.addr, service, st.Code(), st.Message())
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("%s, %s: %s", f.addr, service, s)
	}
	_, err = fmt.Fprintf(stdout, "%s, %s: SERVING\n", f.addr, service)
	return err
}

// healthBodyExcerpt bounds how much of a failed answer's body the error
// line carries (a gateway's /readyz says there which service is down).
const healthBodyExcerpt = 200

// checkHTTP GETs --url once.
func (f *healthFlags) checkHTTP(ctx context.Context, stdout io.Writer, tlsCfg *tls.Config) error {
	u, err := url.Parse(f.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usagef("--url %q: want http://HOST:PORT/PATH or https://HOST:PORT/PATH", f.url)
	}
	if f.serverName != "" {
		if tlsCfg == nil {
			tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12} // the system's roots
		}
		tlsCfg.ServerName = f.serverName
	}
	// No proxy from the environment: a probe asks the server itself.
	transport := &http.Transport{TLSClientConfig: tlsCfg, ForceAttemptHTTP2: true}
	defer transport.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usagef("--url %q: %v", f.url, err)
	}
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("no answer from %s within %s (--timeout)", f.url, f.timeout)
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return fmt.Errorf("cannot reach %s: %v", f.url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, healthBodyExcerpt))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		excerpt := strings.Join(strings.Fields(string(body)), " ")
		if excerpt != "" {
			excerpt = ": " + excerpt
		}
		return fmt.Errorf("GET %s: %s%s", f.url, resp.Status, excerpt)
	}
	_, err = fmt.Fprintf(stdout, "GET %s: %s\n", f.url, resp.Status)
	return err
}
