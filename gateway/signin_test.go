package gateway

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	mediav1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/media/v1"
	progressv1 "github.com/kinbridge/kinbridge/gen/go/kinbridge/progress/v1"
	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

const (
	testClientID     = "kinbridge-web"
	testClientSecret = "client-secret"
)

// signInFixture is a gateway with browser sign-in through a real OpenID
// provider (testenv) and with one-time links, in front of a progress
// service that records the token each call brought.
type signInFixture struct {
	url      string // the gateway's public URL
	g        *Gateway
	idp      *testenv.OIDCProvider
	verifier *auth.Verifier
	skew     *atomic.Int64 // added to the sign-in clock
	keys     ed25519.PrivateKey
	media    *fakeMedia

	mu       sync.Mutex
	upstream []string // Authorization of each progress call
}

// startSignIn starts a gateway on store (nil: in memory). Gateways given
// the same idp and keys share its client; with a shared store they share
// sessions.
func startSignIn(t *testing.T, idp *testenv.OIDCProvider, keys ed25519.PrivateKey, store SessionStore, opts ...func(*Config)) *signInFixture {
	t.Helper()
	f := &signInFixture{idp: idp, skew: new(atomic.Int64), keys: keys}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "http://" + lis.Addr().String()
	idp.AddClient(testClientID, testClientSecret, f.url+"/auth/callback", 0, f.url+"/signin")

	plis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	progressv1.RegisterProgressServiceServer(gs, &fakeProgress{getChild: func(ctx context.Context) (*progressv1.Child, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		f.mu.Lock()
		f.upstream = append(f.upstream, strings.Join(md.Get("authorization"), ","))
		f.mu.Unlock()
		return &progressv1.Child{Name: "children/abc", DisplayName: "Ada"}, nil
	}})
	f.media = &fakeMedia{content: []byte("a small video"), thumb: []byte("\xff\xd8\xff\xe0 a small jpeg")}
	mediav1.RegisterMediaServiceServer(gs, f.media)
	go gs.Serve(plis)
	t.Cleanup(gs.Stop)

	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	f.verifier, err = auth.NewVerifier(auth.VerifierConfig{UserKey: keys.Public().(ed25519.PublicKey), ServiceKey: servicePub,
		OIDC: &auth.OIDCConfig{Issuer: idp.Issuer, Audience: testClientID, AdminSubjects: []string{"boss"}}})
	if err != nil {
		t.Fatal(err)
	}
	issuer := auth.NewUserIssuer(keys)
	cfg := Config{
		ProgressTarget: plis.Addr().String(),
		MediaTarget:    plis.Addr().String(),
		Verifier:       f.verifier,
		Timeout:        10 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		SignIn: SignIn{
			PublicURL: f.url,
			OIDC:      &OIDCSignIn{Issuer: idp.Issuer, ClientID: testClientID, ClientSecret: testClientSecret},
			Links: &LinkSignIn{Mint: func(_ context.Context, user string, admin bool, ttl time.Duration) (string, error) {
				return issuer.Issue(user, admin, ttl)
			}},
			SessionLifetime: 24 * time.Hour,
			Sessions:        store,
			SessionKey:      keys.Seed(),
		},
	}
	for _, o := range opts {
		o(&cfg)
	}
	f.g, err = New(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.g.Close() })
	f.g.signIn.now = func() time.Time { return time.Now().Add(time.Duration(f.skew.Load())) }
	srv := httptest.NewUnstartedServer(f.g.Handler())
	srv.Listener.Close()
	srv.Listener = lis
	srv.Start()
	t.Cleanup(srv.Close)
	return f
}

