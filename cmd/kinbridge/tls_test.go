package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/testenv"
	"github.com/kinbridge/kinbridge/pkg/tlsconfig"
)

// The suite with --tls-cert, --tls-key, --tls-ca (and --tls-client-ca):
// every listener serves TLS, the services call each other over it, and the
// certificate is reloaded without a restart (docs/operations.md, TLS).

// tlsSuite starts `serve all` serving pair, signed by ca, with extra
// flags; the test's clients trust ca and present client (when not nil) as
// their certificate.
func tlsSuite(t *testing.T, ca *testenv.CA, pair testenv.Pair, client *testenv.Pair, extra ...string) (*suite, *testenv.SyncBuffer) {
	t.Helper()
	cfg := &tls.Config{RootCAs: caPool(t, ca)}
	if client != nil {
		cert, err := tls.LoadX509KeyPair(client.CertFile, client.KeyFile)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	logs := &testenv.SyncBuffer{}
	s := bootSuite(t, &suite{dataDir: t.TempDir(), tls: cfg}, logs, append([]string{"--log-level", "info",
		"--tls-cert", pair.CertFile, "--tls-key", pair.KeyFile, "--tls-ca", ca.CertFile}, extra...)...)
	return s, logs
}

func caPool(t *testing.T, ca *testenv.CA) *x509.CertPool {
	t.Helper()
	p, err := tlsconfig.LoadPool(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// hostOf returns the host:port of a URL or address.
func hostOf(t *testing.T, addr string) string {
	t.Helper()
	if !strings.Contains(addr, "://") {
		return addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}

// servedSerial returns the serial number of the certificate addr serves.
func servedSerial(t *testing.T, addr string, roots *x509.CertPool) (*big.Int, error) {
	t.Helper()
	conn, err := tls.Dial("tcp", hostOf(t, addr), &tls.Config{RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber, nil
}

func TestTLSAndMutualTLSThroughTheSuite(t *testing.T) {
	ca := testenv.MustCA(t)
	node := ca.MustIssue(t, "node")
	client := ca.MustIssue(t, "client")
	s, _ := tlsSuite(t, ca, node, &client, "--tls-client-ca", ca.CertFile)
	if !strings.HasPrefix(s.gateway, "https://") || !strings.HasPrefix(s.metrics, "https://") {
		t.Fatalf("the banner does not say https: %s, %s", s.gateway, s.metrics)
	}

	// Every listener serves the certificate, to a client trusting the CA.
	roots := caPool(t, ca)
	for _, addr := range []string{s.gateway, s.metrics, s.progress, s.media, s.notification} {
		serial, err := servedSerial(t, addr, roots)
		if err != nil {
			t.Fatalf("%s: %v", addr, err)
		}
		if serial.Cmp(node.Serial) != 0 {
			t.Errorf("%s serves serial %v, want %v", addr, serial, node.Serial)
		}
	}

	// REST over https; plain http gets no service.
	for _, path := range []string{"/healthz", "/readyz"} {
		if r := s.call(t, "GET", path, "", ""); r.status != http.StatusOK {
			t.Errorf("GET %s over https: %d %s", path, r.status, r.body)
		}
	}
	resp, err := http.Get("http://" + hostOf(t, s.gateway) + "/readyz")
	if err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("plain http to the gateway: %d %s", resp.StatusCode, body)
		}
	}
	// The metrics listener serves TLS too, and asks no client certificate
	// (Prometheus presents none).
	metrics, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}).Get(s.metrics)
	if err != nil {
		t.Fatalf("metrics over https: %v", err)
	}
	page, _ := io.ReadAll(metrics.Body)
	metrics.Body.Close()
	if !strings.Contains(string(page), "kinbridge_tls_reload_failures_total 0") {
		t.Errorf("metrics do not show kinbridge_tls_reload_failures_total at 0")
	}
	// The expiry the alert reads, under the name it reads.
	if !regexp.MustCompile(`(?m)^kinbridge_tls_certificate_expiry_seconds(\{[^}]*\})? \d`).Match(page) {
		t.Errorf("metrics do not show kinbridge_tls_certificate_expiry_seconds")
	}

	// gRPC: with mutual TLS, a client without a certificate is refused,
	// one with a certificate of the CA is served; plaintext is refused.
	admin := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+s.adminToken)
	list := func(opt grpc.DialOption) error {
		conn, err := grpc.NewClient(s.progress, opt)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(admin, 5*time.Second)
		defer cancel()
		_, err = progressv1.NewProgressServiceClient(conn).ListChildren(ctx, &progressv1.ListChildrenRequest{})
		return err
	}
	if err := list(grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: roots}))); err == nil {
		t.Error("a gRPC client without a client certificate was served")
	}
	if err := list(grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Error("a plaintext gRPC client was served")
	}
	if err := list(s.transport()); err != nil {
		t.Errorf("a gRPC client with a client certificate: %v", err)
	}

	// The services reach each other over mutual TLS: the gateway calls
	// progress, progress tells notification, media asks progress.
	child := s.family(t)
	teacher, maria := s.userToken(t, "teacher", false), s.userToken(t, "maria", false)
	s.record(t, child, teacher, "Fractions over TLS")
	s.settled(t, maria, "Fractions over TLS")
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.upload(t, s.media, teacher, child, photo); err != nil {
		t.Fatalf("upload over mutual TLS: %v", err)
	}
	if r := s.call(t, "GET", "/v1/"+child+"/media", maria, ""); r.status != http.StatusOK || !strings.Contains(string(r.body), "Self-portrait") {
		t.Errorf("the guardian's media list: %d %s", r.status, r.body)
	}
}

