package gateway

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"go/build"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

var testApp = fstest.MapFS{
	"index.html":              {Data: []byte(`<!doctype html><title>app</title><script type="module" src="/assets/index-abc.js"></script>`)},
	"favicon.svg":             {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	"assets/index-abc.js":     {Data: []byte(strings.Repeat("console.log('kinbridge');\n", 200))},
	"assets/index-abc.css":    {Data: []byte("body{}")},
	"assets/sub/deep-xyz.txt": {Data: []byte("x")},
}

// appServer is a gateway with app (nil: none) and no service behind it.
func appServer(t *testing.T, app fs.FS) *httptest.Server {
	t.Helper()
	userPub, _, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(context.Background(), Config{
		ProgressTarget: "127.0.0.1:1", MediaTarget: "127.0.0.1:1", NotificationTarget: "127.0.0.1:1",
		Verifier: v, App: app, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv
}

type appAnswer struct {
	status                int
	ctype, cache, csp     string
	encoding, etag, vary  string
	location, body        string
	isJSON, isIndexOfTest bool
}

func appGet(t *testing.T, srv *httptest.Server, method, path string, header ...string) appAnswer {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	// Set Accept-Encoding by hand so the transport does not unzip.
	if req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "identity")
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			t.Fatal(err)
		}
	}
	a := appAnswer{
		status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), cache: resp.Header.Get("Cache-Control"),
		csp: resp.Header.Get("Content-Security-Policy"), encoding: resp.Header.Get("Content-Encoding"),
		etag: resp.Header.Get("ETag"), vary: strings.Join(resp.Header.Values("Vary"), ", "), location: resp.Header.Get("Location"), body: string(b),
	}
	a.isJSON = strings.HasPrefix(a.ctype, "application/json") && json.Valid(b)
	a.isIndexOfTest = a.body == string(testApp["index.html"].Data)
	return a
}

const html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

// Browser navigations to the app's routes get index.html, revalidated on
// every load; the gateway's own paths and non-HTML requests keep their
// answers.
func TestAppRoutes(t *testing.T) {
	srv := appServer(t, testApp)
	for _, c := range []struct {
		method, path, accept string
		index                bool // index.html, no-cache
		status               int
	}{
		{"GET", "/", html, true, 200},
		{"GET", "/", "*/*", true, 200}, // the app's root whatever Accept says
		{"HEAD", "/", html, true, 200},
		{"GET", "/children/abc", html, true, 200},
		{"GET", "/children/abc/gallery", html, true, 200},
		{"HEAD", "/children/abc/summary", html, true, 200},
		{"GET", "/signin?error=denied", html, true, 200},
		{"GET", "/admin", "text/html", true, 200},
		// Not a browser navigation: JSON 404 as before.
		{"GET", "/children/abc", "application/json", false, 404},
		{"GET", "/children/abc", "", false, 404},
		{"GET", "/nope.js", "*/*", false, 404},
		{"POST", "/children/abc", html, false, 404},
		{"DELETE", "/admin", html, false, 404},
		// The gateway's own paths are never the app's page.
		{"GET", "/auth/unknown", html, false, 404},
		{"GET", "/assets/missing-123.js", html, false, 404},
		{"GET", "/docs/missing.js", html, false, 404},
		{"GET", "/healthzz", html, false, 404},
		{"GET", "/openapi.json/x", html, false, 404},
	} {
		t.Run(c.method+" "+c.path+" "+c.accept, func(t *testing.T) {
			a := appGet(t, srv, c.method, c.path, "Accept", c.accept)
			if a.status != c.status {
				t.Fatalf("status %d, want %d (%s)", a.status, c.status, a.body)
			}
			if c.index {
				if c.method == "GET" && !a.isIndexOfTest {
					t.Errorf("body %q is not index.html", a.body)
				}
				if !strings.HasPrefix(a.ctype, "text/html") || a.cache != "no-cache" || a.csp != appCSP {
					t.Errorf("headers: type %q cache %q csp %q", a.ctype, a.cache, a.csp)
				}
				return
			}
			if c.method == "GET" && !a.isJSON {
				t.Errorf("want the JSON error, got %s %q", a.ctype, a.body)
			}
		})
	}
	// The API and docs still answer as themselves.
	if a := appGet(t, srv, "GET", "/v1/children", "Accept", html); a.status != 401 || !a.isJSON {
		t.Errorf("/v1/children without a token: %d %s", a.status, a.body)
	}
	if a := appGet(t, srv, "GET", "/healthz", "Accept", html); a.status != 200 || !a.isJSON {
		t.Errorf("/healthz: %d %s", a.status, a.body)
	}
	if a := appGet(t, srv, "GET", "/docs", "Accept", html); a.status != 200 || a.csp != docsCSP {
		t.Errorf("/docs: %d csp %q", a.status, a.csp)
	}
}