func newSignInFixture(t *testing.T) *signInFixture {
	t.Helper()
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	return startSignIn(t, idp, keys, nil)
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see each one.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// signIn signs b in as maria through the provider and returns the
// callback's authAnswer.
func (f *signInFixture) signIn(t *testing.T, b *http.Client, returnTo string) *http.Response {
	t.Helper()
	resp, err := f.idp.Login(t.Context(), b, f.url+"/auth/login?returnTo="+url.QueryEscape(returnTo), "maria", "maria-password")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

type authAnswer struct {
	status int
	header http.Header
	json   map[string]any
	body   string
}

func authDo(t *testing.T, b *http.Client, method, target string, body io.Reader, headers ...string) authAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := authAnswer{status: resp.StatusCode, header: resp.Header, body: string(data)}
	_ = json.Unmarshal(data, &a.json)
	return a
}

func (f *signInFixture) session(t *testing.T, b *http.Client) map[string]any {
	t.Helper()
	a := authDo(t, b, "GET", f.url+"/auth/session", nil)
	if a.status != 200 || a.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("/auth/session: %d (Cache-Control %q) %s", a.status, a.header.Get("Cache-Control"), a.body)
	}
	return a.json
}

func (f *signInFixture) lastUpstream() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.upstream) == 0 {
		return ""
	}
	return f.upstream[len(f.upstream)-1]
}

func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			return c
		}
	}
	t.Fatalf("no session cookie in %s (Location %q)", resp.Status, resp.Header.Get("Location"))
	return nil
}

