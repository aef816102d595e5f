package web_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/gateway"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/web"
)

// The gateway serves the embedded app as built: the page at / and at an
// app route, and every file the page names from /assets/, cached for good.
func TestGatewayServesTheBuiltApp(t *testing.T) {
	userPub, _, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(context.Background(), gateway.Config{
		ProgressTarget: "127.0.0.1:1", MediaTarget: "127.0.0.1:1", NotificationTarget: "127.0.0.1:1",
		Verifier: v, App: web.Dist, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()

	get := func(path, accept string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}
	resp, page := get("/", "text/html")
	if resp.StatusCode != 200 || !strings.Contains(page, `<div id="app">`) {
		t.Fatalf("/: %d %q", resp.StatusCode, page)
	}
	if _, again := get("/children/abc/gallery?item=x", "text/html,*/*;q=0.8"); again != page {
		t.Error("an app route is not answered with the app's page")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(refs) < 2 {
		t.Fatalf("the page names %d assets, want a script and a stylesheet:\n%s", len(refs), page)
	}
	for _, ref := range refs {
		resp, body := get(ref[1], "*/*")
		if resp.StatusCode != 200 || len(body) == 0 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
			t.Errorf("%s: %d, %d bytes, Cache-Control %q", ref[1], resp.StatusCode, len(body), resp.Header.Get("Cache-Control"))
		}
	}
}
