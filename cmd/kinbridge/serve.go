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
	"slices"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/kinbridge/kinbridge/gateway"
	mediapeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/peer/v1"
	notificationpeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/notification/peer/v1"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/httpserver"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/telemetry"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
	"github.com/kinbridge/kinbridge/services/media"
	mediastore "github.com/kinbridge/kinbridge/services/media/store"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/progress"
	"github.com/kinbridge/kinbridge/web"
)

// serveTargets lists what each `serve` argument starts, in the order of
// the usage text.
var serveTargets = []struct {
	name, about string
	roles       []string
}{
	{"all", "every service and the REST gateway in one process", []string{"progress", "media", "notification", "gateway"}},
	{"progress", "the progress service (gRPC)", []string{"progress"}},
	{"media", "the media service (gRPC)", []string{"media"}},
	{"notification", "the notification service (gRPC)", []string{"notification"}},
	{"gateway", "the REST/JSON gateway", []string{"gateway"}},
}

// Every serve target accepts every server setting, so one configuration
// (an environment file, a flag list) serves each process of a split
// deployment; its help shows the settings it reads: those every process
// reads, and those of its roles.
var (
	processSettings = []string{"data-dir", "user-key", "service-key", "oidc-issuer", "oidc-client-id",
		"oidc-admin-subjects", "oidc-user-claim", "log-format", "log-level", "shutdown-timeout", "metrics-listen",
		"http-read-header-timeout", "http-read-timeout", "http-write-timeout", "http-idle-timeout", "redis-url",
		"rate-limit-user", "rate-limit-user-burst", "breaker-failures", "breaker-cool-down",
		"tls-cert", "tls-key", "tls-ca"}
	// serviceSettings are read by each gRPC service.
	serviceSettings = []string{"grpc-max-concurrent-streams", "rate-limit-service", "rate-limit-service-burst", "tls-client-ca"}
	roleSettings    = map[string][]string{
		"progress": append([]string{"progress-listen", "progress-db", "media-addr", "notification-addr"}, serviceSettings...),
		"media": append([]string{"media-listen", "media-db", "blob-url", "upload-dir", "max-photo-bytes", "max-video-bytes",
			"access-cache-ttl", "keep-location", "max-uploads-per-user", "max-upload-bytes-per-user", "progress-addr",
			"notification-addr"}, serviceSettings...),
		"notification": append([]string{"notification-listen", "notification-db", "nats-url", "nats-deployment",
			"nats-accept-unsigned", "guardian-cache-ttl", "notification-retention", "max-feeds-per-user",
			"max-subscriptions-per-user", "progress-addr", "public-url", "smtp-addr", "smtp-from", "smtp-username",
			"smtp-password", "digest-interval"}, serviceSettings...),
		"gateway": {"gateway-listen", "cors-origins", "upstream-timeout", "max-json-bytes", "max-photo-bytes", "max-video-bytes",
			"progress-addr", "media-addr", "notification-addr", "trusted-proxies", "rate-limit-address", "rate-limit-address-burst",
			"oidc-client-secret", "oidc-redirect-url", "public-url", "session-lifetime"},
	}
)

// targetSettings returns the settings a serve target reads. In one
// process the services reach each other where they really listen, so
// `serve all` reads no --progress-addr, --media-addr or --notification-addr.
func targetSettings(roles []string) map[string]bool {
	read := map[string]bool{}
	for _, name := range processSettings {
		read[name] = true
	}
	for _, role := range roles {
		for _, name := range roleSettings[role] {
			read[name] = true
		}
	}
	if len(roles) > 1 {
		for _, role := range roles {
			delete(read, role+"-addr")
		}
	}
	return read
}

// serveCommands are `kinbridge serve ...`, one per target.
func serveCommands() []subcommand {
	subs := make([]subcommand, len(serveTargets))
	for i, t := range serveTargets {
		read := targetSettings(t.roles)
		subs[i] = subcommand{t.name, "", t.about, func(ctx context.Context, cmd *cmdline, args []string) error {
			cmd.shows = func(name string) bool { return read[name] }
			return serve(ctx, cmd, t.name, t.roles, args)
		}}
	}
	return subs
}

// peerServices are the service-only APIs services call on each other; their
// idempotent methods are retried.
var peerServices = []protoreflect.ServiceDescriptor{
	progresspeerv1.File_kinbridge_progress_peer_v1_access_proto.Services().Get(0),
	notificationpeerv1.File_kinbridge_notification_peer_v1_publish_proto.Services().Get(0),
	mediapeerv1.File_kinbridge_media_peer_v1_child_data_proto.Services().Get(0),
}

