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
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kinbridge/kinbridge/gateway"
	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/httpserver"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/services/media"
	mediastore "github.com/kinbridge/kinbridge/services/media/store"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/progress"
)

// roles lists what each `serve` argument starts.
var roles = map[string][]string{
	"all":          {"progress", "media", "notification", "gateway"},
	"progress":     {"progress"},
	"media":        {"media"},
	"notification": {"notification"},
	"gateway":      {"gateway"},
}

// peerServices are the service-only APIs services call on each other; their
// idempotent methods are retried.
var peerServices = []protoreflect.ServiceDescriptor{
	progresspeerv1.File_kinbridge_progress_peer_v1_access_proto.Services().Get(0),
	notificationpeerv1.File_kinbridge_notification_peer_v1_publish_proto.Services().Get(0),
	mediapeerv1.File_kinbridge_media_peer_v1_child_data_proto.Services().Get(0),
}

// devTokenTTL is how long the admin token printed on a first run lasts.
const devTokenTTL = 30 * 24 * time.Hour

// serve runs one service, the gateway, or all of them in one process. Even
// in one process every service has its own port and they talk real gRPC,
// so a trace of a local run shows the same hops as a split deployment.
func serve(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || roles[args[0]] == nil {
		return errors.New("serve what? kinbridge serve all|progress|media|notification|gateway")
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
	// One verifier for every service and the gateway in this process: its
	// cache of verified tokens is shared, so a REST call, checked by the
	// gateway and again by the service, verifies its token once.
	verifier, err := c.verifier(userKey.Public().(ed25519.PublicKey), serviceKey.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}

	rateLimiter, closeLimits, err := c.rateLimiters(tel.Logger("ratelimit"), tel.MeterProvider(), serviceKey)
	if err != nil {
		return err
	}
	defer closeLimits()
	accessCache, closeAccessCache, err := c.accessCache(serviceKey)
	if err != nil {
		return err
	}
	defer closeAccessCache()

	group, ctx := errgroup.WithContext(ctx)
	var lines []string // the banner's address lines
	runs := map[string]bool{}
	for _, r := range roles[role] {
		runs[r] = true
	}
	// Bind every service's port first: in one process, each dials what the
	// others really bound (ports may be 0).
	listeners := map[string]net.Listener{}
	defer func() {
		for _, lis := range listeners {
			lis.Close() // no-op once served; frees ports on an early error
		}
	}()
	for _, svc := range []struct {
		name   string
		label  string
		listen string
		addr   *string
	}{
		{"progress", banner.Progress, c.ProgressListen, &c.ProgressAddr},
		{"media", banner.Media, c.MediaListen, &c.MediaAddr},
		{"notification", banner.Notification, c.NotificationListen, &c.NotificationAddr},
	} {
		if !runs[svc.name] {
			continue
		}
		lis, err := net.Listen("tcp", svc.listen)
		if err != nil {
			return fmt.Errorf("%s: %w", svc.name, err)
		}
		listeners[svc.name] = lis
		if role == "all" {
			*svc.addr = lis.Addr().String()
		}
		lines = append(lines, banner.Line(svc.label, lis.Addr().String()))
	}
	// serveGRPC builds the gRPC server of one service and serves it.
	serveGRPC := func(name string, register func(grpc.ServiceRegistrar)) error {
		srv, err := grpcserver.New(grpcserver.Options{
			Logger:         tel.Logger(name),
			TracerProvider: tel.TracerProvider(name),
			MeterProvider:  tel.MeterProvider(),
			Verifier:       verifier,
			RateLimiter:    rateLimiter(name),
			// checkLimits keeps it within uint32.
			MaxConcurrentStreams: uint32(c.MaxConcurrentStreams),
		})
		if err != nil {
			return err
		}
		register(srv)
		lis := listeners[name]
		group.Go(func() error { return srv.Serve(ctx, lis, c.ShutdownTimeout) })
		return nil
	}
	// dial connects service name to its neighbour upstream at target.
	dial := func(name, upstream, target string) (*grpc.ClientConn, error) {
		var breaker *grpcclient.Breaker
		if c.BreakerFailures > 0 {
			breaker = grpcclient.NewBreaker(grpcclient.BreakerConfig{Caller: name, Upstream: upstream,
				Failures: c.BreakerFailures, CoolDown: c.BreakerCoolDown, MeterProvider: tel.MeterProvider(), Logger: tel.Logger(name)})
		}
		return grpcclient.New(target, grpcclient.Options{
			TracerProvider: tel.TracerProvider(name),
			MeterProvider:  tel.MeterProvider(),
			Credentials:    auth.NewServiceIdentity(serviceKey, name),
			Services:       peerServices,
			Breaker:        breaker,
		})
	}

	if runs["progress"] {
		notificationConn, err := dial("progress", "notification", c.NotificationAddr)
		if err != nil {
			return err
		}
		defer notificationConn.Close()
		// A deleted child's photos and videos go with it: progress's relay
		// tells media (at --media-addr) as it tells notification.
		mediaConn, err := dial("progress", "media", c.MediaAddr)
		if err != nil {
			return err
		}
		defer mediaConn.Close()
		cfg := progress.Config{
			DSN:            c.ProgressDB,
			Publisher:      notificationpeerv1.NewPublishServiceClient(notificationConn),
			Media:          mediapeerv1.NewChildDataServiceClient(mediaConn),
			Logger:         tel.Logger("progress"),
			TracerProvider: tel.TracerProvider("progress"),
			MeterProvider:  tel.MeterProvider(),
		}
		if accessCache != nil {
			cfg.AccessCache = accessCache // not a typed nil in the interface
		}
		svc, err := progress.New(ctx, cfg)
		if err != nil {
			return err
		}
		defer svc.Close()
		group.Go(func() error { return svc.Run(ctx) })
		if err := serveGRPC("progress", svc.Register); err != nil {
			return err
		}
	}

	if runs["media"] {
		progressConn, err := dial("media", "progress", c.ProgressAddr)
		if err != nil {
			return err
		}
		defer progressConn.Close()
		notificationConn, err := dial("media", "notification", c.NotificationAddr)
		if err != nil {
			return err
		}
		defer notificationConn.Close()
		svc, err := media.New(ctx, media.Config{
			DSN:            c.MediaDB,
			BlobURL:        c.BlobURL,
			TempDir:        c.UploadDir,
			Access:         accessChecker(progressConn, c.AccessCacheTTL, accessCache, "media", tel.Logger("media"), tel.MeterProvider()),
			Publisher:      notificationpeerv1.NewPublishServiceClient(notificationConn),
			Limits:         media.Limits{Photo: c.MaxPhoto, Artwork: c.MaxPhoto, Document: c.MaxPhoto, Video: c.MaxVideo},
			KeepLocation:   c.KeepLocation,
			Caps:           mediastore.UploadCaps{Sessions: c.MaxUploads, Bytes: c.MaxUploadBytes},
			Logger:         tel.Logger("media"),
			TracerProvider: tel.TracerProvider("media"),
			MeterProvider:  tel.MeterProvider(),
		})
		if err != nil {
			return err
		}
		defer svc.Close()
		group.Go(func() error { return svc.Run(ctx) })
		if err := serveGRPC("media", svc.Register); err != nil {
			return err
		}
	}

	if runs["notification"] {
		progressConn, err := dial("notification", "progress", c.ProgressAddr)
		if err != nil {
			return err
		}
		defer progressConn.Close()
		bus, closeBus, err := c.bus(tel.Logger("notification"), serviceKey)
		if err != nil {
			return err
		}
		defer closeBus()
		svc, err := notification.New(ctx, notification.Config{
			DSN:                     c.NotificationDB,
			Progress:                progresspeerv1.NewAccessServiceClient(progressConn),
			Bus:                     bus,
			GuardianCacheTTL:        c.GuardianCacheTTL,
			Access:                  accessChecker(progressConn, c.GuardianCacheTTL, accessCache, "notification", tel.Logger("notification"), tel.MeterProvider()),
			Retention:               c.Retention,
			MaxFeedsPerUser:         c.MaxFeeds,
			MaxSubscriptionsPerUser: c.MaxSubscriptions,
			Logger:                  tel.Logger("notification"),
			TracerProvider:          tel.TracerProvider("notification"),
		})
		if err != nil {
			return err
		}
		defer svc.Close()
		group.Go(func() error { return svc.Run(ctx) })
		if err := serveGRPC("notification", svc.Register); err != nil {
			return err
		}
	}

	if runs["gateway"] {
		gw, err := gateway.New(ctx, gateway.Config{
			ProgressTarget:     c.ProgressAddr,
			MediaTarget:        c.MediaAddr,
			NotificationTarget: c.NotificationAddr,
			ServiceIdentity:    auth.NewServiceIdentity(serviceKey, "gateway"),
			Verifier:           verifier,
			CORSOrigins:        c.CORSOrigins,
			Timeout:            c.UpstreamTimeout,
			RateLimiter:        rateLimiter("gateway"),
			TrustedProxies:     c.trusted,
			Limits: gateway.Limits{JSONBytes: c.MaxJSONBytes, PhotoBytes: c.MaxPhoto, VideoBytes: c.MaxVideo,
				Timeouts: c.HTTPTimeouts},
			BreakerFailures: c.BreakerFailures,
			BreakerCoolDown: c.BreakerCoolDown,
			Logger:          tel.Logger("gateway"),
			TracerProvider:  tel.TracerProvider("gateway"),
			MeterProvider:   tel.MeterProvider(),
		})
		if err != nil {
			return err
		}
		defer gw.Close()
		lis, err := net.Listen("tcp", c.GatewayListen)
		if err != nil {
			return fmt.Errorf("gateway: %w", err)
		}
		srv := httpserver.New(gw.Handler(), c.HTTPTimeouts)
		group.Go(func() error { return httpserver.Serve(ctx, lis, srv, c.ShutdownTimeout) })
		url := "http://" + lis.Addr().String()
		lines = append(lines,
			banner.Line(banner.Gateway, url),
			banner.Line(banner.APIDocs, url+"/docs"),
			banner.Line(banner.OpenAPI, url+"/openapi.json"))
	}

	// Metrics and recent traces name children, media and users: they are
	// served here only, on their own listener (loopback by default), and
	// never on the gateway's public port.
	if c.MetricsListen != "" {
		lis, err := net.Listen("tcp", c.MetricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", tel.MetricsHandler())
		mux.Handle("GET /debug/tracez", tel.TracezHandler())
		srv := httpserver.New(mux, c.HTTPTimeouts)
		group.Go(func() error { return httpserver.Serve(ctx, lis, srv, c.ShutdownTimeout) })
		url := "http://" + lis.Addr().String()
		lines = append(lines,
			banner.Line(banner.Metrics, url+"/metrics"),
			banner.Line(banner.Tracez, url+"/debug/tracez"))
	}

	fmt.Fprintf(stdout, "Kinbridge %s is up (serve %s, data in %s):\n", buildVersion(), role, c.DataDir)
	for _, line := range lines {
		fmt.Fprintln(stdout, line)
	}
	if created {
		tok, err := auth.NewUserIssuer(userKey).Issue("admin", true, devTokenTTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nA new signing key was created in %s. An admin token, valid for 30 days:\n\n%s\n\n", c.UserKey, banner.TokenLine(tok))
	}
	fmt.Fprintf(stdout, "%s kinbridge token issue --data-dir %s --user USER [--admin]\n", banner.LastLinePrefix, c.DataDir)
	logger.Info("started", slog.String("role", role))

	err = group.Wait()
	logger.Info("stopped", slog.Any("error", err))
	return err
}
