package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestBannerLinkSignsIn: `serve all` without an OpenID provider prints a
// one-time link that signs a browser in as the administrator, whose
// cookie then works for the API; the link works once.
func TestBannerLinkSignsIn(t *testing.T) {
	s := startSuite(t)
	if !strings.HasPrefix(s.signInLink, s.gateway+"/auth/link?code=") {
		t.Fatalf("banner sign-in link %q", s.signInLink)
	}
	first := s.browserGet(t, s.signInLink)
	if first.StatusCode != 303 || first.Header.Get("Location") != "/" {
		t.Fatalf("sign-in link: %s to %q", first.Status, first.Header.Get("Location"))
	}
	admin := cookieHeader(t, first)
	if again := s.browserGet(t, s.signInLink); again.Header.Get("Location") != "/signin?error=link" {
		t.Fatalf("sign-in link used twice: %s to %q", again.Status, again.Header.Get("Location"))
	}
	who := s.call(t, "GET", "/auth/session", "", "", "Cookie", admin).json(t)
	if who["signedIn"] != true || who["user"] != "admin" || who["administrator"] != true || who["oidc"] != false {
		t.Fatalf("the link's session: %v", who)
	}
	if r := s.call(t, "POST", "/v1/children", "", `{"displayName":"Ada"}`, "Cookie", admin, "X-CSRF-Token", who["csrfToken"].(string)); r.status != 200 {
		t.Fatalf("create a child by the link's cookie: %d %s", r.status, r.body)
	}
}