func TestSignInThroughTheProvider(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	if s := f.session(t, b); s["signedIn"] != false || s["oidc"] != true {
		t.Fatalf("before sign-in: %v", s)
	}
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 401 {
		t.Fatalf("before sign-in /v1: %d", a.status)
	}

	// /auth/login sends the browser to the provider with PKCE, state and nonce.
	start := authDo(t, b, "GET", f.url+"/auth/login?returnTo=/children/abc", nil)
	loc, _ := url.Parse(start.header.Get("Location"))
	q := loc.Query()
	if start.status != 302 || !strings.HasPrefix(loc.String(), f.idp.Issuer+"/") || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("state") == "" || q.Get("nonce") == "" || q.Get("client_id") != testClientID ||
		q.Get("redirect_uri") != f.url+"/auth/callback" {
		t.Fatalf("/auth/login: %d to %s", start.status, loc)
	}

	resp := f.signIn(t, b, "/children/abc?tab=gallery")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/children/abc?tab=gallery" {
		t.Fatalf("callback: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	c := sessionCookieOf(t, resp)
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || len(c.Value) < 40 {
		t.Fatalf("session cookie %+v: want HttpOnly, Secure, SameSite=Lax, Path=/ and a long random id", c)
	}
	if strings.Count(c.Value, ".") == 2 {
		t.Fatal("the session cookie looks like a JWT: the browser must never hold a token")
	}

	s := f.session(t, b)
	if s["signedIn"] != true || s["user"] != "maria-sub" || s["administrator"] != false || s["csrfToken"] == "" {
		t.Fatalf("/auth/session: %v", s)
	}
	if exp, err := time.Parse(time.RFC3339, s["expireTime"].(string)); err != nil || exp.Before(time.Now().Add(23*time.Hour)) {
		t.Fatalf("expireTime %v: %v", s["expireTime"], err)
	}

	// The cookie authenticates /v1; the service gets maria's ID token.
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 || a.json["displayName"] != "Ada" {
		t.Fatalf("/v1 with the cookie: %d %s", a.status, a.body)
	}
	token, ok := strings.CutPrefix(f.lastUpstream(), "Bearer ")
	p, err := f.verifier.VerifyUser(t.Context(), token)
	if !ok || err != nil || p.Subject != "maria-sub" || p.Issuer != f.idp.Issuer {
		t.Fatalf("upstream token %q: %+v %v", f.lastUpstream(), p, err)
	}
}

func TestSignInLoginWithoutOIDC(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, _ := auth.NewVerifier(auth.VerifierConfig{UserKey: key.Public().(ed25519.PublicKey), ServiceKey: servicePub})
	g, err := New(t.Context(), Config{ProgressTarget: "127.0.0.1:1", Verifier: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	b := browser(t)
	for _, path := range []string{"/auth/login", "/auth/callback?code=x&state=y", "/auth/link?code=x"} {
		if a := authDo(t, b, "GET", srv.URL+path, nil); a.status != 404 || a.header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s without sign-in configured: %d %s", path, a.status, a.body)
		}
	}
	if a := authDo(t, b, "GET", srv.URL+"/auth/session", nil); a.status != 200 || a.json["signedIn"] != false || a.json["oidc"] != false {
		t.Errorf("/auth/session: %d %s", a.status, a.body)
	}
	if _, err := g.SignInLink(t.Context(), "admin", true, time.Hour); err == nil {
		t.Error("SignInLink without links enabled succeeded")
	}
}

// bodyProbe is a request body that records whether anyone read it.
type bodyProbe struct {
	read atomic.Bool
	body *strings.Reader
}

func (p *bodyProbe) Read(b []byte) (int, error) {
	p.read.Store(true)
	return p.body.Read(b)
}

// A cookie write without the session's CSRF token, with a wrong one or
// from another origin is refused 403 before its body is read: the client
// waits for 100 Continue, which a server that reads the body sends.
func TestSignInCSRF(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	csrf := f.session(t, b)["csrfToken"].(string)
	expecting := &http.Client{Jar: b.Jar, Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}

	tests := []struct {
		name    string
		headers []string
		refused bool
	}{
		{"no CSRF token", nil, true},
		{"wrong CSRF token", []string{csrfHeader, csrf + "x"}, true},
		{"another session's length, other bytes", []string{csrfHeader, strings.Repeat("A", len(csrf))}, true},
		{"cross-site Origin", []string{csrfHeader, csrf, "Origin", "https://evil.example"}, true},
		{"our Origin on another port", []string{csrfHeader, csrf, "Origin", "http://127.0.0.1:1"}, true},
		{"right token", []string{csrfHeader, csrf}, false},
		{"right token, our Origin", []string{csrfHeader, csrf, "Origin", f.url}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			probe := &bodyProbe{body: strings.NewReader(`{"displayName":"X"}`)}
			req, _ := http.NewRequestWithContext(t.Context(), "PATCH", f.url+"/v1/children/abc", probe)
			req.ContentLength = 19
			req.Header.Set("Expect", "100-continue")
			req.Header.Set("Content-Type", "application/json")
			for i := 0; i+1 < len(tt.headers); i += 2 {
				req.Header.Set(tt.headers[i], tt.headers[i+1])
			}
			resp, err := expecting.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.refused {
				if resp.StatusCode != 403 || !strings.Contains(string(body), `"code":7`) || probe.read.Load() {
					t.Fatalf("%d %s (body read: %v), want 403 PERMISSION_DENIED without reading the body", resp.StatusCode, body, probe.read.Load())
				}
				return
			}
			// Past the checks: the fake progress service has no UpdateChild.
			if resp.StatusCode == 403 || resp.StatusCode == 401 || !probe.read.Load() {
				t.Fatalf("%d %s (body read: %v), want the call to go through", resp.StatusCode, body, probe.read.Load())
			}
		})
	}
	// A bearer token needs no CSRF token, cookie or not.
	tok, err := auth.NewUserIssuer(f.keys).Issue("maria", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if a := authDo(t, b, "PATCH", f.url+"/v1/children/abc", strings.NewReader(`{}`), "Authorization", "Bearer "+tok); a.status == 403 || a.status == 401 {
		t.Fatalf("bearer write: %d %s", a.status, a.body)
	}
}

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{
		"/children/abc":             "/children/abc",
		"/children/abc?tab=g#top":   "/children/abc?tab=g#top",
		"":                          "/",
		"//evil.example/x":          "/",
		"/\\evil.example":           "/",
		"https://evil.example/":     "/",
		"evil.example":              "/",
		"javascript:alert(1)":       "/",
		"/%0d%0aLocation:%20x":      "/%0d%0aLocation:%20x",
		"/\nLocation: https://evil": "/",
		"/\t/evil.example":          "/",
		"///evil.example":           "/",
	} {
		if got := safeReturnTo(in); got != want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSignInReturnToStaysOnSite(t *testing.T) {
	f := newSignInFixture(t)
	for _, evil := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example"} {
		resp := f.signIn(t, browser(t), evil)
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/" {
			t.Errorf("returnTo %q: %s to %q, want 303 to /", evil, resp.Status, resp.Header.Get("Location"))
		}
	}
}

func TestSignInStateAndNonce(t *testing.T) {
	f := newSignInFixture(t)
	start := f.url + "/auth/login?returnTo=/"

	// Another browser brings back A's callback: its state is not A's.
	a := browser(t)
	callback, err := f.idp.Authorize(t.Context(), a, start, "maria", "maria-password")
	if err != nil {
		t.Fatal(err)
	}
	other := browser(t)
	if r := authDo(t, other, "GET", callback, nil); r.status != 303 || r.header.Get("Location") != "/signin?error=invalid" {
		t.Fatalf("callback in another browser: %d to %q", r.status, r.header.Get("Location"))
	}
	// A tampered state in the right browser.
	u, _ := url.Parse(callback)
	q := u.Query()
	q.Set("state", q.Get("state")+"x")
	u.RawQuery = q.Encode()
	if r := authDo(t, a, "GET", u.String(), nil); r.status != 303 || r.header.Get("Location") != "/signin?error=invalid" {
		t.Fatalf("tampered state: %d to %q", r.status, r.header.Get("Location"))
	}
	if s := f.session(t, a); s["signedIn"] != false {
		t.Fatalf("signed in after refused callbacks: %v", s)
	}

	// The provider says no.
	b := browser(t)
	authDo(t, b, "GET", start, nil) // sets the login cookie
	var state string
	for _, c := range b.Jar.Cookies(mustURL(t, f.url+"/auth/callback")) {
		if c.Name == loginCookie {
			state = c.Value
		}
	}
	denied := f.url + "/auth/callback?error=access_denied&state=" + url.QueryEscape(state)
	if r := authDo(t, b, "GET", denied, nil); r.status != 303 || r.header.Get("Location") != "/signin?error=denied" {
		t.Fatalf("denied: %d to %q", r.status, r.header.Get("Location"))
	}

	// An ID token whose nonce is not the one this sign-in sent.
	c := browser(t)
	callback, err = f.idp.Authorize(t.Context(), c, start, "maria", "maria-password")
	if err != nil {
		t.Fatal(err)
	}
	cu, _ := url.Parse(callback)
	data, err := f.g.signIn.store.Take(t.Context(), storeKey("login", cu.Query().Get("state")))
	if err != nil {
		t.Fatal(err)
	}
	var pending pendingLogin
	if err := json.Unmarshal(data, &pending); err != nil {
		t.Fatal(err)
	}
	pending.Nonce = randomID()
	if _, err := f.g.signIn.exchange(t.Context(), cu.Query().Get("code"), pending); err == nil || !strings.Contains(err.Error(), "nonce") {
		t.Fatalf("exchange with another nonce: %v, want a nonce mismatch", err)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestSignOut(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	old := sessionCookieOf(t, f.signIn(t, b, "/"))
	csrf := f.session(t, b)["csrfToken"].(string)

	if a := authDo(t, b, "POST", f.url+"/auth/logout", nil); a.status != 403 {
		t.Fatalf("logout without CSRF token: %d %s", a.status, a.body)
	}
	a := authDo(t, b, "POST", f.url+"/auth/logout", nil, csrfHeader, csrf)
	logout, _ := a.json["logoutUrl"].(string)
	if a.status != 200 || !strings.HasPrefix(logout, f.idp.Issuer+"/") || !strings.Contains(logout, "client_id="+testClientID) {
		t.Fatalf("logout: %d %s", a.status, a.body)
	}
	if s := f.session(t, b); s["signedIn"] != false {
		t.Fatalf("after logout: %v", s)
	}
	// The old cookie, replayed, is dead: the session was deleted server-side.
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", old.Name+"="+old.Value); a.status != 401 {
		t.Fatalf("old cookie replayed: %d %s", a.status, a.body)
	}
	// The provider's end-session page signs the user out there.
	if r := authDo(t, browser(t), "GET", logout, nil); r.status >= 400 {
		t.Fatalf("the provider's end_session: %d %s", r.status, r.body)
	}
}

func TestSignInExpiry(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 {
		t.Fatalf("signed in: %d", a.status)
	}
	f.skew.Store(int64(24*time.Hour + time.Minute))
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 401 {
		t.Fatalf("after the session's lifetime: %d %s", a.status, a.body)
	}
	if s := f.session(t, b); s["signedIn"] != false {
		t.Fatalf("after the session's lifetime: %v", s)
	}
}

// The ID token (an hour) is refreshed with the refresh token shortly
// before it ends; when the provider refuses, the session ends.
func TestSignInRefresh(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	authDo(t, b, "GET", f.url+"/v1/children/abc", nil)
	first := f.lastUpstream()

	f.skew.Store(int64(59 * time.Minute))
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 {
		t.Fatalf("near the token's end: %d %s", a.status, a.body)
	}
	if f.idp.Refreshes() != 1 || f.lastUpstream() == first {
		t.Fatalf("%d refreshes; token changed: %v", f.idp.Refreshes(), f.lastUpstream() != first)
	}
	if s := f.session(t, b); s["signedIn"] != true || f.idp.Refreshes() != 1 {
		t.Fatalf("after the refresh: %v, %d refreshes", s, f.idp.Refreshes())
	}

	f.idp.RefuseRefresh(true)
	f.skew.Store(int64(118 * time.Minute))
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 401 || f.idp.Refreshes() != 2 {
		t.Fatalf("refresh refused: %d %s after %d refreshes, want 401 after 2", a.status, a.body, f.idp.Refreshes())
	}
	f.idp.RefuseRefresh(false)
	if s := f.session(t, b); s["signedIn"] != false {
		t.Fatalf("after a refused refresh: %v", s)
	}
}

func TestSignInLink(t *testing.T) {
	f := newSignInFixture(t)
	link, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour)
	if err != nil || !strings.HasPrefix(link, f.url+"/auth/link?code=") {
		t.Fatalf("SignInLink = %q, %v", link, err)
	}
	b := browser(t)
	a := authDo(t, b, "GET", link, nil)
	if a.status != 303 || a.header.Get("Location") != "/" {
		t.Fatalf("link: %d to %q", a.status, a.header.Get("Location"))
	}
	if s := f.session(t, b); s["signedIn"] != true || s["user"] != "admin" || s["administrator"] != true {
		t.Fatalf("after the link: %v", s)
	}
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 {
		t.Fatalf("/v1 after the link: %d", a.status)
	}
	first := f.lastUpstream()
	if p, err := f.verifier.VerifyUser(t.Context(), strings.TrimPrefix(first, "Bearer ")); err != nil || p.Subject != "admin" || !p.Admin {
		t.Fatalf("upstream token: %+v %v", p, err)
	}

	// Used once: never again, in any browser.
	for _, again := range []*http.Client{b, browser(t)} {
		if a := authDo(t, again, "GET", link, nil); a.status != 303 || a.header.Get("Location") != "/signin?error=link" {
			t.Fatalf("link used twice: %d to %q", a.status, a.header.Get("Location"))
		}
	}
	if a := authDo(t, browser(t), "GET", f.url+"/auth/link?code=made-up", nil); a.header.Get("Location") != "/signin?error=link" {
		t.Fatalf("unknown code: %d to %q", a.status, a.header.Get("Location"))
	}

	// The built-in token is minted again before it ends.
	f.skew.Store(int64(59 * time.Minute))
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 || f.lastUpstream() == first {
		t.Fatalf("near the token's end: %d, token changed: %v", a.status, f.lastUpstream() != first)
	}

	// Signing in again gives a new session id and ends the one the
	// browser brought.
	var old *http.Cookie
	for _, c := range b.Jar.Cookies(mustURL(t, f.url)) {
		if c.Name == sessionCookie {
			old = c
		}
	}
	second, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if a := authDo(t, b, "GET", second, nil); a.status != 303 || sessionCookieOf(t, &http.Response{Header: a.header}).Value == old.Value {
		t.Fatalf("second link: %d, same session id: %v", a.status, a.header.Get("Set-Cookie"))
	}
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", old.Name+"="+old.Value); a.status != 401 {
		t.Fatalf("the replaced session: %d", a.status)
	}
}

