package main

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/grpc"

	"github.com/kinbridge/kinbridge/gateway"
	progresspeerv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/peer/v1"
	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/grpcserver"
	"github.com/kinbridge/kinbridge/pkg/httpserver"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
	"github.com/kinbridge/kinbridge/services/media"
	"github.com/kinbridge/kinbridge/services/media/blob"
	"github.com/kinbridge/kinbridge/services/notification"
	"github.com/kinbridge/kinbridge/services/notification/fanout"
)

// settings are every server setting, in one place: the README's
// configuration table lists these.
type settings struct {
	DataDir string

	ProgressListen string
	ProgressAddr   string
	ProgressDB     string

	MediaListen    string
	MediaAddr      string
	MediaDB        string
	BlobURL        string
	UploadDir      string
	MaxPhoto       int64
	MaxVideo       int64
	AccessCacheTTL time.Duration
	KeepLocation   bool
	// Caps per user on uploads under way (docs/limits.md).
	MaxUploads     int
	MaxUploadBytes int64

	NotificationListen string
	NotificationAddr   string
	NotificationDB     string
	NATSURL            string
	NATSDeployment     string
	NATSAcceptUnsigned bool
	GuardianCacheTTL   time.Duration
	Retention          time.Duration
	// Caps per user on live feeds and subscriptions (docs/limits.md).
	MaxFeeds         int
	MaxSubscriptions int

	GatewayListen   string
	CORSOrigins     []string
	UpstreamTimeout time.Duration
	MaxJSONBytes    int64

	HTTPTimeouts         httpserver.Timeouts
	MaxConcurrentStreams int

	MetricsListen string

	RedisURL       string
	UserRate       float64
	UserBurst      int
	AddressRate    float64
	AddressBurst   int
	ServiceRate    float64
	ServiceBurst   int
	TrustedProxies []string
	trusted        ratelimit.TrustedProxies // TrustedProxies, parsed

	BreakerFailures int
	BreakerCoolDown time.Duration

	UserKey    string
	ServiceKey string

	// TLS files (docs/operations.md, TLS).
	TLSCert, TLSKey, TLSClientCA, TLSCA string

	OIDCIssuer        string
	OIDCClientID      string
	OIDCClientSecret  string
	OIDCRedirectURL   string
	OIDCAdminSubjects []string
	OIDCUserClaim     string
	PublicURL         string
	SessionLifetime   time.Duration

	SMTPAddr       string
	SMTPFrom       string
	SMTPUsername   string
	SMTPPassword   string
	DigestInterval time.Duration

	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
}