// signInLinkTTL is how long the banner's one-time sign-in link may be used.
const signInLinkTTL = 24 * time.Hour

// serve runs one service, the gateway, or all of them in one process. Even
// in one process every service has its own port and they talk real gRPC,
// so a trace of a local run shows the same hops as a split deployment.
func serve(ctx context.Context, cmd *cmdline, target string, roles []string, args []string) error {
	c, err := serverSettings(cmd, args)
	if err != nil {
		return err
	}
	if len(roles) > 1 && (c.TLSCert == "") != (c.TLSCA == "") {
		// Its services call each other: over TLS both ways, or neither.
		return usagef("serve %s: give --tls-cert (with --tls-key) and --tls-ca together: its services serve TLS with the one "+
			"and verify each other with the other", target)
	}
	tel, err := startTelemetry(ctx, c, target, cmd.stderr)
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
	cmd.global.Log(logger)

	n, err := newNode(ctx, c, tel)
	if err != nil {
		return err
	}
	defer n.close()
	if err := n.start(target, roles); err != nil {
		return err
	}
	if err := n.printBanner(cmd.stdout, target); err != nil {
		n.stop()
		return err
	}
	logger.Info("started", slog.String("role", target))
	err = n.wait()
	logger.Info("stopped", slog.Any("error", err))
	return err
}

func startTelemetry(ctx context.Context, c *settings, target string, stderr io.Writer) (*telemetry.Telemetry, error) {
	level, err := c.logLevel()
	if err != nil {
		return nil, err
	}
	tcfg := telemetry.Config{Version: buildVersion(), LogFormat: c.LogFormat, LogLevel: level, LogOutput: stderr}
	if target != "all" {
		tcfg.ServiceName = target
	}
	return telemetry.Init(ctx, tcfg)
}

// node is one serve process: what its roles share, and the group they run
// in. Even in one process every role has its own port.
type node struct {
	c           *settings
	tel         *telemetry.Telemetry
	userKey     ed25519.PrivateKey
	keyCreated  bool // userKey was created now
	links       bool // the gateway signs browsers in with one-time links; the banner prints one
	gateway     *gateway.Gateway
	serviceKey  ed25519.PrivateKey
	verifier    *auth.Verifier
	rateLimiter func(surface string) *ratelimit.Limiter
	accessCache *access.Shared
	tls         *tlsconfig.Process
	closers     []func() error

	ctx    context.Context // the group's: done once any role fails or the process stops
	cancel context.CancelFunc
	group  *errgroup.Group
	roles  []*role
}