// Two gateways on one Redis share sessions and links.
func TestSignInSharedRedisSessions(t *testing.T) {
	redisURL := testenv.Redis(t)
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	prefix := testenv.RedisPrefix(t)
	store := func() SessionStore {
		client, err := ratelimit.NewRedisClient(redisURL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close() })
		return NewRedisSessions(client, prefix)
	}
	one := startSignIn(t, idp, keys, store())
	two := startSignIn(t, idp, keys, store())

	link, err := one.g.SignInLink(t.Context(), "admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// The link, made by one, is used at two.
	b := browser(t)
	a := authDo(t, b, "GET", strings.Replace(link, one.url, two.url, 1), nil)
	cookie := sessionCookieOf(t, &http.Response{Header: a.header})
	// The session, started at two, is known at one.
	if a := authDo(t, http.DefaultClient, "GET", one.url+"/v1/children/abc", nil, "Cookie", cookie.Name+"="+cookie.Value); a.status != 200 {
		t.Fatalf("session from two at one: %d %s", a.status, a.body)
	}
	// Sign-in through the provider at one, used at two.
	c := browser(t)
	resp := one.signIn(t, c, "/")
	cookie = sessionCookieOf(t, resp)
	if a := authDo(t, http.DefaultClient, "GET", two.url+"/auth/session", nil, "Cookie", cookie.Name+"="+cookie.Value); a.json["user"] != "maria-sub" {
		t.Fatalf("OIDC session from one at two: %d %s", a.status, a.body)
	}
}