// Hashed assets are cached for good and gzipped for clients that take it;
// other files next to index.html are revalidated.
func TestAppAssets(t *testing.T) {
	srv := appServer(t, testApp)
	js := string(testApp["assets/index-abc.js"].Data)

	a := appGet(t, srv, "GET", "/assets/index-abc.js", "Accept-Encoding", "gzip, br")
	if a.status != 200 || a.body != js || a.encoding != "gzip" {
		t.Fatalf("gzip: %d %q encoding %q", a.status, a.body[:min(len(a.body), 40)], a.encoding)
	}
	if a.cache != "public, max-age=31536000, immutable" || !strings.HasPrefix(a.ctype, "text/javascript") || !strings.Contains(a.vary, "Accept-Encoding") {
		t.Errorf("headers: cache %q type %q vary %q", a.cache, a.ctype, a.vary)
	}
	gzTag := a.etag

	plain := appGet(t, srv, "GET", "/assets/index-abc.js", "Accept-Encoding", "gzip;q=0")
	if plain.status != 200 || plain.body != js || plain.encoding != "" || plain.etag == gzTag {
		t.Fatalf("identity: %d encoding %q etag %q (gzip's %q)", plain.status, plain.encoding, plain.etag, gzTag)
	}
	if c := appGet(t, srv, "GET", "/assets/index-abc.js", "If-None-Match", plain.etag); c.status != 304 {
		t.Errorf("If-None-Match: %d, want 304", c.status)
	}
	if c := appGet(t, srv, "GET", "/assets/index-abc.css"); c.status != 200 || !strings.HasPrefix(c.ctype, "text/css") || c.csp != appCSP {
		t.Errorf("css: %d %q csp %q", c.status, c.ctype, c.csp)
	}
	if c := appGet(t, srv, "GET", "/assets/sub/deep-xyz.txt"); c.status != 200 || c.body != "x" {
		t.Errorf("nested asset: %d %q", c.status, c.body)
	}
	if c := appGet(t, srv, "GET", "/favicon.svg"); c.status != 200 || c.cache != "no-cache" || !strings.HasPrefix(c.ctype, "image/svg+xml") {
		t.Errorf("favicon: %d cache %q type %q", c.status, c.cache, c.ctype)
	}
	if c := appGet(t, srv, "GET", "/index.html", "Accept", "*/*"); c.status != 404 {
		t.Errorf("/index.html: %d, want 404 (the page lives at /)", c.status)
	}
}

// The app's CSP allows no inline script and no other origin.
func TestAppCSPIsStrict(t *testing.T) {
	directives := map[string]string{}
	for d := range strings.SplitSeq(appCSP, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{
		"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'",
		"img-src": "'self' blob: data:", "media-src": "'self' blob:", "frame-ancestors": "'none'",
	} {
		if directives[name] != want {
			t.Errorf("%s %q, want %q", name, directives[name], want)
		}
	}
}

// Without an app the gateway behaves as before: / goes to the docs, and
// any other path is a JSON 404 even for a browser.
func TestNoApp(t *testing.T) {
	srv := appServer(t, nil)
	if a := appGet(t, srv, "GET", "/", "Accept", html); a.status != http.StatusFound || a.location != "/docs" {
		t.Errorf("/: %d Location %q", a.status, a.location)
	}
	if a := appGet(t, srv, "GET", "/children/abc", "Accept", html); a.status != 404 || !a.isJSON {
		t.Errorf("/children/abc: %d %s", a.status, a.body)
	}
}

// An app without index.html is refused when the gateway is built.
func TestAppNeedsIndex(t *testing.T) {
	if _, err := loadApp(fstest.MapFS{"assets/a.js": {Data: []byte("x")}}); err == nil {
		t.Fatal("loadApp without index.html: no error")
	}
}

// The gateway gets the app as an fs.FS and never imports web/ (nor anything
// of ours but gen/ and pkg/): cmd/kinbridge wires them together.
func TestImportsOnlyGenAndPkg(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const module = "github.com/kinbridge/kinbridge/"
	for _, imp := range pkg.Imports {
		rest, ours := strings.CutPrefix(imp, module)
		if ours && !strings.HasPrefix(rest, "gen/") && !strings.HasPrefix(rest, "pkg/") {
			t.Errorf("gateway imports %s: only gen/ and pkg/ may be imported", imp)
		}
	}
}
