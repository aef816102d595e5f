// Package tlsconfig builds the TLS configurations of Kinbridge's listeners
// and of the connections its processes make to each other, from PEM files
// an operator gives (--tls-cert, --tls-key, --tls-client-ca, --tls-ca).
//
// The certificate and key are held by a [Reloader]: a certificate is
// renewed by replacing its files, and the process picks them up on SIGHUP
// or when their contents change, without a restart. A pair that
// does not load (unreadable, not PEM, a key that does not match) never
// replaces the one in use: the process goes on serving the old one, logs
// the failure and counts it (kinbridge_tls_reload_failures_total).
package tlsconfig

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
)

// DefaultInterval is how often a Reloader looks at its files.
const DefaultInterval = 10 * time.Second

// MetricReloadFailures counts the reloads that found a pair that does not
// load, and kept the one in use (docs/observability.md).
const MetricReloadFailures = "kinbridge.tls.reload.failures"

// MetricCertificateExpiry is when the certificate in use expires, as a
// Unix time in seconds: a renewal that keeps failing shows as a date that
// draws near (docs/observability.md).
const MetricCertificateExpiry = "kinbridge.tls.certificate.expiry"

// ScopeName is the instrumentation scope of this package's metrics.
const ScopeName = "github.com/kinbridge/kinbridge/pkg/tlsconfig"

// Options configure a Reloader. Every field may be left zero.
type Options struct {
	// Interval between looks at the files
	// (DefaultInterval when 0).
	Interval      time.Duration
	Logger        *slog.Logger         // slog.Default() when nil
	MeterProvider metric.MeterProvider // otel's global one when nil
}

// Reloader holds a certificate and its key, loaded from two PEM files, and
// hands it to every TLS handshake of the process: as server certificate
// ([Reloader.GetCertificate]) and as client certificate when a service
// it calls requires one ([Reloader.GetClientCertificate]).
type Reloader struct {
	certFile, keyFile string
	opts              Options
	cert              atomic.Pointer[tls.Certificate]
	failures          metric.Int64Counter

	mu   sync.Mutex        // one reload at a time; guards seen
	seen [sha256.Size]byte // the files' fingerprint when last loaded or refused
}

// NewReloader loads certFile and keyFile, and fails, naming the file at
// fault, when they do not make a usable pair.
func NewReloader(certFile, keyFile string, opts Options) (*Reloader, error) {
	if opts.Interval <= 0 {
		opts.Interval = DefaultInterval
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, opts: opts}
	var err error
	r.failures, err = opts.MeterProvider.Meter(ScopeName).Int64Counter(MetricReloadFailures, metric.WithUnit("{reload}"),
		metric.WithDescription("Reloads of the TLS certificate that found a pair that does not load; the old one is kept."))
	if err != nil {
		otel.Handle(fmt.Errorf("tlsconfig: metrics: %w", err))
		r.failures, _ = noop.NewMeterProvider().Meter(ScopeName).Int64Counter(MetricReloadFailures)
	}
	// At 0 from the start, so an alert on its rate has a series to read.
	r.failures.Add(context.Background(), 0)
	_, err = opts.MeterProvider.Meter(ScopeName).Int64ObservableGauge(MetricCertificateExpiry, metric.WithUnit("s"),
		metric.WithDescription("When the TLS certificate in use expires (Unix time)."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			if cert := r.cert.Load(); cert != nil {
				o.Observe(cert.Leaf.NotAfter.Unix())
			}
			return nil
		}))
	if err != nil {
		otel.Handle(fmt.Errorf("tlsconfig: metrics: %w", err))
	}
	seen := r.fingerprint()
	cert, err := LoadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert.Store(cert)
	r.seen = seen
	return r, nil
}

// LoadPair loads a certificate (PEM, leaf first, then its intermediates)
// and its private key, and checks that they belong together and that the
// leaf is valid now. Its errors name the file at fault.
func LoadPair(certFile, keyFile string) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("certificate %s with key %s: %w", certFile, keyFile, err)
	}
	// A certificate out of its validity would be refused by every peer:
	// better refused here, where the operator looks.
	now := time.Now()
	if leaf := cert.Leaf; now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate %s is valid from %s to %s, not now", certFile,
			leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	return &cert, nil
}

// LoadPool reads a PEM bundle of CA certificates.
func LoadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", file)
	}
	return pool, nil
}

// Certificate returns the certificate in use.
func (r *Reloader) Certificate() *tls.Certificate { return r.cert.Load() }

// GetCertificate is tls.Config.GetCertificate: the certificate in use.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// GetClientCertificate is tls.Config.GetClientCertificate: the same
// certificate, presented to the services that require one.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Reload reads the files again. When they do not make a usable pair it
// keeps the certificate in use, logs and counts the failure, and returns
// the error.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reload(r.fingerprint())
}

