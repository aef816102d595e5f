package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kinbridge/kinbridge/pkg/access"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/config"
	"github.com/kinbridge/kinbridge/pkg/grpcclient"
	"github.com/kinbridge/kinbridge/pkg/sqldb"
	"github.com/kinbridge/kinbridge/services/media/blob"
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

	NotificationListen string
	NotificationAddr   string
	NotificationDB     string
	NATSURL            string
	NATSDeployment     string
	NATSAcceptUnsigned bool
	GuardianCacheTTL   time.Duration
	Retention          time.Duration

	GatewayListen   string
	CORSOrigins     []string
	UpstreamTimeout time.Duration

	MetricsListen string

	BreakerFailures int
	BreakerCoolDown time.Duration

	UserKey    string
	ServiceKey string

	OIDCIssuer        string
	OIDCAudience      string
	OIDCJWKSURL       string
	OIDCAdminSubjects []string
	OIDCUserClaim     string

	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
}

// define registers the settings on s. Defaults that live in the data
// directory are resolved after parsing, so --data-dir moves them all.
func (c *settings) define(s *config.Set) {
	s.String(&c.DataDir, "data-dir", "data", "directory for local state: SQLite databases, dev signing keys")
	s.String(&c.ProgressListen, "progress-listen", "127.0.0.1:9101", "address the progress gRPC server listens on")
	s.String(&c.ProgressAddr, "progress-addr", "", "address other processes reach progress at (default: --progress-listen)")
	s.Redacted(&c.ProgressDB, "progress-db", "", "progress database: postgres://... or sqlite:PATH (default: sqlite in --data-dir)", sqldb.RedactDSN)
	s.String(&c.MediaListen, "media-listen", "127.0.0.1:9102", "address the media gRPC server listens on")
	s.String(&c.MediaAddr, "media-addr", "", "address other processes reach media at (default: --media-listen)")
	s.Redacted(&c.MediaDB, "media-db", "", "media database: postgres://... or sqlite:PATH (default: sqlite in --data-dir)", sqldb.RedactDSN)
	s.Redacted(&c.BlobURL, "blob-url", "", "media blob store: a directory or s3://KEY:SECRET@host:port/bucket (default: --data-dir/blobs)", blob.RedactURL)
	s.String(&c.UploadDir, "upload-dir", "", "bytes of uploads in progress; must survive restarts (default: --data-dir/uploads)")
	s.Int64(&c.MaxPhoto, "max-photo-bytes", 50<<20, "largest photo, artwork or document upload, in bytes")
	s.Int64(&c.MaxVideo, "max-video-bytes", 4<<30, "largest video upload, in bytes")
	s.Duration(&c.AccessCacheTTL, "access-cache-ttl", access.DefaultTTL, "how long media remembers progress's access answers; 0 asks every time")
	s.Bool(&c.KeepLocation, "keep-location", false, "keep photos' EXIF GPS position (by default the allowlist rebuild drops every position; it drops what it does not know either way)")
	s.String(&c.NotificationListen, "notification-listen", "127.0.0.1:9103", "address the notification gRPC server listens on")
	s.String(&c.NotificationAddr, "notification-addr", "", "address other processes reach notification at (default: --notification-listen)")
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
	s.String(&c.GatewayListen, "gateway-listen", "127.0.0.1:8080", "address the REST gateway listens on")
	s.List(&c.CORSOrigins, "cors-origins", nil, "browser origins allowed to call the gateway, comma-separated; * for any")
	s.Duration(&c.UpstreamTimeout, "upstream-timeout", 10*time.Second, "deadline of gateway calls to services")
	s.Int(&c.BreakerFailures, "breaker-failures", grpcclient.DefaultBreakerFailures, "calls in a row that find a service down or silent "+
		"past their deadline before its callers stop calling it for --breaker-cool-down and fail at once (503 with Retry-After at the gateway); 0 turns this off")
	s.Duration(&c.BreakerCoolDown, "breaker-cool-down", grpcclient.DefaultBreakerCoolDown, "how long callers stop calling a service "+
		"that stopped answering, before one call probes it")
	s.String(&c.MetricsListen, "metrics-listen", "127.0.0.1:9464", "address of the Prometheus /metrics endpoint; empty turns it off")
	s.String(&c.UserKey, "user-key", "", "Ed25519 key (PEM) of the built-in user token issuer (default: created in --data-dir/keys)")
	s.String(&c.ServiceKey, "service-key", "", "Ed25519 key (PEM) signing service identities (default: created in --data-dir/keys)")
	s.String(&c.OIDCIssuer, "oidc-issuer", "", "accept user tokens from this OIDC issuer (iss)")
	s.String(&c.OIDCAudience, "oidc-audience", "", "required aud of OIDC tokens")
	s.String(&c.OIDCJWKSURL, "oidc-jwks-url", "", "JWKS URL of the OIDC issuer")
	s.List(&c.OIDCAdminSubjects, "oidc-admin-subjects", nil, "OIDC user ids that are administrators, comma-separated")
	s.String(&c.OIDCUserClaim, "oidc-user-claim", "sub", "OIDC claim holding the user id")
	s.String(&c.LogFormat, "log-format", "text", "log format: text or json")
	s.String(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	s.Duration(&c.ShutdownTimeout, "shutdown-timeout", 15*time.Second, "how long in-flight calls may finish after SIGTERM")
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

func (c *settings) logLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return l, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}

// parseSettings reads the settings of a command; -h prints them.
func parseSettings(name string, args []string, stderr io.Writer) (*settings, *config.Set, error) {
	c := &settings{}
	s := config.New(name)
	c.define(s)
	if err := s.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stderr, "Usage of kinbridge %s:\n", name)
			s.PrintUsage(stderr)
		}
		return nil, nil, err
	}
	if len(s.Args()) > 0 {
		return nil, nil, fmt.Errorf("unexpected arguments: %s", strings.Join(s.Args(), " "))
	}
	c.resolve()
	if c.BreakerFailures < 0 || c.BreakerCoolDown <= 0 {
		return nil, nil, fmt.Errorf("--breaker-failures must be 0 or more and --breaker-cool-down more than 0")
	}
	if c.NATSDeployment != "" {
		if err := fanout.ValidateDeploymentName(c.NATSDeployment); err != nil {
			return nil, nil, fmt.Errorf("--nats-deployment: %w", err)
		}
	}
	return c, s, nil
}

// verifier builds the token verifier every server shares.
func (c *settings) verifier(userKey, serviceKey ed25519.PublicKey) (*auth.Verifier, error) {
	cfg := auth.VerifierConfig{UserKey: userKey, ServiceKey: serviceKey}
	if c.OIDCIssuer != "" || c.OIDCJWKSURL != "" {
		if c.OIDCIssuer == "" || c.OIDCJWKSURL == "" || c.OIDCAudience == "" {
			return nil, fmt.Errorf("OIDC needs --oidc-issuer, --oidc-audience and --oidc-jwks-url together")
		}
		cfg.OIDC = &auth.OIDCConfig{
			Issuer:        c.OIDCIssuer,
			Audience:      c.OIDCAudience,
			JWKSURL:       c.OIDCJWKSURL,
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