// newNode loads the keys and builds what every role shares.
func newNode(ctx context.Context, c *settings, tel *telemetry.Telemetry) (_ *node, err error) {
	n := &node{c: c, tel: tel}
	defer func() {
		if err != nil {
			n.close()
		}
	}()
	// First, so a certificate that cannot work stops the start before
	// anything else is opened, let alone listens.
	if n.tls, err = tlsconfig.Load(c.tlsFiles(), tlsconfig.Options{Logger: tel.Logger("tls"), MeterProvider: tel.MeterProvider()}); err != nil {
		return nil, err
	}
	if n.userKey, n.keyCreated, err = auth.LoadOrCreateKey(c.UserKey); err != nil {
		return nil, fmt.Errorf("user signing key: %w", err)
	}
	if n.serviceKey, _, err = auth.LoadOrCreateKey(c.ServiceKey); err != nil {
		return nil, fmt.Errorf("service signing key: %w", err)
	}
	// One verifier for every service and the gateway in this process: its
	// cache of verified tokens is shared, so a REST call, checked by the
	// gateway and again by the service, verifies its token once.
	n.verifier, err = c.verifier(n.userKey.Public().(ed25519.PublicKey), n.serviceKey.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	limiters, closeLimits, err := c.rateLimiters(tel.Logger("ratelimit"), tel.MeterProvider(), n.serviceKey)
	if err != nil {
		return nil, err
	}
	n.rateLimiter = limiters
	n.closers = append(n.closers, closeLimits)
	cache, closeCache, err := c.accessCache(n.serviceKey)
	if err != nil {
		return nil, err
	}
	n.accessCache = cache
	n.closers = append(n.closers, closeCache)
	n.ctx, n.cancel = context.WithCancel(ctx)
	n.group, n.ctx = errgroup.WithContext(n.ctx)
	if n.tls.Reloader != nil {
		// Watching from now on, before any port is bound: a SIGHUP once
		// the banner is out reloads, and never ends the process.
		stop := n.tls.Reloader.Watch(n.ctx)
		n.closers = append(n.closers, func() error { stop(); return nil })
	}
	return n, nil
}

// start binds the ports of target's roles and starts them. Every gRPC
// port is bound first: in one process, each service dials what the others
// really bound (ports may be 0).
func (n *node) start(target string, runs []string) (err error) {
	// `make run` (serve all) and a first run print a sign-in link, as the
	// administrator, instead of a token: a link works once, in a browser.
	// With an OpenID provider people sign in there (administrators by
	// --oidc-admin-subjects), and no link is printed.
	n.links = n.c.OIDCIssuer == "" && (target == "all" || n.keyCreated)
	listeners := map[string]net.Listener{}
	defer func() {
		if err != nil { // the servers, stopped by now, did not all take theirs
			for _, lis := range listeners {
				lis.Close()
			}
		}
	}()
	for _, svc := range []struct {
		name, listen string
		addr         *string
	}{
		{"progress", n.c.ProgressListen, &n.c.ProgressAddr},
		{"media", n.c.MediaListen, &n.c.MediaAddr},
		{"notification", n.c.NotificationListen, &n.c.NotificationAddr},
	} {
		if !slices.Contains(runs, svc.name) {
			continue
		}
		lis, err := net.Listen("tcp", svc.listen)
		if err != nil {
			return fmt.Errorf("%s: %w", svc.name, err)
		}
		listeners[svc.name] = lis
		if target == "all" {
			*svc.addr = lis.Addr().String()
		}
	}
	constructors := map[string]func(*node, net.Listener) (*role, error){
		"progress": newProgressRole, "media": newMediaRole, "notification": newNotificationRole, "gateway": newGatewayRole,
	}
	for _, name := range runs {
		if err := n.add(constructors[name](n, listeners[name])); err != nil {
			return err
		}
	}
	// Metrics and recent traces name children, media and users: they are
	// served only on their own listener (loopback by default), never on
	// the gateway's public port.
	if n.c.MetricsListen != "" {
		if err := n.add(newMetricsRole(n, nil)); err != nil {
			return err
		}
	}
	return nil
}

// add starts a built role and keeps it, to close with the node; when the
// role could not be built, it stops the roles started before.
func (n *node) add(r *role, err error) error {
	if err != nil {
		n.stop()
		return err
	}
	n.roles = append(n.roles, r)
	for _, run := range r.runs {
		n.group.Go(func() error { return run(n.ctx) })
	}
	return nil
}

// printBanner tells the person where everything is and, when this process
// runs the gateway with sign-in links, gives them one that signs a browser
// in as the administrator. It never prints a token.
func (n *node) printBanner(stdout io.Writer, target string) error {
	fmt.Fprintf(stdout, "Kinbridge %s is up (serve %s, data in %s):\n", buildVersion(), target, n.c.DataDir)
	for _, r := range n.roles {
		for _, line := range r.lines {
			fmt.Fprintln(stdout, line)
		}
	}
	if n.gateway != nil && n.links {
		link, err := n.gateway.SignInLink(n.ctx, defaultAdminUser, true, signInLinkTTL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nOpen this link to sign in as the administrator (works once, for 24 hours):\n%s\n\n", banner.Line(banner.SignIn, link))
	}
	fmt.Fprintf(stdout, "%s kinbridge token issue --data-dir %s --admin\n", banner.LastLinePrefix, n.c.DataDir)
	return nil
}

// wait runs until a role fails or the process is stopped.
func (n *node) wait() error { return n.group.Wait() }

// stop ends every role started and waits for them, for a failed start.
func (n *node) stop() {
	n.cancel()
	_ = n.group.Wait()
}

// close closes the roles, last started first, then what they shared; call
// it once they have stopped.
func (n *node) close() {
	for i := len(n.roles) - 1; i >= 0; i-- {
		n.roles[i].close()
	}
	for i := len(n.closers) - 1; i >= 0; i-- {
		_ = n.closers[i]()
	}
	if n.cancel != nil {
		n.cancel()
	}
}

// role is one part of a serve process, built by its constructor: the
// banner lines that say where it is, what runs until the process stops,
// and what to close once that has returned. A constructor starts nothing,
// so one that fails can close what it opened at once.
type role struct {
	lines   []string
	runs    []func(context.Context) error
	closers []func() error
}

func (r *role) onClose(f func() error) { r.closers = append(r.closers, f) }

// close closes what the role opened, last opened first.
func (r *role) close() {
	for i := len(r.closers) - 1; i >= 0; i-- {
		_ = r.closers[i]()
	}
}

// closeOnError closes r when its constructor fails: a constructor defers
// it with its own named error.
func (r *role) closeOnError(err *error) {
	if *err != nil {
		r.close()
	}
}

// serveGRPC builds the gRPC server of service name and registers it; r
// serves it on lis.
func (n *node) serveGRPC(r *role, name string, lis net.Listener, register func(grpc.ServiceRegistrar), ready func(context.Context) error) error {
	srv, err := grpcserver.New(grpcserver.Options{
		Logger:         n.tel.Logger(name),
		TracerProvider: n.tel.TracerProvider(name),
		MeterProvider:  n.tel.MeterProvider(),
		Verifier:       n.verifier,
		RateLimiter:    n.rateLimiter(name),
		// checkLimits keeps it within uint32.
		MaxConcurrentStreams: uint32(n.c.MaxConcurrentStreams),
		TLS:                  n.tls.Server,
		Ready:                ready,
	})
	if err != nil {
		return err
	}
	register(srv)
	r.runs = append(r.runs, func(ctx context.Context) error { return srv.Serve(ctx, lis, n.c.ShutdownTimeout) })
	return nil
}

// dial connects service name to its neighbour upstream at target; r
// closes the connection.
func (n *node) dial(r *role, name, upstream, target string) (*grpc.ClientConn, error) {
	var breaker *grpcclient.Breaker
	if n.c.BreakerFailures > 0 {
		breaker = grpcclient.NewBreaker(grpcclient.BreakerConfig{Caller: name, Upstream: upstream,
			Failures: n.c.BreakerFailures, CoolDown: n.c.BreakerCoolDown, MeterProvider: n.tel.MeterProvider(), Logger: n.tel.Logger(name)})
	}
	conn, err := grpcclient.New(target, grpcclient.Options{
		TracerProvider: n.tel.TracerProvider(name),
		MeterProvider:  n.tel.MeterProvider(),
		Credentials:    auth.NewServiceIdentity(n.serviceKey, name),
		Services:       peerServices,
		Breaker:        breaker,
		TLS:            n.tls.Client,
	})
	if err != nil {
		return nil, err
	}
	r.onClose(conn.Close)
	return conn, nil
}

// runService has r run a service's background work and serve its gRPC API
// on lis, and close the service.
func (n *node) runService(r *role, name string, lis net.Listener, svc interface {
	Run(context.Context) error
	Register(grpc.ServiceRegistrar)
	Ready(context.Context) error
	Close() error
}) error {
	r.onClose(svc.Close)
	r.runs = append(r.runs, svc.Run)
	r.lines = append(r.lines, banner.Line(grpcBannerLabels[name], lis.Addr().String()))
	return n.serveGRPC(r, name, lis, svc.Register, svc.Ready)
}

var grpcBannerLabels = map[string]string{
	"progress": banner.Progress, "media": banner.Media, "notification": banner.Notification,
}

// newProgressRole starts the progress service on lis.
func newProgressRole(n *node, lis net.Listener) (_ *role, err error) {
	r := &role{}
	defer r.closeOnError(&err)
	notificationConn, err := n.dial(r, "progress", "notification", n.c.NotificationAddr)
	if err != nil {
		return nil, err
	}
	// A deleted child's photos and videos go with it: progress's relay
	// tells media (at --media-addr) as it tells notification.
	mediaConn, err := n.dial(r, "progress", "media", n.c.MediaAddr)
	if err != nil {
		return nil, err
	}
	cfg := progress.Config{
		DSN:            n.c.ProgressDB,
		Publisher:      notificationpeerv1.NewPublishServiceClient(notificationConn),
		Media:          mediapeerv1.NewChildDataServiceClient(mediaConn),
		Logger:         n.tel.Logger("progress"),
		TracerProvider: n.tel.TracerProvider("progress"),
		MeterProvider:  n.tel.MeterProvider(),
	}
	if n.accessCache != nil {
		cfg.AccessCache = n.accessCache // not a typed nil in the interface
	}
	svc, err := progress.New(n.ctx, cfg)
	if err != nil {
		return nil, err
	}
	return r, n.runService(r, "progress", lis, svc)
}

// newMediaRole starts the media service on lis.
func newMediaRole(n *node, lis net.Listener) (_ *role, err error) {
	r := &role{}
	defer r.closeOnError(&err)
	progressConn, err := n.dial(r, "media", "progress", n.c.ProgressAddr)
	if err != nil {
		return nil, err
	}
	notificationConn, err := n.dial(r, "media", "notification", n.c.NotificationAddr)
	if err != nil {
		return nil, err
	}
	c := n.c
	svc, err := media.New(n.ctx, media.Config{
		DSN:            c.MediaDB,
		BlobURL:        c.BlobURL,
		TempDir:        c.UploadDir,
		Access:         accessChecker(progressConn, c.AccessCacheTTL, n.accessCache, "media", n.tel.Logger("media"), n.tel.MeterProvider()),
		Publisher:      notificationpeerv1.NewPublishServiceClient(notificationConn),
		Limits:         media.Limits{Photo: c.MaxPhoto, Artwork: c.MaxPhoto, Document: c.MaxPhoto, Video: c.MaxVideo},
		KeepLocation:   c.KeepLocation,
		Caps:           mediastore.UploadCaps{Sessions: c.MaxUploads, Bytes: c.MaxUploadBytes},
		Logger:         n.tel.Logger("media"),
		TracerProvider: n.tel.TracerProvider("media"),
		MeterProvider:  n.tel.MeterProvider(),
	})
	if err != nil {
		return nil, err
	}
	return r, n.runService(r, "media", lis, svc)
}

// newNotificationRole starts the notification service on lis.
func newNotificationRole(n *node, lis net.Listener) (_ *role, err error) {
	r := &role{}
	defer r.closeOnError(&err)
	progressConn, err := n.dial(r, "notification", "progress", n.c.ProgressAddr)
	if err != nil {
		return nil, err
	}
	bus, closeBus, err := n.c.bus(n.tel.Logger("notification"), n.serviceKey)
	if err != nil {
		return nil, err
	}
	r.onClose(func() error { closeBus(); return nil })
	c := n.c
	mailer, err := c.mailer(n.ctx, n.tel.Logger("notification"))
	if err != nil {
		return nil, err
	}
	svc, err := notification.New(n.ctx, notification.Config{
		DSN:                     c.NotificationDB,
		Progress:                progresspeerv1.NewAccessServiceClient(progressConn),
		Bus:                     bus,
		GuardianCacheTTL:        c.GuardianCacheTTL,
		Access:                  accessChecker(progressConn, c.GuardianCacheTTL, n.accessCache, "notification", n.tel.Logger("notification"), n.tel.MeterProvider()),
		Retention:               c.Retention,
		MaxFeedsPerUser:         c.MaxFeeds,
		MaxSubscriptionsPerUser: c.MaxSubscriptions,
		Mailer:                  mailer,
		PublicURL:               c.PublicURL, // the links of mails (e-mail confirmation, digest)
		DigestTick:              c.DigestInterval,
		Logger:                  n.tel.Logger("notification"),
		TracerProvider:          n.tel.TracerProvider("notification"),
	})
	if err != nil {
		return nil, err
	}
	return r, n.runService(r, "notification", lis, svc)
}

// newGatewayRole starts the REST gateway on --gateway-listen; it binds its
// own port, as nothing in the process dials it.
func newGatewayRole(n *node, _ net.Listener) (_ *role, err error) {
	r := &role{}
	defer r.closeOnError(&err)
	c := n.c
	// The port is bound first: the public URL defaults to its address.
	var handler http.Handler
	url, err := n.serveHTTP(r, "gateway", c.GatewayListen, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		handler.ServeHTTP(w, req)
	}))
	if err != nil {
		return nil, err
	}
	signIn, err := n.signIn(r, url)
	if err != nil {
		return nil, err
	}
	gw, err := gateway.New(n.ctx, gateway.Config{
		ProgressTarget:     c.ProgressAddr,
		MediaTarget:        c.MediaAddr,
		NotificationTarget: c.NotificationAddr,
		UpstreamTLS:        n.tls.Client,
		ServiceIdentity:    auth.NewServiceIdentity(n.serviceKey, "gateway"),
		Verifier:           n.verifier,
		CORSOrigins:        c.CORSOrigins,
		Timeout:            c.UpstreamTimeout,
		RateLimiter:        n.rateLimiter("gateway"),
		TrustedProxies:     c.trusted,
		Limits: gateway.Limits{JSONBytes: c.MaxJSONBytes, PhotoBytes: c.MaxPhoto, VideoBytes: c.MaxVideo,
			Timeouts: c.HTTPTimeouts},
		BreakerFailures: c.BreakerFailures,
		BreakerCoolDown: c.BreakerCoolDown,
		Logger:          n.tel.Logger("gateway"),
		TracerProvider:  n.tel.TracerProvider("gateway"),
		MeterProvider:   n.tel.MeterProvider(),
		App:             web.Dist, // the family app at /
		SignIn:          signIn,
	})
	if err != nil {
		return nil, err
	}
	r.onClose(gw.Close)
	handler, n.gateway = gw.Handler(), gw
	r.lines = append(r.lines,
		banner.Line(banner.Gateway, url),
		banner.Line(banner.APIDocs, url+"/docs"),
		banner.Line(banner.OpenAPI, url+"/openapi.json"))
	return r, nil
}