func TestSignInConfigRefused(t *testing.T) {
	oidc := &OIDCSignIn{Issuer: "https://idp.example", ClientID: "web"}
	mint := &LinkSignIn{Mint: func(context.Context, string, bool, time.Duration) (string, error) { return "", nil }}
	for name, cfg := range map[string]SignIn{
		"OIDC without a public URL":   {OIDC: oidc},
		"links without a public URL":  {Links: mint},
		"public URL not http":         {PublicURL: "ftp://kin.example", OIDC: oidc},
		"public URL with a path":      {PublicURL: "https://kin.example/app", OIDC: oidc},
		"OIDC without a client id":    {PublicURL: "https://kin.example", OIDC: &OIDCSignIn{Issuer: "https://idp.example"}},
		"links without a Mint func":   {PublicURL: "https://kin.example", Links: &LinkSignIn{}},
		"public URL with a query":     {PublicURL: "https://kin.example/?x=1", Links: mint},
		"public URL with credentials": {PublicURL: "https://u:p@kin.example", Links: mint},
	} {
		if _, err := newSignIn(t.Context(), cfg, nil, slog.Default()); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := newSignIn(t.Context(), SignIn{PublicURL: "https://kin.example/", OIDC: oidc, Links: mint}, nil, slog.Default()); err != nil {
		t.Errorf("a good configuration: %v", err)
	}
}

// The gateway starts while the provider is down (discovery waits for the
// first sign-in), answers 503 to a sign-in meanwhile, and signs in once
// the provider answers.
func TestSignInProviderDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + lis.Addr().String()
	lis.Close() // nothing answers there
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: key.Public().(ed25519.PublicKey), ServiceKey: servicePub,
		OIDC: &auth.OIDCConfig{Issuer: issuer, Audience: testClientID}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(t.Context(), Config{ProgressTarget: "127.0.0.1:1", Verifier: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SignIn: SignIn{PublicURL: "http://127.0.0.1:1", OIDC: &OIDCSignIn{Issuer: issuer, ClientID: testClientID}}})
	if err != nil {
		t.Fatalf("the gateway does not start while the provider is down: %v", err)
	}
	defer g.Close()
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	if a := authDo(t, browser(t), "GET", srv.URL+"/auth/login", nil); a.status != 503 || strings.Contains(a.body, issuer) {
		t.Fatalf("/auth/login with the provider down: %d %s, want 503 naming no address", a.status, a.body)
	}
	if a := authDo(t, browser(t), "GET", srv.URL+"/auth/session", nil); a.status != 200 || a.json["oidc"] != true {
		t.Fatalf("/auth/session with the provider down: %d %s", a.status, a.body)
	}
}

