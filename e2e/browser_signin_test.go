//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestBannerLinkSignsInABrowser opens the sign-in link `kinbridge serve
// all` prints in headless Chromium, as printed (http://127.0.0.1:...) and
// with localhost for its host: the Secure session cookie is kept on
// plain http to a loopback host, the browser is signed in as the
// administrator, and the link works once.
func TestBannerLinkSignsInABrowser(t *testing.T) {
	chromium := needChromium(t)
	dir := nodeClients(t)
	for _, host := range []string{"127.0.0.1", "localhost"} {
		t.Run(host, func(t *testing.T) {
			p := serve(t, t.TempDir(), nil)
			if p.signInLink == "" || !strings.HasPrefix(p.signInLink, "http://"+p.gateway+"/auth/link?code=") {
				t.Fatalf("the banner's sign-in link: %q", p.signInLink)
			}
			link := strings.Replace(p.signInLink, "127.0.0.1", host, 1)
			res := openLink(t, chromium, dir, link)
			if res.Session.Status != 200 || !res.Session.SignedIn || res.Session.User != "admin" || !res.Session.Administrator {
				t.Fatalf("after the link, /auth/session says %+v (landed on %s)", res.Session, res.Landed)
			}
			var found bool
			for _, c := range res.Cookies {
				if c.Name == "__Host-kinbridge_session" {
					found = c.HTTPOnly && c.Secure && c.SameSite == "Lax" && c.Path == "/"
				}
			}
			if !found {
				t.Fatalf("cookies %+v: want __Host-kinbridge_session HttpOnly, Secure, SameSite=Lax, Path=/", res.Cookies)
			}
			if again := openLink(t, chromium, dir, link); again.Session.SignedIn || !strings.HasSuffix(again.Landed, "/signin") {
				t.Fatalf("the link used twice: landed on %s, session %+v", again.Landed, again.Session)
			}
		})
	}
}

type signInResult struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Landed  string `json:"landed"`
	Session struct {
		Status        int    `json:"status"`
		SignedIn      bool   `json:"signedIn"`
		User          string `json:"user"`
		Administrator bool   `json:"administrator"`
	} `json:"session"`
	Cookies []struct {
		Name     string `json:"name"`
		HTTPOnly bool   `json:"httpOnly"`
		Secure   bool   `json:"secure"`
		SameSite string `json:"sameSite"`
		Path     string `json:"path"`
	} `json:"cookies"`
}

func openLink(t *testing.T, chromium, dir, link string) signInResult {
	t.Helper()
	timeout := 60 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "signin.mjs", chromium, link, strconv.FormatInt(timeout.Milliseconds(), 10))
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res signInResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || runErr != nil || res.Kind != "result" {
		t.Fatalf("signin.mjs: %v; it printed:\n%s%s", runErr, stdout.String(), stderr.String())
	}
	return res
}