// signIn configures the gateway's browser sign-in: through the OpenID
// provider when one is configured, with one-time links when the banner
// prints one (their tokens are minted with this process's user key),
// sessions in Redis with --redis-url so every gateway shares them.
func (n *node) signIn(r *role, ownURL string) (gateway.SignIn, error) {
	c := n.c
	cfg := gateway.SignIn{PublicURL: c.PublicURL, SessionLifetime: c.SessionLifetime}
	if cfg.PublicURL == "" {
		cfg.PublicURL = ownURL
	}
	if c.OIDCRedirectURL != "" && c.OIDCIssuer == "" {
		return cfg, errors.New("--oidc-redirect-url needs --oidc-issuer")
	}
	if c.OIDCIssuer != "" {
		cfg.OIDC = &gateway.OIDCSignIn{Issuer: c.OIDCIssuer, ClientID: c.OIDCClientID, ClientSecret: c.OIDCClientSecret,
			RedirectURL: c.OIDCRedirectURL}
	}
	if n.links {
		issuer := auth.NewUserIssuer(n.userKey)
		cfg.Links = &gateway.LinkSignIn{Mint: func(_ context.Context, user string, admin bool, ttl time.Duration) (string, error) {
			return issuer.Issue(user, admin, ttl)
		}}
	}
	store, closeStore, err := c.sessionStore(n.serviceKey)
	if err != nil {
		return cfg, err
	}
	r.onClose(closeStore)
	// Sealing the store's values with a key from the service key makes a
	// dump of it useless, while every gateway of the deployment reads them.
	cfg.Sessions, cfg.SessionKey = store, n.serviceKey.Seed()
	return cfg, nil
}