// A redirect URL of the operator's choosing (--oidc-redirect-url) is the
// one sent to the provider, and the gateway answers the callback there,
// and only there.
func TestSignInCustomRedirectURL(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	var redirect string
	f := startSignIn(t, idp, keys, nil, func(cfg *Config) {
		redirect = cfg.SignIn.PublicURL + "/oauth2/kinbridge"
		cfg.SignIn.OIDC.RedirectURL = redirect
		idp.AddClient(testClientID, testClientSecret, redirect, 0)
	})
	b := browser(t)
	start := authDo(t, b, "GET", f.url+"/auth/login?returnTo=/children/abc", nil)
	loc, _ := url.Parse(start.header.Get("Location"))
	if start.status != 302 || loc.Query().Get("redirect_uri") != redirect {
		t.Fatalf("/auth/login: %d to %s, want redirect_uri %s", start.status, loc, redirect)
	}
	resp := f.signIn(t, b, "/children/abc")
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/children/abc" || sessionCookieOf(t, resp).Value == "" {
		t.Fatalf("callback at %s: %s to %q", redirect, resp.Status, resp.Header.Get("Location"))
	}
	if s := f.session(t, b); s["signedIn"] != true || s["user"] != "maria-sub" {
		t.Fatalf("/auth/session after the custom callback: %v", s)
	}
	if a := authDo(t, b, "GET", f.url+"/auth/callback?code=x&state=y", nil); a.status != 404 {
		t.Fatalf("/auth/callback still answered: %d %s", a.status, a.body)
	}
}

