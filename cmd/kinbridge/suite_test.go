package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/auth"
)

// suite is a `kinbridge serve all` running inside the test process on
// ephemeral ports, with its own data directory.
type suite struct {
	gateway      string // http://host:port
	progress     string // host:port
	notification string // host:port
	media        string // host:port
	metrics      string // http://host:port/metrics
	adminToken   string
	signInLink   string // the banner's one-time sign-in link
	dataDir      string
	// With TLS (tls_test.go): the client of REST calls, and what gRPC
	// calls go over; nil for plaintext.
	http *http.Client
	tls  *tls.Config
}

// startSuite runs the suite until the test ends and waits until it is ready.
func startSuite(t *testing.T, extra ...string) *suite {
	t.Helper()
	return bootSuite(t, &suite{dataDir: t.TempDir()}, io.Discard, extra...)
}

// startSuiteIn is startSuite on a data directory the test chose (a
// restored one).
func startSuiteIn(t *testing.T, dataDir string, extra ...string) *suite {
	t.Helper()
	return bootSuite(t, &suite{dataDir: dataDir}, io.Discard, extra...)
}

// bootSuite starts s in s.dataDir: plaintext, or TLS when s.tls is set,
// with the flags in extra; the suite's log goes to stderr.
func bootSuite(t *testing.T, s *suite, stderr io.Writer, extra ...string) *suite {
	t.Helper()
	scheme := "http://"
	if s.tls != nil {
		scheme = "https://"
		s.http = &http.Client{Transport: &http.Transport{TLSClientConfig: s.tls.Clone(), ForceAttemptHTTP2: true}}
		t.Cleanup(s.http.CloseIdleConnections)
	}
	args := append([]string{"serve", "all",
		"--data-dir", s.dataDir,
		"--progress-listen", "127.0.0.1:0",
		"--notification-listen", "127.0.0.1:0",
		"--media-listen", "127.0.0.1:0",
		"--gateway-listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0",
		"--log-level", "warn",
		// Every test request comes from 127.0.0.1, hundreds of them in some
		// tests: limits far above that, unless extra sets its own.
		"--rate-limit-user", "100000", "--rate-limit-user-burst", "100000",
		"--rate-limit-address", "100000", "--rate-limit-address-burst", "100000",
		"--rate-limit-service", "100000", "--rate-limit-service-burst", "100000",
	}, extra...)
	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, args, w, stderr)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve all ended with %v", err)
		}
	})

	addrs, err := banner.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	s.gateway, s.progress, s.media, s.notification = scheme+addrs.Gateway, addrs.Progress, addrs.Media, addrs.Notification
	s.metrics = scheme + addrs.Metrics + "/metrics"
	s.signInLink = addrs.SignInLink
	go io.Copy(io.Discard, out) // keep the writer from blocking
	if addrs.Gateway == "" || s.progress == "" {
		t.Fatalf("serve all did not print its addresses: %+v", s)
	}
	s.adminToken = adminToken(t, s.dataDir)
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := s.client().Get(s.gateway + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateway never became ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// adminToken gets an administrator's token for the suite in dataDir the
// way a person does: `kinbridge token issue --admin` (serve prints no token).
func adminToken(t *testing.T, dataDir string) string {
	t.Helper()
	var out, stderr bytes.Buffer
	if err := run(context.Background(), []string{"token", "issue", "--admin", "--data-dir", dataDir}, &out, &stderr); err != nil {
		t.Fatalf("token issue --admin: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Fatalf("token issue --admin did not find the suite's key: %s", stderr.String())
	}
	return strings.TrimSpace(out.String())
}

// userToken mints a token from the suite's own built-in issuer.
func (s *suite) userToken(t *testing.T, user string, admin bool) string {
	t.Helper()
	key, err := auth.LoadKey(filepath.Join(s.dataDir, "keys", "user.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewUserIssuer(key).Issue(user, admin, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// serviceToken mints a service identity with the suite's service key.
func (s *suite) serviceToken(t *testing.T, service string) string {
	t.Helper()
	key, err := auth.LoadKey(filepath.Join(s.dataDir, "keys", "service.pem"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.NewServiceIdentity(key, service).Token()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// client is the suite's HTTP client: over TLS when the suite serves it.
func (s *suite) client() *http.Client {
	if s.http != nil {
		return s.http
	}
	return http.DefaultClient
}

// transport is what gRPC connections to the suite's services go over.
func (s *suite) transport() grpc.DialOption {
	if s.tls != nil {
		return grpc.WithTransportCredentials(credentials.NewTLS(s.tls.Clone()))
	}
	return grpc.WithTransportCredentials(insecure.NewCredentials())
}

// response is what a REST call answered.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.body)
	}
	return m
}

// call sends one REST request with an optional bearer token.
func (s *suite) call(t *testing.T, method, path, token, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.gateway+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: bytes.TrimSpace(b)}
}

// mustCreate creates a resource and returns its JSON.
func (s *suite) mustCreate(t *testing.T, path, token, body string) map[string]any {
	t.Helper()
	r := s.call(t, "POST", path, token, body)
	if r.status != http.StatusOK {
		t.Fatalf("POST %s: %d %s", path, r.status, r.body)
	}
	return r.json(t)
}