// TestBrowserSignIn runs the whole suite with a real OpenID provider: an
// administrator and a guardian sign in through the provider's login form
// (code + PKCE), and their cookies alone carry them through the REST API,
// the SSE and WebSocket feeds, uploads and media downloads; writes need
// the CSRF token. With a provider, the banner prints no link.
func TestBrowserSignIn(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("boss@idp", "boss", "boss-password")
	idp.AddUser("maria@idp", "maria", "maria-password")
	s := startSuite(t, "--oidc-issuer", idp.Issuer, "--oidc-client-id", "kinbridge-web", "--oidc-client-secret", "web-secret",
		"--oidc-admin-subjects", "boss@idp")
	idp.AddClient("kinbridge-web", "web-secret", s.gateway+"/auth/callback", 0)
	if s.signInLink != "" {
		t.Fatalf("with an OpenID provider the banner printed a sign-in link")
	}
	admin := s.oidcSignIn(t, idp, "boss", "/")
	who := s.call(t, "GET", "/auth/session", "", "", "Cookie", admin).json(t)
	if who["signedIn"] != true || who["user"] != "boss@idp" || who["administrator"] != true || who["oidc"] != true {
		t.Fatalf("the administrator's session: %v", who)
	}
	adminCSRF := who["csrfToken"].(string)

	const newChild = `{"displayName":"Ada"}`
	if r := s.call(t, "POST", "/v1/children", "", newChild, "Cookie", admin); r.status != 403 {
		t.Fatalf("a cookie write without CSRF token: %d %s", r.status, r.body)
	}
	r := s.call(t, "POST", "/v1/children", "", newChild, "Cookie", admin, "X-CSRF-Token", adminCSRF)
	if r.status != 200 {
		t.Fatalf("create a child by cookie: %d %s", r.status, r.body)
	}
	child := r.json(t)["name"].(string)
	if r := s.call(t, "POST", "/v1/"+child+"/guardians", "", `{"user":"maria@idp","role":"ROLE_GUARDIAN"}`,
		"Cookie", admin, "X-CSRF-Token", adminCSRF); r.status != 200 {
		t.Fatalf("add maria: %d %s", r.status, r.body)
	}

	// Maria signs in through the provider.
	maria := s.oidcSignIn(t, idp, "maria", "/"+child)
	if r := s.call(t, "GET", "/v1/"+child, "", "", "Cookie", maria); r.status != 200 || !strings.Contains(string(r.body), "Ada") {
		t.Fatalf("maria reads her child by cookie: %d %s", r.status, r.body)
	}
	s.settledCookie(t, maria, "may now follow")

	// The live feed, by cookie.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	events := s.cookieSSE(t, ctx, maria)
	ws, _, err := websocket.Dial(ctx, strings.Replace(s.gateway, "http://", "ws://", 1)+"/v1/notifications/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {maria}}})
	if err != nil {
		t.Fatalf("WebSocket by cookie: %v", err)
	}
	defer ws.CloseNow()
	if r := s.call(t, "POST", "/v1/"+child+"/assessments", "", `{"subject":"Math","title":"Fractions","kind":"ASSESSMENT_KIND_TEST",`+
		`"assessedDate":"2026-03-01","score":{"points":{"earned":9,"possible":10}}}`, "Cookie", admin, "X-CSRF-Token", adminCSRF); r.status != 200 {
		t.Fatalf("record by cookie: %d %s", r.status, r.body)
	}
	for line := next(t, events, "SSE by cookie"); !strings.Contains(line, "Fractions"); line = next(t, events, "SSE by cookie") {
	}
	for {
		rctx, rcancel := context.WithTimeout(ctx, 10*time.Second)
		_, frame, err := ws.Read(rctx)
		rcancel()
		if err != nil {
			t.Fatalf("WebSocket by cookie: %v", err)
		}
		if strings.Contains(string(frame), "Fractions") {
			break
		}
	}

	// A photo uploaded by cookie, downloaded by cookie (as <img src> does).
	photo, err := os.ReadFile("../../services/media/ingest/testdata/gps.jpg")
	if err != nil {
		t.Fatal(err)
	}
	r = s.call(t, "POST", "/v1/"+child+"/media:upload?title=Portrait&kind=photo", "", string(photo), "Cookie", admin, "X-CSRF-Token", adminCSRF)
	if r.status != 200 {
		t.Fatalf("upload by cookie: %d %s", r.status, r.body)
	}
	item := r.json(t)["name"].(string)
	if r := s.call(t, "GET", "/v1/"+item+":content", "", "", "Cookie", maria); r.status != 200 || r.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf(":content by cookie: %d %s (%d bytes)", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	// tus by cookie: a write, so it needs the CSRF token too.
	if r := s.call(t, "POST", "/v1/uploads/", "", "", "Cookie", maria, "Tus-Resumable", "1.0.0", "Upload-Length", "10"); r.status != 403 {
		t.Fatalf("tus creation by cookie without CSRF token: %d %s", r.status, r.body)
	}

	// Signing out ends the session everywhere.
	mariaCSRF := s.call(t, "GET", "/auth/session", "", "", "Cookie", maria).json(t)["csrfToken"].(string)
	if r := s.call(t, "POST", "/auth/logout", "", "", "Cookie", maria, "X-CSRF-Token", mariaCSRF); r.status != 200 {
		t.Fatalf("logout: %d %s", r.status, r.body)
	}
	if r := s.call(t, "GET", "/v1/"+child, "", "", "Cookie", maria); r.status != 401 {
		t.Fatalf("after logout: %d %s", r.status, r.body)
	}
}

// oidcSignIn signs username in through the provider's login form (their
// password is username + "-password") and returns the Cookie header of the
// session.
func (s *suite) oidcSignIn(t *testing.T, idp *testenv.OIDCProvider, username, returnTo string) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	resp, err := idp.Login(t.Context(), &http.Client{Jar: jar}, s.gateway+"/auth/login?returnTo="+returnTo, username, username+"-password")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 303 || resp.Header.Get("Location") != returnTo {
		t.Fatalf("callback: %s to %q, want 303 to %q", resp.Status, resp.Header.Get("Location"), returnTo)
	}
	return cookieHeader(t, resp)
}

// browserGet requests target as a browser would, without following a redirect.
func (s *suite) browserGet(t *testing.T, target string) *http.Response {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(target)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// cookieHeader is the Cookie header that replays resp's session cookie.
func cookieHeader(t *testing.T, resp *http.Response) string {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-kinbridge_session" && c.Value != "" {
			if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode {
				t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax", c)
			}
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie: %s", resp.Status)
	return ""
}

func (s *suite) settledCookie(t *testing.T, cookie, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(string(s.call(t, "GET", "/v1/users/me/notifications", "", "", "Cookie", cookie).body), text) {
		if time.Now().After(deadline) {
			t.Fatalf("the inbox never showed %q", text)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cookieSSE opens the SSE feed with a session cookie, as EventSource does,
// and returns its data lines once the feed is open.
func (s *suite) cookieSSE(t *testing.T, ctx context.Context, cookie string) <-chan string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.gateway+"/v1/notifications/events", nil)
	req.Header.Set("Cookie", cookie)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		t.Fatalf("SSE by cookie: %d", resp.StatusCode)
	}
	sc := bufio.NewScanner(resp.Body)
	if !sc.Scan() { // the first line ("retry: ...") says the feed is open
		t.Fatal("SSE by cookie: the feed ended at once")
	}
	out := make(chan string, 100)
	go func() {
		defer resp.Body.Close()
		defer close(out)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var v any
				if json.Unmarshal([]byte(data), &v) == nil {
					out <- data
				}
			}
		}
	}()
	return out
}
