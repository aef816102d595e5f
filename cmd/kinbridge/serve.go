package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/kinbridge/kinbridge/gateway"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/services/progress"
)

// roles lists what each `serve` argument starts.
var roles = map[string][]string{
	"all":      {"progress", "gateway"},
	"progress": {"progress"},
	"gateway":  {"gateway"},
}

// devTokenTTL is how long the admin token printed on a first run lasts.
const devTokenTTL = 30 * 24 * time.Hour

// serve runs one service, the gateway, or all of them in one process. Even
// in one process every service has its own port and they talk real gRPC,
// so a trace of a local run shows the same hops as a split deployment.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || roles[args[0]] == nil {
		return errors.New("serve what? kinbridge serve all|progress|gateway")
	}
	role := args[0]
	c, set, err := parseSettings("serve "+role, args[1:], stderr)
	if err != nil {
		return err
	}
	level, err := c.logLevel()
	if err != nil {
		return err
	}
	tcfg := telemetry.Config{Version: buildVersion(), LogFormat: c.LogFormat, LogLevel: level, LogOutput: stderr}
	if role != "all" {
		tcfg.ServiceName = role
	}
	tel, err := telemetry.Init(ctx, tcfg)
	if err != nil {
		return err
	}
	defer func() {
		// The signal context is done by now; flushing needs its own time.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tel.Shutdown(sctx)
	}()
	logger := tel.Logger("kinbridge")
	set.Log(logger)

	userKey, created, err := auth.LoadOrCreateKey(c.UserKey)
	if err != nil {
		return fmt.Errorf("user signing key: %w", err)
	}
	serviceKey, _, err := auth.LoadOrCreateKey(c.ServiceKey)
	if err != nil {
		return fmt.Errorf("service signing key: %w", err)
	}
	verifier, err := c.verifier(userKey.Public().(ed25519.PublicKey), serviceKey.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}

	group, ctx := errgroup.WithContext(ctx)
	var banner []string
	runs := map[string]bool{}
	for _, r := range roles[role] {
		runs[r] = true
	}

	if runs["progress"] {
		lis, err := net.Listen("tcp", c.ProgressListen)
		if err != nil {
			return fmt.Errorf("progress: %w", err)
		}
		if role == "all" {
			// The gateway in this process dials what was really bound (the
			// port may have been 0).
			c.ProgressAddr = lis.Addr().String()
		}
		svc, err := progress.New(ctx, progress.Config{DSN: c.ProgressDB, TracerProvider: tel.TracerProvider("progress")})
		if err != nil {
			lis.Close()
			return err
		}
		defer svc.Close()
		srv, err := grpcserver.New(grpcserver.Options{
			Logger:         tel.Logger("progress"),
			TracerProvider: tel.TracerProvider("progress"),
			MeterProvider:  tel.MeterProvider(),
			Verifier:       verifier,
		})
		if err != nil {
			lis.Close()
			return err
		}
		svc.Register(srv)
		group.Go(func() error { return srv.Serve(ctx, lis, c.ShutdownTimeout) })
		banner = append(banner, fmt.Sprintf("  progress gRPC   %s", lis.Addr()))
	}

	if runs["gateway"] {
		gw, err := gateway.New(ctx, gateway.Config{
			ProgressTarget: c.ProgressAddr,
			Verifier:       verifier,
			CORSOrigins:    c.CORSOrigins,
			Timeout:        c.UpstreamTimeout,
			Logger:         tel.Logger("gateway"),
			TracerProvider: tel.TracerProvider("gateway"),
			MeterProvider:  tel.MeterProvider(),
			Metrics:        tel.MetricsHandler(),
		})
		if err != nil {
			return err
		}
		defer gw.Close()
		lis, err := net.Listen("tcp", c.GatewayListen)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		group.Go(func() error { return serveHTTP(ctx, lis, gw.Handler(), c.ShutdownTimeout) })
		url := "http://" + lis.Addr().String()
		banner = append(banner,
			fmt.Sprintf("  REST gateway    %s", url),
			fmt.Sprintf("  API docs        %s/docs", url),
			fmt.Sprintf("  OpenAPI         %s/openapi.json", url))
	}

	if c.MetricsListen != "" {
		lis, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", tel.MetricsHandler())
		group.Go(func() error { return serveHTTP(ctx, lis, mux, c.ShutdownTimeout) })
		banner = append(banner, fmt.Sprintf("  metrics         http://%s/metrics", lis.Addr()))
	}

	fmt.Fprintf(stdout, "Kinbridge %s is up (serve %s, data in %s):\n", buildVersion(), role, c.DataDir)
	for _, line := range banner {
		fmt.Fprintln(stdout, line)
	}
	if created {
		tok, err := auth.NewUserIssuer(userKey).Issue("admin", true, devTokenTTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nA new signing key was created in %s. An admin token, valid for 30 days:\n\n  export KINBRIDGE_TOKEN=%s\n\n", c.UserKey, tok)
	}
	fmt.Fprintf(stdout, "More tokens: kinbridge token issue --data-dir %s --user USER [--admin]\n", c.DataDir)
	logger.Info("started", slog.String("role", role))

	err = group.Wait()
	logger.Info("stopped", slog.Any("error", err))
	return err
}

// serveHTTP serves until ctx is done, then shuts down gracefully.
func serveHTTP(ctx context.Context, lis net.Listener, h http.Handler, drain time.Duration) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		srv.Close()
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
