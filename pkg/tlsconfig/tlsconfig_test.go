package tlsconfig_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"math/big"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// copyPair puts from's files in place of to's, as an operator renewing a
// certificate does.
func copyPair(t *testing.T, from, to testenv.Pair) {
	t.Helper()
	for src, dst := range map[string]string{from.CertFile: to.CertFile, from.KeyFile: to.KeyFile} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// served starts a TLS server with cfg and returns the serial number of
// the certificate a client verifying with roots is shown.
func served(t *testing.T, cfg *tls.Config, roots *x509.CertPool, client *tls.Config) (*big.Int, error) {
	t.Helper()
	lis, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := lis.Accept()
		if err != nil {
			return
		}
		_ = c.(*tls.Conn).Handshake()
		// Under TLS 1.3 a refused client certificate is only told on the
		// first read.
		_, _ = c.Write([]byte("x"))
		c.Close()
	}()
	defer func() { <-done }()
	if client == nil {
		client = &tls.Config{}
	}
	if roots != nil {
		client.RootCAs = roots
	}
	conn, err := tls.Dial("tcp", lis.Addr().String(), client)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := io.ReadFull(conn, make([]byte, 1)); err != nil {
		return nil, err
	}
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func pool(t *testing.T, ca *testenv.CA) *x509.CertPool {
	t.Helper()
	p, err := tlsconfig.LoadPool(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// collected is the metric named name in what reader collects now.
func collected(t *testing.T, reader *metric.ManualReader, name string) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no %s metric", name)
	return metricdata.Metrics{}
}

// failures reads kinbridge.tls.reload.failures from reader.
func failures(t *testing.T, reader *metric.ManualReader) int64 {
	t.Helper()
	var n int64
	for _, dp := range collected(t, reader, tlsconfig.MetricReloadFailures).Data.(metricdata.Sum[int64]).DataPoints {
		n += dp.Value
	}
	return n
}

// expiry reads kinbridge.tls.certificate.expiry from reader.
func expiry(t *testing.T, reader *metric.ManualReader) time.Time {
	t.Helper()
	dps := collected(t, reader, tlsconfig.MetricCertificateExpiry).Data.(metricdata.Gauge[int64]).DataPoints
	if len(dps) != 1 {
		t.Fatalf("%d points of %s, want 1", len(dps), tlsconfig.MetricCertificateExpiry)
	}
	return time.Unix(dps[0].Value, 0)
}

// notAfter is when the certificate of pair expires.
func notAfter(t *testing.T, certFile, keyFile string) time.Time {
	t.Helper()
	cert, err := tlsconfig.LoadPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return cert.Leaf.NotAfter.Truncate(time.Second)
}

func TestReloadKeepsTheOldPairWhenTheNewOneIsBadAndTakesAGoodOne(t *testing.T) {
	ca := testenv.MustCA(t)
	live := ca.MustIssue(t, "live")
	first := live.Serial
	reader := metric.NewManualReader()
	var logs bytes.Buffer
	r, err := tlsconfig.NewReloader(live.CertFile, live.KeyFile, tlsconfig.Options{
		MeterProvider: metric.NewMeterProvider(metric.WithReader(reader)),
		Logger:        slog.New(slog.NewTextHandler(&logs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := tlsconfig.ServerConfig(r, nil)
	roots := pool(t, ca)
	liveExpiry := notAfter(t, live.CertFile, live.KeyFile)
	if got := expiry(t, reader); !got.Equal(liveExpiry) {
		t.Errorf("expiry metric %v, want the certificate's %v", got, liveExpiry)
	}

	other := ca.MustIssue(t, "other")
	// Each bad pair: what an operator could leave behind.
	bad := map[string]func(){
		"garbage PEM": func() {
			os.WriteFile(live.CertFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"), 0o600)
		},
		"key of another certificate": func() { copyPair(t, live, live); copyFile(t, other.KeyFile, live.KeyFile) },
		"missing file":               func() { os.Remove(live.KeyFile) },
		"empty file":                 func() { os.WriteFile(live.CertFile, nil, 0o600) },
		"expired": func() {
			exp, err := ca.IssueExpired("expired")
			if err != nil {
				t.Fatal(err)
			}
			copyPair(t, exp, live)
		},
	}
	saved := ca.MustIssue(t, "saved")
	copyPair(t, live, saved)
	want := int64(0)
	for name, breakIt := range bad {
		copyPair(t, saved, live)
		breakIt()
		if err := r.Reload(); err == nil {
			t.Fatalf("%s: Reload succeeded", name)
		}
		want++
		if got := failures(t, reader); got != want {
			t.Errorf("%s: %d failures counted, want %d", name, got, want)
		}
		serial, err := served(t, cfg, roots, nil)
		if err != nil {
			t.Fatalf("%s: after a bad reload: %v", name, err)
		}
		if serial.Cmp(first) != 0 {
			t.Fatalf("%s: serving serial %v, want the old %v", name, serial, first)
		}
		if got := expiry(t, reader); !got.Equal(liveExpiry) {
			t.Errorf("%s: expiry metric %v, want the old certificate's %v", name, got, liveExpiry)
		}
	}
	if !strings.Contains(logs.String(), "still serving the previous one") {
		t.Errorf("the failures were not logged:\n%s", logs.String())
	}

	copyPair(t, other, live)
	if err := r.Reload(); err != nil {
		t.Fatal(err)
	}
	serial, err := served(t, cfg, roots, nil)
	if err != nil {
		t.Fatal(err)
	}
	if serial.Cmp(other.Serial) != 0 {
		t.Fatalf("serving serial %v after a good reload, want the new %v", serial, other.Serial)
	}
	if got, want := expiry(t, reader), notAfter(t, other.CertFile, other.KeyFile); !got.Equal(want) {
		t.Errorf("expiry metric %v after a good reload, want the new certificate's %v", got, want)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitServing polls until cfg serves serial.
func waitServing(t *testing.T, cfg *tls.Config, roots *x509.CertPool, serial *big.Int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := served(t, cfg, roots, nil)
		if err == nil && got.Cmp(serial) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %v (%v), want %v", got, err, serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestWatchReloadsWhenTheFilesChange(t *testing.T) {
	ca := testenv.MustCA(t)
	live := ca.MustIssue(t, "live")
	r, err := tlsconfig.NewReloader(live.CertFile, live.KeyFile, tlsconfig.Options{Interval: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stop := r.Watch(context.Background())
	defer stop()
	// The new pair keeps the old files' modification times (cp -p, a
	// restored backup, a write within the same clock tick): the contents
	// changed, and that is what is watched.
	was, err := os.Stat(live.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	next := ca.MustIssue(t, "next")
	copyPair(t, next, live)
	for _, f := range []string{live.CertFile, live.KeyFile} {
		if err := os.Chtimes(f, was.ModTime(), was.ModTime()); err != nil {
			t.Fatal(err)
		}
	}
	waitServing(t, tlsconfig.ServerConfig(r, nil), pool(t, ca), next.Serial)
}

func TestWatchReloadsOnSIGHUP(t *testing.T) {
	ca := testenv.MustCA(t)
	live := ca.MustIssue(t, "live")
	// A poll that never comes within the test: only the signal reloads.
	r, err := tlsconfig.NewReloader(live.CertFile, live.KeyFile, tlsconfig.Options{Interval: time.Hour,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	stop := r.Watch(context.Background())
	defer stop()
	next := ca.MustIssue(t, "next")
	copyPair(t, next, live)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitServing(t, tlsconfig.ServerConfig(r, nil), pool(t, ca), next.Serial)
}

func TestMutualTLSRefusesAClientWithoutACertificate(t *testing.T) {
	ca := testenv.MustCA(t)
	dir := t.TempDir()
	server := ca.MustIssue(t, "server")
	client := ca.MustIssue(t, "client")
	stranger, err := testenv.WriteCerts(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := tlsconfig.Load(tlsconfig.Files{Cert: server.CertFile, Key: server.KeyFile, ClientCA: ca.CertFile, CA: ca.CertFile},
		tlsconfig.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	roots := pool(t, ca)
	if _, err := served(t, p.Server, roots, nil); err == nil {
		t.Error("a client without a certificate was served")
	}
	strange, err := tls.LoadX509KeyPair(stranger.CertFile, stranger.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := served(t, p.Server, roots, &tls.Config{Certificates: []tls.Certificate{strange}}); err == nil {
		t.Error("a client with a certificate of another CA was served")
	}
	own, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := served(t, p.Server, roots, &tls.Config{Certificates: []tls.Certificate{own}}); err != nil {
		t.Errorf("a client with a certificate of the CA: %v", err)
	}
	// The process's own client configuration presents its certificate.
	if _, err := served(t, p.Server, nil, p.Client.Clone()); err != nil {
		t.Errorf("the process's client configuration: %v", err)
	}
	// The HTTP listeners ask for no client certificate.
	if _, err := served(t, p.HTTP, roots, nil); err != nil {
		t.Errorf("HTTP listener refused a client without a certificate: %v", err)
	}
}

func TestLoadRefusesWhatCannotWork(t *testing.T) {
	ca := testenv.MustCA(t)
	good := ca.MustIssue(t, "good")
	other := ca.MustIssue(t, "other")
	expired, err := ca.IssueExpired("expired")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	garbage := dir + "/garbage.pem"
	os.WriteFile(garbage, []byte("hello"), 0o600)
	for _, c := range []struct {
		name string
		f    tlsconfig.Files
		want []string // in the error
	}{
		{"missing cert", tlsconfig.Files{Cert: dir + "/none.pem", Key: good.KeyFile}, []string{"--tls-cert", "none.pem"}},
		{"missing key", tlsconfig.Files{Cert: good.CertFile, Key: dir + "/none.pem"}, []string{"--tls-key", "none.pem"}},
		{"garbage cert", tlsconfig.Files{Cert: garbage, Key: good.KeyFile}, []string{"--tls-cert", "garbage.pem"}},
		{"mismatched key", tlsconfig.Files{Cert: good.CertFile, Key: other.KeyFile}, []string{"--tls-cert", "other-key.pem", "does not match"}},
		{"expired", tlsconfig.Files{Cert: expired.CertFile, Key: expired.KeyFile}, []string{"expired.pem", "not now"}},
		{"cert without key", tlsconfig.Files{Cert: good.CertFile}, []string{"--tls-key"}},
		{"client CA without cert", tlsconfig.Files{ClientCA: ca.CertFile}, []string{"--tls-client-ca", "--tls-cert"}},
		{"garbage client CA", tlsconfig.Files{Cert: good.CertFile, Key: good.KeyFile, ClientCA: garbage}, []string{"--tls-client-ca", "garbage.pem"}},
		{"missing CA", tlsconfig.Files{CA: dir + "/none.pem"}, []string{"--tls-ca", "none.pem"}},
	} {
		_, err := tlsconfig.Load(c.f, tlsconfig.Options{Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			t.Errorf("%s: loaded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q does not say %q", c.name, err, w)
			}
		}
	}
	if _, err := tlsconfig.Load(tlsconfig.Files{Cert: good.CertFile, Key: good.KeyFile}, tlsconfig.Options{}); err != nil {
		t.Errorf("a good pair: %v", err)
	}
}
