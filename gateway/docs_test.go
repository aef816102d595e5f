package gateway

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestDocsPageAndItsFiles reads /docs as a browser would: every script and
// stylesheet it names is served from the gateway (none inline, none from
// elsewhere), under a Content-Security-Policy that allows no other script.
func TestDocsPageAndItsFiles(t *testing.T) {
	f := newFixture(t, time.Second, nil)
	get := func(path string, header ...string) *http.Response {
		t.Helper()
		req, err := http.NewRequest("GET", f.srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	body := func(resp *http.Response) string {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	resp := get("/docs")
	page := body(resp)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	directives := map[string]string{}
	for d := range strings.SplitSeq(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	for name, want := range map[string]string{"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'"} {
		if directives[name] != want {
			t.Errorf("Content-Security-Policy %q: want %s %s", csp, name, want)
		}
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("X-Content-Type-Options %q", resp.Header.Get("X-Content-Type-Options"))
	}
	if regexp.MustCompile(`<script(\s[^>]*)?>[^<]`).MatchString(page) || !strings.Contains(page, `id="swagger-ui"`) {
		t.Errorf("the page has an inline script or no Swagger UI:\n%s", page)
	}

	base, _ := url.Parse(f.srv.URL + "/docs")
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	wantTypes := map[string]string{".js": "javascript", ".css": "text/css", ".png": "image/png"}
	seen := map[string]bool{}
	for _, ref := range refs {
		u, err := base.Parse(ref[1])
		if err != nil || u.Host != base.Host {
			t.Errorf("the page loads %q, not from the gateway", ref[1])
			continue
		}
		resp := get(u.Path)
		b := body(resp)
		ext := u.Path[strings.LastIndex(u.Path, "."):]
		seen[ext] = true
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Type"), wantTypes[ext]) || len(b) == 0 {
			t.Errorf("%s: %d %q, %d bytes", u.Path, resp.StatusCode, resp.Header.Get("Content-Type"), len(b))
		}
		// A browser revalidates and gets 304 while the file is the same.
		if etag := resp.Header.Get("ETag"); etag == "" || get(u.Path, "If-None-Match", etag).StatusCode != http.StatusNotModified {
			t.Errorf("%s: ETag %q does not answer 304 when matched", u.Path, etag)
		}
	}
	if !seen[".js"] || !seen[".css"] {
		t.Errorf("the page names no script or no stylesheet: %v", refs)
	}
	// init.js asks for the spec the gateway serves, relative to the page.
	if init := body(get("/docs/init.js")); !strings.Contains(init, `"openapi.json"`) {
		t.Errorf("docs/init.js does not load openapi.json:\n%s", init)
	}
	spec := get("/openapi.json")
	if spec.StatusCode != 200 {
		t.Errorf("/openapi.json: %d", spec.StatusCode)
	}

	// Nothing else is served under /docs/, not even a listing.
	for _, path := range []string{"/docs/swagger-ui", "/docs/swagger-ui/", "/docs/package.json", "/docs/nope.js"} {
		if resp := get(path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, resp.StatusCode)
		}
	}
	if resp := get("/docs/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/docs" {
		t.Errorf("/docs/: %d to %q, want a redirect to the page", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestSwaggerUIIsThePinnedPackage fails when gateway/docs/swagger-ui is not
// exactly the files scripts/swagger-ui.sh copies from the swagger-ui-dist
// that gateway/docs/package-lock.json pins (it installs it with npm).
func TestSwaggerUIIsThePinnedPackage(t *testing.T) {
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.SkipOrFail(t, "node", tool+" is not on PATH: install Node.js 20 or later with npm to check the embedded Swagger UI")
		}
	}
	var out bytes.Buffer
	cmd := exec.Command("bash", "../scripts/swagger-ui.sh", "check")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("scripts/swagger-ui.sh check: %v\n%s", err, out.String())
	}
}