// define registers the settings on s. Defaults that live in the data
// directory are resolved after parsing, so --data-dir moves them all.
func (c *settings) define(s *config.Set) {
	s.String(&c.DataDir, "data-dir", "data", "directory for local state: SQLite databases, dev signing keys")
	s.String(&c.ProgressListen, "progress-listen", "127.0.0.1:9101", "address the progress gRPC server listens on")
	s.String(&c.ProgressAddr, "progress-addr", "", "address other processes reach progress at; a comma-separated list of every instance to balance over them (default: --progress-listen)")
	s.Redacted(&c.ProgressDB, "progress-db", "", "progress database: postgres://... or sqlite:PATH (default: sqlite in --data-dir)", sqldb.RedactDSN)
	s.String(&c.MediaListen, "media-listen", "127.0.0.1:9102", "address the media gRPC server listens on")
	s.String(&c.MediaAddr, "media-addr", "", "address other processes reach media at; a comma-separated list of every instance to balance over them (default: --media-listen)")
	s.Redacted(&c.MediaDB, "media-db", "", "media database: postgres://... or sqlite:PATH (default: sqlite in --data-dir)", sqldb.RedactDSN)
	s.Redacted(&c.BlobURL, "blob-url", "", "media blob store: a directory or s3://KEY:SECRET@host:port/bucket (default: --data-dir/blobs)", blob.RedactURL)
	s.String(&c.UploadDir, "upload-dir", "", "this process's copy of the bytes of uploads in progress (the committed bytes are kept in the blob store too, so any media instance continues an upload) (default: --data-dir/uploads)")
	s.Int64(&c.MaxPhoto, "max-photo-bytes", 50<<20, "largest photo, artwork or document upload, in bytes")
	s.Int64(&c.MaxVideo, "max-video-bytes", 4<<30, "largest video upload, in bytes")
	s.Duration(&c.AccessCacheTTL, "access-cache-ttl", access.DefaultTTL, "how long media remembers progress's access answers; 0 asks every time")
	s.Int(&c.MaxUploads, "max-uploads-per-user", media.DefaultMaxUploadSessions, "uploads one user may have under way at once "+
		"(resumable sessions, tus and one-request uploads); finishing, cancelling or expiring one frees its slot")
	s.Int64(&c.MaxUploadBytes, "max-upload-bytes-per-user", media.DefaultMaxUploadBytes, "bytes one user's uploads under way "+
		"may have declared and not yet sent, in all; at least the largest upload allowed")
	s.Bool(&c.KeepLocation, "keep-location", false, "keep photos' EXIF GPS position (by default the allowlist rebuild drops every position; it drops what it does not know either way)")
	s.String(&c.NotificationListen, "notification-listen", "127.0.0.1:9103", "address the notification gRPC server listens on")
	s.String(&c.NotificationAddr, "notification-addr", "", "address other processes reach notification at; a comma-separated list of every instance to balance over them (default: --notification-listen)")
	s.Redacted(&c.NotificationDB, "notification-db", "", "notification database: postgres://... or sqlite:PATH (default: sqlite in --data-dir)", sqldb.RedactDSN)
	s.Redacted(&c.NATSURL, "nats-url", "", "NATS server for live fan-out across notification instances (empty: in process)", sqldb.RedactDSN)
	s.String(&c.NATSDeployment, "nats-deployment", "", "name of this deployment in the NATS subjects; instances hear only "+
		"their deployment's messages, authenticated with a key derived from --service-key, so share both (default: an id derived from --service-key)")
	s.Bool(&c.NATSAcceptUnsigned, "nats-accept-unsigned", false, "for a rolling upgrade from a release without --nats-deployment "+
		"only: also hear and send live notifications on the old subject kinbridge.notification.user.*, where old instances "+
		"publish unsigned (what is sent is still signed); any client of the NATS server can reach this deployment's live "+
		"feeds there, so turn it off once every instance is upgraded")
	s.Duration(&c.GuardianCacheTTL, "guardian-cache-ttl", 5*time.Second, "how long notification remembers a child's guardians; 0 asks progress every time")
	s.Duration(&c.Retention, "notification-retention", 90*24*time.Hour, "how long notifications are kept; 0 keeps them forever")
	s.Int(&c.MaxFeeds, "max-feeds-per-user", notification.DefaultMaxFeedsPerUser, "live feeds one user may have open at once "+
		"(gRPC streams, SSE and WebSocket, on every notification instance sharing the database); one more is refused")
	s.Int(&c.MaxSubscriptions, "max-subscriptions-per-user", notification.DefaultMaxSubscriptionsPerUser, "subscriptions one user may keep")
	s.String(&c.GatewayListen, "gateway-listen", "127.0.0.1:8080", "address the REST gateway listens on")
	s.List(&c.CORSOrigins, "cors-origins", nil, "browser origins allowed to call the gateway, comma-separated; * for any")
	s.Duration(&c.UpstreamTimeout, "upstream-timeout", 10*time.Second, "deadline of gateway calls to services")
	s.Int64(&c.MaxJSONBytes, "max-json-bytes", gateway.DefaultMaxJSONBytes, "largest request body of a gateway route that takes no file (every JSON call), in bytes")
	s.Duration(&c.HTTPTimeouts.ReadHeader, "http-read-header-timeout", httpserver.DefaultReadHeaderTimeout, "HTTP servers: longest wait for a request's headers (cuts slow-loris clients)")
	s.Duration(&c.HTTPTimeouts.Read, "http-read-timeout", httpserver.DefaultReadTimeout, "HTTP servers: longest read of a whole request; uploads instead get this long for each read of their body")
	s.Duration(&c.HTTPTimeouts.Write, "http-write-timeout", httpserver.DefaultWriteTimeout, "HTTP servers: longest time to answer a request; live feeds and downloads instead get this long for each write")
	s.Duration(&c.HTTPTimeouts.Idle, "http-idle-timeout", httpserver.DefaultIdleTimeout, "HTTP servers: how long a kept-alive connection may wait for its next request")
	s.Int(&c.MaxConcurrentStreams, "grpc-max-concurrent-streams", grpcserver.DefaultMaxConcurrentStreams, "gRPC servers: most calls open at once on one connection; more wait for one to end")
	s.Int(&c.BreakerFailures, "breaker-failures", grpcclient.DefaultBreakerFailures, "calls in a row that find a service down or silent "+
		"past their deadline before its callers stop calling it for --breaker-cool-down and fail at once (503 with Retry-After at the gateway); 0 turns this off")
	s.Duration(&c.BreakerCoolDown, "breaker-cool-down", grpcclient.DefaultBreakerCoolDown, "how long callers stop calling a service "+
		"that stopped answering, before one call probes it")
	s.String(&c.MetricsListen, "metrics-listen", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint; empty turns it off")
	s.Redacted(&c.RedisURL, "redis-url", "", "Redis shared by every instance for rate-limit buckets: redis://[:PASSWORD@]host:port[/db], "+
		"rediss:// for TLS (empty: buckets in process, per instance)", sqldb.RedactDSN)
	s.Float64(&c.UserRate, "rate-limit-user", 20, "requests a second each user may make, at the gateway and at each service; 0 turns the limit off")
	s.Int(&c.UserBurst, "rate-limit-user-burst", 100, "requests a user may make at once above --rate-limit-user")
	s.Float64(&c.AddressRate, "rate-limit-address", 50, "requests a second the gateway takes from each client address (IPv6 by /64); 0 turns the limit off")
	s.Int(&c.AddressBurst, "rate-limit-address-burst", 200, "requests a client address may make at once above --rate-limit-address")
	s.Float64(&c.ServiceRate, "rate-limit-service", 500, "requests a second each Kinbridge service identity may make to another service; 0 turns the limit off")
	s.Int(&c.ServiceBurst, "rate-limit-service-burst", 2000, "requests a service identity may make at once above --rate-limit-service")
	s.List(&c.TrustedProxies, "trusted-proxies", nil, "proxies in front of the gateway whose X-Forwarded-For names the client address: "+
		"addresses or CIDR ranges, comma-separated (default: none, the connection's address counts)")
	c.defineTLS(s)
	s.String(&c.UserKey, "user-key", "", "Ed25519 key (PEM) of the built-in user token issuer (default: created in --data-dir/keys)")
	s.String(&c.ServiceKey, "service-key", "", "Ed25519 key (PEM) signing service identities (default: created in --data-dir/keys)")
	s.String(&c.OIDCIssuer, "oidc-issuer", "", "OpenID provider whose ID tokens identify users (iss); its keys are found through "+
		"its discovery document, ISSUER/.well-known/openid-configuration, on first use")
	s.String(&c.OIDCClientID, "oidc-client-id", "", "Kinbridge's client id at the OpenID provider: the gateway signs browsers in "+
		"with it, and it is the audience (aud) every service requires of OIDC tokens")
	s.Secret(&c.OIDCClientSecret, "oidc-client-secret", "", "the gateway's client secret at the OpenID provider (empty: a public client, PKCE only)")
	s.String(&c.PublicURL, "public-url", "", "the gateway's public base URL, as browsers reach it; the redirect URL to register at "+
		"the OpenID provider is PUBLIC-URL/auth/callback (default: the gateway's own http://LISTEN address)")
	s.String(&c.OIDCRedirectURL, "oidc-redirect-url", "", "the redirect URL registered for the gateway at the OpenID provider: "+
		"PUBLIC-URL with a path the gateway then answers (default: PUBLIC-URL/auth/callback)")
	s.Duration(&c.SessionLifetime, "session-lifetime", gateway.DefaultSessionLifetime, "how long a browser stays signed in, however active")
	c.defineMail(s)
	s.List(&c.OIDCAdminSubjects, "oidc-admin-subjects", nil, "OIDC user ids that are administrators, comma-separated")
	s.String(&c.OIDCUserClaim, "oidc-user-claim", "sub", "OIDC claim holding the user id")
	s.String(&c.LogFormat, "log-format", "text", "log format: text or json")
	s.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight calls may finish after SIGTERM")
}

// defineTLS registers the TLS settings: every listener of the process
// serves TLS with --tls-cert, its gRPC services require client
// certificates with --tls-client-ca, and its calls to services go over TLS
// with --tls-ca.
func (c *settings) defineTLS(s *config.Set) {
	s.String(&c.TLSCert, "tls-cert", "", "certificate (PEM, leaf then intermediates) every listener of this process serves "+
		"TLS with: gRPC, REST gateway, metrics; re-read on SIGHUP and when the file changes (empty: plaintext)")
	s.String(&c.TLSKey, "tls-key", "", "private key (PEM) of --tls-cert")
	s.String(&c.TLSClientCA, "tls-client-ca", "", "CA certificates (PEM): the gRPC services then require a client "+
		"certificate they signed (mutual TLS); callers present their --tls-cert")
	s.String(&c.TLSCA, "tls-ca", "", "CA certificates (PEM) this process verifies the services it calls with; "+
		"calls to services are plaintext without it")
}

// tlsFiles returns the TLS settings as pkg/tlsconfig loads them.
func (c *settings) tlsFiles() tlsconfig.Files {
	return tlsconfig.Files{Cert: c.TLSCert, Key: c.TLSKey, ClientCA: c.TLSClientCA, CA: c.TLSCA}
}

// resolve fills the defaults derived from other settings.
func (c *settings) resolve() {
	if c.ProgressAddr == "" {
		c.ProgressAddr = c.ProgressListen
	}
	if c.MediaAddr == "" {
		c.MediaAddr = c.MediaListen
	}
	if c.MediaDB == "" {
		c.MediaDB = "sqlite:" + filepath.Join(c.DataDir, "media.db")
	}
	if c.BlobURL == "" {
		c.BlobURL = filepath.Join(c.DataDir, "blobs")
	}
	if c.UploadDir == "" {
		c.UploadDir = filepath.Join(c.DataDir, "uploads")
	}
	if c.NotificationAddr == "" {
		c.NotificationAddr = c.NotificationListen
	}
	if c.NotificationDB == "" {
		c.NotificationDB = "sqlite:" + filepath.Join(c.DataDir, "notification.db")
	}
	if c.ProgressDB == "" {
		c.ProgressDB = "sqlite:" + filepath.Join(c.DataDir, "progress.db")
	}
	if c.UserKey == "" {
		c.UserKey = filepath.Join(c.DataDir, "keys", "user.pem")
	}
	if c.ServiceKey == "" {
		c.ServiceKey = filepath.Join(c.DataDir, "keys", "service.pem")
	}
}

// checkLimits refuses limits that would turn a limit off or stop every
// request: each must be above zero.
func (c *settings) checkLimits() error {
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{
		{"http-read-header-timeout", c.HTTPTimeouts.ReadHeader},
		{"http-read-timeout", c.HTTPTimeouts.Read},
		{"http-write-timeout", c.HTTPTimeouts.Write},
		{"http-idle-timeout", c.HTTPTimeouts.Idle},
	} {
		if d.v <= 0 {
			return fmt.Errorf("--%s must be above 0, not %v", d.flag, d.v)
		}
	}
	if c.MaxJSONBytes <= 0 {
		return fmt.Errorf("--max-json-bytes must be above 0, not %d", c.MaxJSONBytes)
	}
	if c.MaxConcurrentStreams <= 0 || c.MaxConcurrentStreams > math.MaxUint32 {
		return fmt.Errorf("--grpc-max-concurrent-streams must be from 1 to %d, not %d", uint32(math.MaxUint32), c.MaxConcurrentStreams)
	}
	return nil
}

func (c *settings) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

// serverSettings defines every server setting on cmd, reads args and
// checks the settings; -h prints them.
func serverSettings(cmd *cmdline, args []string) (*settings, error) {
	c := &settings{}
	c.define(cmd.global)
	args, err := cmd.parse(args)
	if err != nil {
		return nil, err
	}
	if err := cmd.wantArgs(args, 0); err != nil {
		return nil, err
	}
	c.resolve()
	if err := c.check(); err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// check refuses settings that cannot work together or at all.
func (c *settings) check() error {
	var err error
	if c.trusted, err = ratelimit.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	for name, v := range map[string]float64{"--rate-limit-user": c.UserRate, "--rate-limit-address": c.AddressRate, "--rate-limit-service": c.ServiceRate} {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s: %v is not a rate (requests a second, 0 for no limit)", name, v)
		}
	}
	for name, v := range map[string]int{"--rate-limit-user-burst": c.UserBurst, "--rate-limit-address-burst": c.AddressBurst, "--rate-limit-service-burst": c.ServiceBurst} {
		if v < 1 {
			return fmt.Errorf("%s: %d; a bucket holds at least 1 request (turn a limit off with its rate, 0)", name, v)
		}
	}
	for name, v := range map[string]int64{"max-feeds-per-user": int64(c.MaxFeeds), "max-subscriptions-per-user": int64(c.MaxSubscriptions),
		"max-uploads-per-user": int64(c.MaxUploads), "max-upload-bytes-per-user": c.MaxUploadBytes} {
		if v < 1 {
			return fmt.Errorf("--%s must be at least 1, not %d", name, v)
		}
	}
	if largest := max(c.MaxPhoto, c.MaxVideo); c.MaxUploadBytes < largest {
		return fmt.Errorf("--max-upload-bytes-per-user %d leaves no room for the largest upload allowed (--max-photo-bytes, --max-video-bytes: %d)", c.MaxUploadBytes, largest)
	}
	if err := c.checkLimits(); err != nil {
		return err
	}
	if c.BreakerFailures < 0 || c.BreakerCoolDown <= 0 {
		return fmt.Errorf("--breaker-failures must be 0 or more and --breaker-cool-down more than 0")
	}
	if c.NATSDeployment != "" {
		if err := fanout.ValidateDeploymentName(c.NATSDeployment); err != nil {
			return fmt.Errorf("--nats-deployment: %w", err)
		}
	}
	_, err = c.logLevel()
	return err
}

// rateLimiters returns the limiter of each surface of this process
// ("gateway", "progress", ...), all on one store: Redis with --redis-url,
// whose bucket names derive from serviceKey so that only this
// deployment's instances share them; in process otherwise.
func (c *settings) rateLimiters(logger *slog.Logger, mp metric.MeterProvider, serviceKey ed25519.PrivateKey) (func(surface string) *ratelimit.Limiter, func() error, error) {
	store, closeStore, err := ratelimit.Open(ratelimit.Config{RedisURL: c.RedisURL, Secret: serviceKey.Seed(), Logger: logger, MeterProvider: mp})
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	user := ratelimit.Limit{Rate: c.UserRate, Burst: c.UserBurst}
	return func(surface string) *ratelimit.Limiter {
		limits := ratelimit.Limits{User: user, Service: ratelimit.Limit{Rate: c.ServiceRate, Burst: c.ServiceBurst}}
		if surface == "gateway" {
			limits = ratelimit.Limits{User: user, Address: ratelimit.Limit{Rate: c.AddressRate, Burst: c.AddressBurst}}
		}
		return ratelimit.New(store, surface, limits, mp)
	}, closeStore, nil
}

// accessCache returns, with --redis-url, the cache of access answers that
// media and notification share and progress invalidates, named by a
// secret derived from serviceKey so that only this deployment's instances
// share it; nil without --redis-url.
func (c *settings) accessCache(serviceKey ed25519.PrivateKey) (*access.Shared, func() error, error) {
	if c.RedisURL == "" {
		return nil, func() error { return nil }, nil
	}
	client, err := ratelimit.NewRedisClient(c.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	secret, err := hkdf.Key(sha256.New, serviceKey.Seed(), nil, "kinbridge access: shared cache names v1", 32)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return access.NewShared(client, access.SharedOptions{Secret: secret}), client.Close, nil
}

// sessionStore returns where the gateway keeps browser sessions: with
// --redis-url in Redis, under names derived from serviceKey so that only
// this deployment's gateways share them; nil (in process) otherwise.
func (c *settings) sessionStore(serviceKey ed25519.PrivateKey) (gateway.SessionStore, func() error, error) {
	if c.RedisURL == "" {
		return nil, func() error { return nil }, nil
	}
	client, err := ratelimit.NewRedisClient(c.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	secret, err := hkdf.Key(sha256.New, serviceKey.Seed(), nil, "kinbridge gateway: session names v1", 16)
	if err != nil {
		client.Close()
		return nil, nil, err
	}
	return gateway.NewRedisSessions(client, "kinbridge:session:"+hex.EncodeToString(secret)+":"), client.Close, nil
}

// accessChecker is service's checker of who may see a child: asking
// progress over conn, remembering answers for ttl in shared (Redis) when
// set, else in process.
func accessChecker(conn *grpc.ClientConn, ttl time.Duration, shared *access.Shared, service string, logger *slog.Logger, mp metric.MeterProvider) *access.Checker {
	return access.New(progresspeerv1.NewAccessServiceClient(conn), ttl,
		access.WithShared(shared), access.WithLogger(logger), access.WithMetrics(mp, service))
}

// verifier builds the token verifier every server shares.
func (c *settings) verifier(userKey, serviceKey ed25519.PublicKey) (*auth.Verifier, error) {
	cfg := auth.VerifierConfig{UserKey: userKey, ServiceKey: serviceKey}
	if c.OIDCIssuer != "" || c.OIDCClientID != "" {
		if c.OIDCIssuer == "" || c.OIDCClientID == "" {
			return nil, fmt.Errorf("OIDC needs --oidc-issuer and --oidc-client-id together")
		}
		cfg.OIDC = &auth.OIDCConfig{
			Issuer:        c.OIDCIssuer,
			Audience:      c.OIDCClientID,
			AdminSubjects: c.OIDCAdminSubjects,
			UserClaim:     c.OIDCUserClaim,
		}
	}
	return auth.NewVerifier(cfg)
}

// bus returns the notification fan-out: NATS when configured, so the
// instances of this deployment (those sharing serviceKey) share live
// delivery; in process otherwise.
// The returned func closes the bus and its connection.
func (c *settings) bus(logger *slog.Logger, serviceKey ed25519.PrivateKey) (fanout.Bus, func(), error) {
	if c.NATSURL == "" {
		bus := fanout.NewLocal()
		return bus, func() { bus.Close() }, nil
	}
	nc, err := nats.Connect(c.NATSURL, append(fanout.NATSOptions(logger), nats.Name("kinbridge-notification"))...)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err)
	}
	bus, err := fanout.NewNATS(nc, "kinbridge.notification", fanout.Deployment{
		Secret:         serviceKey.Seed(),
		Name:           c.NATSDeployment,
		AcceptUnsigned: c.NATSAcceptUnsigned,
	}, fanout.WithLogger(logger))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return bus, func() { bus.Close(); nc.Close() }, nil
}