// reloadFailures reads kinbridge_tls_reload_failures_total from the
// suite's metrics.
func reloadFailures(t *testing.T, s *suite) int {
	t.Helper()
	r, err := s.client().Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	page, _ := io.ReadAll(r.Body)
	for line := range strings.Lines(string(page)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "kinbridge_tls_reload_failures_total "); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return int(n)
		}
	}
	t.Fatal("no kinbridge_tls_reload_failures_total in the metrics")
	return 0
}

// replacePair writes from's files over to's.
func replacePair(t *testing.T, from, to testenv.Pair) {
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

func hangUp(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func TestTLSReloadKeepsTheOldCertificateWhenTheNewOneIsBad(t *testing.T) {
	ca := testenv.MustCA(t)
	live := ca.MustIssue(t, "live")
	first := live.Serial
	s, logs := tlsSuite(t, ca, live, nil)
	roots := caPool(t, ca)
	listeners := []string{s.gateway, s.metrics, s.progress, s.media, s.notification}

	// A bad pair: the new certificate with the old key.
	next := ca.MustIssue(t, "next")
	nextCert, err := os.ReadFile(next.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(live.CertFile, nextCert, 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp(t)
	deadline := time.Now().Add(10 * time.Second)
	for reloadFailures(t, s) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("the bad pair was never tried:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "still serving the previous one") {
		t.Errorf("the failed reload was not logged:\n%s", logs.String())
	}
	for _, addr := range listeners {
		serial, err := servedSerial(t, addr, roots)
		if err != nil || serial.Cmp(first) != 0 {
			t.Errorf("%s after a bad reload: serial %v (%v), want the old %v", addr, serial, err, first)
		}
	}
	if r := s.call(t, "GET", "/readyz", "", ""); r.status != http.StatusOK {
		t.Errorf("not ready after a bad reload: %d %s", r.status, r.body)
	}

	// A good pair: served from the next handshake on, everywhere.
	replacePair(t, next, live)
	hangUp(t)
	for _, addr := range listeners {
		deadline := time.Now().Add(10 * time.Second)
		for {
			serial, err := servedSerial(t, addr, roots)
			if err == nil && serial.Cmp(next.Serial) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still serves %v (%v), want the new %v", addr, serial, err, next.Serial)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// The services still reach each other.
	child := s.family(t)
	s.record(t, child, s.userToken(t, "teacher", false), "After the renewal")
	s.settled(t, s.userToken(t, "maria", false), "After the renewal")
}

func TestTLSRefusesToStartWithABadCertificate(t *testing.T) {
	ca := testenv.MustCA(t)
	good := ca.MustIssue(t, "good")
	other := ca.MustIssue(t, "other")
	expired, err := ca.IssueExpired("expired")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	garbage := dir + "/garbage.pem"
	if err := os.WriteFile(garbage, []byte("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		flags []string
		exit  int
		want  []string
	}{
		{"missing certificate", []string{"--tls-cert", dir + "/none.pem", "--tls-key", good.KeyFile, "--tls-ca", ca.CertFile}, 1,
			[]string{"--tls-cert", "none.pem", "no such file"}},
		{"garbage certificate", []string{"--tls-cert", garbage, "--tls-key", good.KeyFile, "--tls-ca", ca.CertFile}, 1,
			[]string{"--tls-cert", "garbage.pem"}},
		{"key of another certificate", []string{"--tls-cert", good.CertFile, "--tls-key", other.KeyFile, "--tls-ca", ca.CertFile}, 1,
			[]string{"--tls-key", "other-key.pem", "does not match"}},
		{"expired certificate", []string{"--tls-cert", expired.CertFile, "--tls-key", expired.KeyFile, "--tls-ca", ca.CertFile}, 1,
			[]string{"--tls-cert", "expired.pem", "not now"}},
		{"garbage client CA", []string{"--tls-cert", good.CertFile, "--tls-key", good.KeyFile, "--tls-ca", ca.CertFile,
			"--tls-client-ca", garbage}, 1, []string{"--tls-client-ca", "garbage.pem"}},
		{"certificate without a key", []string{"--tls-cert", good.CertFile, "--tls-ca", ca.CertFile}, 1, []string{"--tls-key"}},
		{"serve all serving TLS but calling in plaintext", []string{"--tls-cert", good.CertFile, "--tls-key", good.KeyFile}, 2,
			[]string{"--tls-ca"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "all", "--data-dir", t.TempDir(), "--progress-listen", "127.0.0.1:0",
				"--media-listen", "127.0.0.1:0", "--notification-listen", "127.0.0.1:0", "--gateway-listen", "127.0.0.1:0",
				"--metrics-listen", "127.0.0.1:0"}, c.flags...)
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			err := run(ctx, args, &stdout, &stderr)
			if ctx.Err() != nil {
				t.Fatal("serve all started")
			}
			if code := exitCode(err, &stderr); code != c.exit {
				t.Errorf("exit status %d, want %d: %s", code, c.exit, stderr.String())
			}
			for _, w := range c.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("the error does not say %q: %s", w, stderr.String())
				}
			}
			if strings.Contains(stdout.String(), "is up") {
				t.Errorf("a banner was printed: %s", stdout.String())
			}
		})
	}
}

// TestTLSFromTheCommandLine runs client commands against services that
// require client certificates: --tls-ca with --tls-cert and --tls-key gets
// through, --tls-ca alone does not.
func TestTLSFromTheCommandLine(t *testing.T) {
	ca := testenv.MustCA(t)
	node := ca.MustIssue(t, "node")
	person := ca.MustIssue(t, "person")
	s, _ := tlsSuite(t, ca, node, &person, "--tls-client-ca", ca.CertFile)
	ctx := context.Background()
	base := []string{"--addr", s.progress, "--token", s.adminToken, "--tls-ca", ca.CertFile}
	out, stderr, err := kbOut(ctx, append([]string{"children", "create", "--name", "Ada"}, append(base, "--tls-cert", person.CertFile, "--tls-key", person.KeyFile)...)...)
	if err != nil {
		t.Fatalf("children create over mutual TLS: %v\n%s%s", err, out, stderr)
	}
	out, stderr, err = kbOut(ctx, append([]string{"children", "list"}, append(base, "--tls-cert", person.CertFile, "--tls-key", person.KeyFile)...)...)
	if err != nil || !strings.Contains(out, "Ada") {
		t.Fatalf("children list over mutual TLS: %v\n%s%s", err, out, stderr)
	}
	if _, _, err := kbOut(ctx, append([]string{"children", "list"}, base...)...); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Errorf("children list without a client certificate: %v", err)
	}
	if _, _, err := kbOut(ctx, "children", "list", "--addr", s.progress, "--token", s.adminToken); err == nil {
		t.Error("children list in plaintext was served")
	}
}
