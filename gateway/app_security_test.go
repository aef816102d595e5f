package gateway

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
)

// Every page and file of the app refuses framing (clickjacking a signed-in
// family), sniffing and cross-site referrers, GET and HEAD alike.
func TestAppSecurityHeaders(t *testing.T) {
	srv := appServer(t, testApp)
	for _, c := range []struct{ method, path, accept string }{
		{"GET", "/", "text/html"},
		{"HEAD", "/", "text/html"},
		{"GET", "/children/abc/gallery", "text/html"},
		{"GET", "/signin?error=link", "text/html"},
		{"GET", "/assets/index-abc.js", "*/*"},
		{"HEAD", "/assets/index-abc.css", "*/*"},
		{"GET", "/favicon.svg", "image/*"},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), c.method, srv.URL+c.path, nil)
		req.Header.Set("Accept", c.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		h := resp.Header
		if resp.StatusCode != 200 || h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") ||
			h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s %s: %d, X-Frame-Options %q, CSP %q, X-Content-Type-Options %q, Referrer-Policy %q", c.method, c.path, resp.StatusCode,
				h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"), h.Get("X-Content-Type-Options"), h.Get("Referrer-Policy"))
		}
	}
	// /auth/* answers (redirects and JSON) cannot be framed either.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/auth/session", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Frame-Options") != "DENY" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("/auth/session: X-Frame-Options %q, CSP %q", resp.Header.Get("X-Frame-Options"), resp.Header.Get("Content-Security-Policy"))
	}
}

// rawGet sends target as the request line's path byte for byte (clients
// clean dot segments), returning the status line and the response.
func rawGet(t *testing.T, addr, target string) (*http.Response, string) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/html\r\nConnection: close\r\n\r\n", target, addr)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	var body strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		body.WriteString(string(buf[:n]))
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	return resp, body.String()
}

// /assets/ serves the embedded build only: no path, however encoded,
// reaches a file outside it (the files are a map by exact path, read at
// start; nothing is opened by request path).
func TestAppNoPathTraversal(t *testing.T) {
	srv := appServer(t, testApp)
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, target := range []string{
		"/assets/../../../../etc/passwd",
		"/assets/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/assets/..%2f..%2f..%2fgo.mod",
		"/assets/..%5c..%5cgo.mod",
		"/assets/%252e%252e/go.mod",
		"/assets/sub/../../index.html",
		"/assets/sub/..%2f..%2findex.html",
		"//etc/passwd",
		"/assets//etc/passwd",
		"/assets/index-abc.js%00.html",
		"/assets/app.go",
		"/app.go",
		"/../gateway/app.go",
	} {
		resp, body := rawGet(t, addr, target)
		switch {
		case resp.StatusCode >= 300 && resp.StatusCode < 400:
			// ServeMux's cleaning redirect: to a path on this site.
			if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
				t.Errorf("%s: %d to %q, off site", target, resp.StatusCode, loc)
			}
		case resp.StatusCode == 200:
			// Only the app's own page (an app route asked for as HTML).
			if !strings.Contains(body, "<title>app</title>") {
				t.Errorf("%s: 200 with %.60q", target, body)
			}
		}
		for _, leak := range []string{"root:", "package gateway", "module github.com"} {
			if strings.Contains(body, leak) {
				t.Errorf("%s: the answer holds %q", target, leak)
			}
		}
	}
}