// newMetricsRole serves /metrics and /debug/tracez on --metrics-listen.
func newMetricsRole(n *node, _ net.Listener) (*role, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", n.tel.MetricsHandler())
	mux.Handle("GET /debug/tracez", n.tel.TracezHandler())
	r := &role{}
	url, err := n.serveHTTP(r, "metrics", n.c.MetricsListen, mux)
	if err != nil {
		return nil, err
	}
	r.lines = append(r.lines,
		banner.Line(banner.Metrics, url+"/metrics"),
		banner.Line(banner.Tracez, url+"/debug/tracez"))
	return r, nil
}

// serveHTTP binds a port of its own at listen, for r to serve h on, and
// returns its URL.
func (n *node) serveHTTP(r *role, name, listen string, h http.Handler) (string, error) {
	lis, err := net.Listen("tcp", listen)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	r.onClose(func() error { lis.Close(); return nil }) // no-op once served; frees the port on an early error
	srv := httpserver.New(h, n.c.HTTPTimeouts)
	scheme := "http://"
	if n.tls.HTTP != nil {
		// A copy each: net/http adds its ALPN protocols to the server's.
		srv.TLSConfig, scheme = n.tls.HTTP.Clone(), "https://"
	}
	r.runs = append(r.runs, func(ctx context.Context) error { return httpserver.Serve(ctx, lis, srv, n.c.ShutdownTimeout) })
	return scheme + lis.Addr().String(), nil
}