func TestSignInRedirectURLRefused(t *testing.T) {
	for _, redirect := range []string{
		"https://evil.example/auth/callback", // another origin
		"http://kin.example/auth/callback",   // another scheme
		"https://kin.example:8443/cb",        // another port
		"https://kin.example/",               // the app's root
		"https://kin.example/v1/children",    // an API route
		"https://kin.example/auth/session",   // another sign-in route
		"https://kin.example/docs",           // the docs
		"https://kin.example/assets/x.js",    // the app's files
		"https://kin.example/cb?x=1",         // a query
		"https://kin.example/a/../cb",        // not clean
		"https://kin.example/{cb}",           // a pattern wildcard
		"/auth/callback",                     // not absolute
		"https://user:pw@kin.example/cb",     // credentials
	} {
		cfg := SignIn{PublicURL: "https://kin.example", OIDC: &OIDCSignIn{Issuer: "https://idp.example", ClientID: "web", RedirectURL: redirect}}
		if _, err := newSignIn(t.Context(), cfg, nil, slog.Default()); err == nil {
			t.Errorf("redirect URL %q accepted", redirect)
		}
	}
	for _, redirect := range []string{"https://kin.example/auth/callback", "https://KIN.example:443/oauth2/callback"} {
		cfg := SignIn{PublicURL: "https://kin.example", OIDC: &OIDCSignIn{Issuer: "https://idp.example", ClientID: "web", RedirectURL: redirect}}
		if _, err := newSignIn(t.Context(), cfg, nil, slog.Default()); err != nil {
			t.Errorf("redirect URL %q refused: %v", redirect, err)
		}
	}
}