// reload loads the pair whose files had the fingerprint seen; call it
// with mu held.
func (r *Reloader) reload(seen [sha256.Size]byte) error {
	// Whatever the outcome, these files were looked at: a bad pair is
	// reported once, not at every poll, and tried again when it changes.
	r.seen = seen
	cert, err := LoadPair(r.certFile, r.keyFile)
	if err != nil {
		r.failures.Add(context.Background(), 1)
		r.opts.Logger.Error("TLS certificate not reloaded; still serving the previous one",
			slog.String("cert", r.certFile), slog.String("key", r.keyFile), slog.Any("error", err))
		return err
	}
	r.cert.Store(cert)
	r.opts.Logger.Info("TLS certificate reloaded", slog.String("cert", r.certFile),
		slog.String("serial", cert.Leaf.SerialNumber.String()), slog.Time("not_after", cert.Leaf.NotAfter))
	return nil
}

// fingerprint is a hash of the files' contents (an unreadable file counts
// as empty). Contents, not modification times: a file rewritten within
// the same clock tick, or put back with its old time (cp -p, a restored
// backup, a Kubernetes Secret's symlink swap), is still seen to change.
func (r *Reloader) fingerprint() [sha256.Size]byte {
	h := sha256.New()
	for _, f := range []string{r.certFile, r.keyFile} {
		b, _ := os.ReadFile(f)
		fmt.Fprintf(h, "%d:", len(b))
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

// reloadIfChanged reloads when the files are not what was last looked at.
func (r *Reloader) reloadIfChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if seen := r.fingerprint(); seen != r.seen {
		_ = r.reload(seen)
	}
}

// Watch reloads on SIGHUP, and when the files' contents change,
// until ctx is done or stop is called; stop returns once watching has
// ended. SIGHUP is taken from its arrival here, so it no longer ends the
// process.
func (r *Reloader) Watch(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(hup)
		tick := time.NewTicker(r.opts.Interval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				_ = r.Reload()
			case <-tick.C:
				r.reloadIfChanged()
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// ServerConfig returns the configuration of a listener serving r's
// certificate: TLS 1.2 at least (1.3 when the client has it, as Go
// prefers), and, when clientCAs is not nil, requiring a client certificate
// signed by one of them (mutual TLS). gRPC's and net/http's servers add
// the ALPN protocols they speak (h2) themselves.
func ServerConfig(r *Reloader, clientCAs *x509.CertPool) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
	if clientCAs != nil {
		cfg.ClientCAs = clientCAs
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg
}

// ClientConfig returns the configuration of connections to services
// whose certificates roots signed; r, when not nil, gives the client
// certificate presented to services that require one. The server name
// checked is the host of each address dialled.
func ClientConfig(roots *x509.CertPool, r *Reloader) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
	if r != nil {
		cfg.GetClientCertificate = r.GetClientCertificate
	}
	return cfg
}

// Files are the TLS settings of a process, as given.
type Files struct {
	Cert, Key string // --tls-cert, --tls-key
	ClientCA  string // --tls-client-ca
	CA        string // --tls-ca
}

// Process is what a process's TLS settings load to. A nil *Process, or a
// nil field, means plaintext for that side.
type Process struct {
	// Reloader holds the process's certificate; nil without --tls-cert.
	Reloader *Reloader
	// Server configures the listeners of the gRPC services (requiring
	// client certificates with --tls-client-ca); nil without --tls-cert.
	Server *tls.Config
	// HTTP configures the HTTP listeners (the gateway, metrics): the same
	// certificate, never requiring a client certificate, as browsers and
	// Prometheus present none.
	HTTP *tls.Config
	// Client configures the connections to other services; nil without
	// --tls-ca.
	Client *tls.Config
}

// Load loads f. Its errors name the flag and the file at fault, so that a
// process refuses to start saying what to fix.
func Load(f Files, opts Options) (*Process, error) {
	if (f.Cert == "") != (f.Key == "") {
		return nil, errors.New("--tls-cert and --tls-key go together: give both or neither")
	}
	if f.ClientCA != "" && f.Cert == "" {
		return nil, errors.New("--tls-client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
	}
	p := &Process{}
	if f.Cert != "" {
		r, err := NewReloader(f.Cert, f.Key, opts)
		if err != nil {
			return nil, fmt.Errorf("--tls-cert %s, --tls-key %s: %w", f.Cert, f.Key, err)
		}
		var clientCAs *x509.CertPool
		if f.ClientCA != "" {
			if clientCAs, err = LoadPool(f.ClientCA); err != nil {
				return nil, fmt.Errorf("--tls-client-ca: %w", err)
			}
		}
		p.Reloader = r
		p.Server = ServerConfig(r, clientCAs)
		p.HTTP = ServerConfig(r, nil)
	}
	if f.CA != "" {
		roots, err := LoadPool(f.CA)
		if err != nil {
			return nil, fmt.Errorf("--tls-ca: %w", err)
		}
		p.Client = ClientConfig(roots, p.Reloader)
	}
	return p, nil
}
