package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// Tests of browser sign-in as an attacker sees it (issue 15's hardening;
// docs/signin.md's threat model names each).

// rawEntries is every value a MemorySessions holds, as stored.
func rawEntries(m *MemorySessions) map[string][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string][]byte{}
	for k, e := range m.entries {
		out[k] = append([]byte(nil), e.value...)
	}
	return out
}

// A dump of the session store holds no token, CSRF token or user id: the
// values are sealed with the gateway's key.
func TestSessionStoreDumpIsUseless(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	store := NewMemorySessions()
	f := startSignIn(t, idp, keys, store)
	b := browser(t)
	// A sign-in under way (nonce, PKCE verifier) and a link are stored too.
	authDo(t, browser(t), "GET", f.url+"/auth/login?returnTo=/", nil)
	if _, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour); err != nil {
		t.Fatal(err)
	}
	f.signIn(t, b, "/")
	csrf := f.session(t, b)["csrfToken"].(string)
	authDo(t, b, "GET", f.url+"/v1/children/abc", nil)
	idToken := strings.TrimPrefix(f.lastUpstream(), "Bearer ")
	if idToken == "" {
		t.Fatal("no upstream token seen")
	}
	entries := rawEntries(store)
	if len(entries) < 3 {
		t.Fatalf("%d entries in the store, want a session, a sign-in and a link", len(entries))
	}
	for key, v := range entries {
		for name, secret := range map[string]string{"ID token": idToken, "CSRF token": csrf, "user id": "maria-sub",
			"admin user": `"admin"`, "JSON field": `"token"`, "ID token's payload": strings.Split(idToken, ".")[1]} {
			if strings.Contains(string(v), secret) {
				t.Errorf("the stored value under %s holds the %s in clear: %.80q", key, name, v)
			}
		}
		if json.Valid(v) {
			t.Errorf("the stored value under %s is plain JSON", key)
		}
	}
}

// Write access to the store forges nothing: a sign-in link grant written
// in clear, or a sealed session moved under another key, is refused.
func TestSessionStoreForgeryRefused(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	store := NewMemorySessions()
	f := startSignIn(t, idp, keys, store)

	code := randomID()
	grant, _ := json.Marshal(linkGrant{User: "admin", Admin: true})
	if err := store.Put(t.Context(), storeKey("link", code), grant, time.Hour); err != nil {
		t.Fatal(err)
	}
	if a := authDo(t, browser(t), "GET", f.url+"/auth/link?code="+code, nil); a.header.Get("Location") != "/signin?error=link" {
		t.Fatalf("a forged link grant: %d to %q", a.status, a.header.Get("Location"))
	}

	b := browser(t)
	cookie := sessionCookieOf(t, f.signIn(t, b, "/"))
	sealed, err := store.Get(t.Context(), storeKey("session", cookie.Value))
	if err != nil {
		t.Fatal(err)
	}
	mine := randomID()
	if err := store.Put(t.Context(), storeKey("session", mine), sealed, time.Hour); err != nil {
		t.Fatal(err)
	}
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", sessionCookie+"="+mine); a.status != 401 {
		t.Fatalf("maria's sealed session under another key: %d %s", a.status, a.body)
	}
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", sessionCookie+"="+cookie.Value); a.status != 200 {
		t.Fatalf("maria's own cookie: %d %s", a.status, a.body)
	}

	// A gateway on the same store with another key reads none of it.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	g := startSignIn(t, idp, other, store)
	if a := authDo(t, http.DefaultClient, "GET", g.url+"/v1/children/abc", nil, "Cookie", sessionCookie+"="+cookie.Value); a.status != 401 {
		t.Fatalf("maria's cookie at a gateway with another key: %d %s", a.status, a.body)
	}
}

// cookieOf is a Cookie header for c's session in b's jar.
func (f *signInFixture) cookieOf(t *testing.T, b *http.Client) string {
	t.Helper()
	for _, c := range b.Jar.Cookies(mustURL(t, f.url+"/")) {
		if c.Name == sessionCookie {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatal("no session cookie in the jar")
	return ""
}

// No answer a cookie authenticates may be kept by a shared cache: the API
// and /auth/* say no-store and Vary: Cookie; media downloads keep their
// ETag revalidation but private.
func TestAnswersAreNotSharedByCaches(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	link, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	hasVaryCookie := func(h http.Header) bool {
		for _, v := range h.Values("Vary") {
			for part := range strings.SplitSeq(v, ",") {
				if strings.EqualFold(strings.TrimSpace(part), "Cookie") {
					return true
				}
			}
		}
		return false
	}
	for _, tt := range []struct {
		name, target string
		client       *http.Client
		status       int
	}{
		{"a /v1 answer by cookie", "/v1/children/abc", b, 200},
		{"a /v1 refusal", "/v1/children/abc", browser(t), 401},
		{"an unknown /v1 path", "/v1/nothing-here", b, 404},
		{"/auth/session signed in", "/auth/session", b, 200},
		{"/auth/session signed out", "/auth/session", browser(t), 200},
		{"/auth/login", "/auth/login?returnTo=/", browser(t), 302},
		{"/auth/callback refused", "/auth/callback?state=x&code=y", browser(t), 303},
		{"/auth/link", strings.TrimPrefix(link, f.url), browser(t), 303},
		{"an unknown /auth path", "/auth/nothing", b, 404},
	} {
		a := authDo(t, tt.client, "GET", f.url+tt.target, nil)
		if a.status != tt.status || a.header.Get("Cache-Control") != "no-store" || !hasVaryCookie(a.header) ||
			a.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: %d, Cache-Control %q, Vary %q, X-Content-Type-Options %q; want %d, no-store, Cookie, nosniff",
				tt.name, a.status, a.header.Get("Cache-Control"), a.header.Values("Vary"), a.header.Get("X-Content-Type-Options"), tt.status)
		}
	}
	// Media by cookie: revalidated with its ETag, private, per cookie.
	a := authDo(t, b, "GET", f.url+"/v1/"+fakeItem+":content", nil)
	if a.status != 200 || a.body != "a small video" || a.header.Get("ETag") == "" ||
		!strings.HasPrefix(a.header.Get("Cache-Control"), "private") || !hasVaryCookie(a.header) {
		t.Errorf("media by cookie: %d %q, ETag %q, Cache-Control %q, Vary %q", a.status, a.body,
			a.header.Get("ETag"), a.header.Get("Cache-Control"), a.header.Values("Vary"))
	}
	if calls := f.media.calls(); len(calls) == 0 || !strings.HasPrefix(calls[len(calls)-1], "Bearer ") {
		t.Errorf("media got %q, want maria's token", calls)
	}
}

// A page of another origin gets nothing by a family's cookie, even one on
// the CORS list: the cookie is refused when the browser names a foreign
// Origin (WebSocket, SSE, fetch), and CORS never allows credentials.
func TestForeignOriginGetsNothingByCookie(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("maria-sub", "maria", "maria-password")
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	f := startSignIn(t, idp, keys, nil, func(c *Config) {
		c.CORSOrigins = []string{"https://friend.example", "https://evil.example"}
		c.NotificationTarget = "127.0.0.1:1" // the feeds are never reached
	})
	b := browser(t)
	f.signIn(t, b, "/")
	cookie := f.cookieOf(t, b)
	for _, origin := range []string{"https://evil.example", "https://friend.example", "http://sub." + mustURL(t, f.url).Host, "null"} {
		for _, path := range []string{"/v1/children/abc", "/v1/notifications/events", "/v1/" + fakeItem + ":content"} {
			a := authDo(t, http.DefaultClient, "GET", f.url+path, nil, "Cookie", cookie, "Origin", origin)
			if a.status != 403 || a.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Errorf("GET %s by cookie from %s: %d (Allow-Credentials %q) %s, want 403 and no credentials allowed",
					path, origin, a.status, a.header.Get("Access-Control-Allow-Credentials"), a.body)
			}
		}
		// The preflight of a credentialed request from a listed origin
		// never allows credentials either.
		a := authDo(t, http.DefaultClient, "OPTIONS", f.url+"/v1/children/abc", nil, "Origin", origin,
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "x-csrf-token")
		if a.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight from %s allows credentials", origin)
		}
		// Cross-site WebSocket hijacking: the handshake is refused.
		u := "ws" + strings.TrimPrefix(f.url, "http") + "/v1/notifications/ws"
		_, resp, err := websocket.Dial(t.Context(), u, &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {origin}}})
		if err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("WebSocket by cookie from %s: %v (%v), want 403", origin, resp, err)
		}
	}
	// Our own origin, and no Origin (a same-origin GET), pass.
	for _, h := range [][]string{{"Origin", f.url}, nil} {
		if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, append([]string{"Cookie", cookie}, h...)...); a.status != 200 {
			t.Errorf("GET by cookie with %v: %d %s", h, a.status, a.body)
		}
	}
	_, resp, _ := websocket.Dial(t.Context(), "ws"+strings.TrimPrefix(f.url, "http")+"/v1/notifications/ws",
		&websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}, "Origin": {f.url}}})
	if resp != nil && (resp.StatusCode == 403 || resp.StatusCode == 401) {
		t.Errorf("WebSocket by cookie from our origin: %d, want it past authentication", resp.StatusCode)
	}
	// A bearer token from a listed origin works as before (no cookie).
	tok, _ := auth.NewUserIssuer(keys).Issue("maria", false, time.Hour)
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Authorization", "Bearer "+tok, "Origin", "https://friend.example"); a.status != 200 || a.header.Get("Access-Control-Allow-Origin") != "https://friend.example" {
		t.Errorf("bearer from a listed origin: %d, Allow-Origin %q", a.status, a.header.Get("Access-Control-Allow-Origin"))
	}
}

// A tus creation or PATCH by cookie without the CSRF token is refused
// before its body is read.
func TestTusByCookieNeedsCSRF(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	csrf := f.session(t, b)["csrfToken"].(string)
	expecting := &http.Client{Jar: b.Jar, Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	for _, tt := range []struct{ method, path string }{{"POST", "/v1/uploads/"}, {"PATCH", "/v1/uploads/abc"}} {
		for name, headers := range map[string][]string{
			"no token":        nil,
			"a wrong token":   {csrfHeader, csrf + "x"},
			"foreign Origin":  {csrfHeader, csrf, "Origin", "https://evil.example"},
			"token in a form": {"Content-Type", "application/x-www-form-urlencoded"},
		} {
			probe := &bodyProbe{body: strings.NewReader("0123456789")}
			req, _ := http.NewRequestWithContext(t.Context(), tt.method, f.url+tt.path+"?"+url.Values{csrfHeader: {csrf}}.Encode(), probe)
			req.ContentLength = 10
			req.Header.Set("Expect", "100-continue")
			req.Header.Set("Tus-Resumable", "1.0.0")
			req.Header.Set("Upload-Length", "10")
			req.Header.Set("Upload-Offset", "0")
			req.Header.Set("Content-Type", "application/offset+octet-stream")
			for i := 0; i+1 < len(headers); i += 2 {
				req.Header.Set(headers[i], headers[i+1])
			}
			resp, err := expecting.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 403 || probe.read.Load() {
				t.Errorf("%s %s by cookie, %s: %d %s (body read: %v), want 403 before the body", tt.method, tt.path, name, resp.StatusCode, body, probe.read.Load())
			}
		}
	}
}

// ?access_token= and a cookie never mix: a request bringing a token is
// that token's, or refused; the cookie's session never fills in.
func TestAccessTokenAndCookieDoNotMix(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	csrf := f.session(t, b)["csrfToken"].(string)
	bob, _ := auth.NewUserIssuer(f.keys).Issue("bob", false, time.Hour)

	if a := authDo(t, b, "GET", f.url+"/v1/children/abc?access_token=not-a-token", nil); a.status != 401 {
		t.Errorf("a bad ?access_token= with maria's cookie: %d, want 401 (not maria)", a.status)
	}
	authDo(t, b, "GET", f.url+"/v1/children/abc", nil)
	maria := f.lastUpstream()
	// Only the routes a media element or EventSource reaches forward the
	// parameter (the JSON routes verify it and send no token on, which a
	// real service refuses): never is maria's token sent instead.
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc?access_token="+bob, nil); a.status == 401 || f.lastUpstream() == maria {
		t.Errorf("bob's ?access_token= with maria's cookie: %d, upstream %.30q, want not maria's", a.status, f.lastUpstream())
	}
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil, "Authorization", "Bearer "+bob); a.status != 200 || f.lastUpstream() != "Bearer "+bob {
		t.Errorf("bob's header with maria's cookie: %d, upstream %q", a.status, f.lastUpstream())
	}
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil, "Authorization", "Basic eDp5"); a.status != 401 {
		t.Errorf("a bad Authorization header with maria's cookie: %d, want 401", a.status)
	}
	// A write never takes ?access_token=; the cookie does not stand in.
	if a := authDo(t, b, "PATCH", f.url+"/v1/children/abc?access_token="+bob, strings.NewReader(`{}`), csrfHeader, csrf); a.status != 401 {
		t.Errorf("a write with ?access_token= and maria's cookie: %d, want 401", a.status)
	}
	// Media takes the parameter itself: bob's, not maria's, goes upstream.
	before := len(f.media.calls())
	authDo(t, b, "GET", f.url+"/v1/"+fakeItem+":content?access_token="+bob, nil)
	for _, c := range f.media.calls()[before:] {
		if c != "Bearer "+bob {
			t.Errorf("media got %.30q, want bob's token only", c)
		}
	}
	if len(f.media.calls()) == before {
		t.Error("media was not called")
	}
}

// Session fixation: a session id the browser brought (set by an attacker
// on a sibling subdomain, say) is never adopted at sign-in, and a made-up
// one authenticates nothing.
func TestSessionFixation(t *testing.T) {
	f := newSignInFixture(t)
	planted := randomID()
	for name, signIn := range map[string]func(b *http.Client){
		"provider": func(b *http.Client) { f.signIn(t, b, "/") },
		"link": func(b *http.Client) {
			link, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			authDo(t, b, "GET", link, nil)
		},
	} {
		b := browser(t)
		b.Jar.SetCookies(mustURL(t, f.url+"/"), []*http.Cookie{{Name: sessionCookie, Value: planted, Path: "/"}})
		if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 401 {
			t.Fatalf("%s: a planted cookie before sign-in: %d", name, a.status)
		}
		signIn(b)
		if got := f.cookieOf(t, b); got == sessionCookie+"="+planted {
			t.Fatalf("%s: the planted session id was adopted", name)
		}
		if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", sessionCookie+"="+planted); a.status != 401 {
			t.Fatalf("%s: the planted id after sign-in: %d", name, a.status)
		}
	}
}

// Sign-out is POST with the CSRF token from our origin: a GET, a POST
// without the token or from another origin ends nothing.
func TestSignOutCannotBeForged(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	csrf := f.session(t, b)["csrfToken"].(string)
	for name, do := range map[string]func() authAnswer{
		"GET":            func() authAnswer { return authDo(t, b, "GET", f.url+"/auth/logout", nil) },
		"POST, no token": func() authAnswer { return authDo(t, b, "POST", f.url+"/auth/logout", nil) },
		"POST, token in form": func() authAnswer {
			return authDo(t, b, "POST", f.url+"/auth/logout", strings.NewReader(csrfHeader+"="+csrf), "Content-Type", "application/x-www-form-urlencoded")
		},
		"POST, foreign Origin": func() authAnswer {
			return authDo(t, b, "POST", f.url+"/auth/logout", nil, csrfHeader, csrf, "Origin", "https://evil.example")
		},
	} {
		a := do()
		if a.status < 400 || a.header.Get("Set-Cookie") != "" {
			t.Errorf("logout by %s: %d (Set-Cookie %q), want refused", name, a.status, a.header.Get("Set-Cookie"))
		}
		if s := f.session(t, b); s["signedIn"] != true {
			t.Fatalf("after a forged logout by %s: signed out", name)
		}
	}
}

// /auth/* is rate limited by address like the API, so sign-in links and
// callbacks cannot be guessed at speed.
func TestAuthRoutesRateLimited(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	_, keys, _ := ed25519.GenerateKey(rand.Reader)
	f := startSignIn(t, idp, keys, nil, func(c *Config) {
		c.RateLimiter = ratelimit.New(ratelimit.NewLocal(0), "gateway", ratelimit.Limits{Address: slowLimit(5)}, nil)
	})
	for _, path := range []string{"/auth/link?code=", "/auth/callback?state=x&code="} {
		limited := false
		for range 10 {
			if a := authDo(t, browser(t), "GET", f.url+path+randomID(), nil); a.status == 429 {
				limited = true
				break
			}
		}
		if !limited {
			t.Errorf("%s: 10 guesses from one address, none refused 429", path)
		}
	}
}

// /auth/session tells a foreign origin nothing, not even the CSRF token.
func TestSessionAnswerNotForForeignOrigins(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	for _, origin := range []string{"https://evil.example", "null"} {
		a := authDo(t, b, "GET", f.url+"/auth/session", nil, "Origin", origin)
		if a.status != 200 || a.json["signedIn"] != false || strings.Contains(a.body, "csrf") || strings.Contains(a.body, "maria") {
			t.Errorf("/auth/session from %s: %d %s, want signedIn:false", origin, a.status, a.body)
		}
	}
	if a := authDo(t, b, "GET", f.url+"/auth/session", nil, "Origin", f.url); a.json["signedIn"] != true {
		t.Errorf("/auth/session from our origin: %s", a.body)
	}
}

// The public URL's origin is compared as browsers write the Origin header.
func TestWebOrigin(t *testing.T) {
	for in, want := range map[string]string{
		"https://Kin.Example.com:443": "https://kin.example.com",
		"http://127.0.0.1:80":         "http://127.0.0.1",
		"http://127.0.0.1:8080":       "http://127.0.0.1:8080",
		"https://kin.example:8443":    "https://kin.example:8443",
		"HTTPS://kin.example":         "https://kin.example",
	} {
		s, err := newSignIn(t.Context(), SignIn{PublicURL: in}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.origin != want {
			t.Errorf("public URL %s: origin %q, want %q", in, s.origin, want)
		}
	}
}

// Cookie tossing: a second session cookie (set by a sibling subdomain for
// the parent domain or a longer path, and sent first) never makes the
// request act as the attacker's session: with two, there is none.
func TestTossedSessionCookieIgnored(t *testing.T) {
	f := newSignInFixture(t)
	victim := f.cookieOf(t, func() *http.Client { b := browser(t); f.signIn(t, b, "/"); return b }())
	link, err := f.g.SignInLink(t.Context(), "admin", true, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	attacker := sessionCookieOf(t, &http.Response{Header: authDo(t, browser(t), "GET", link, nil).header})
	tossed := attacker.Name + "=" + attacker.Value
	for _, cookies := range []string{tossed + "; " + victim, victim + "; " + tossed} {
		if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", cookies); a.status != 401 {
			t.Errorf("GET with %q: %d, want 401 (upstream %.20q)", cookies, a.status, f.lastUpstream())
		}
		if a := authDo(t, http.DefaultClient, "GET", f.url+"/auth/session", nil, "Cookie", cookies); a.json["signedIn"] != false {
			t.Errorf("/auth/session with two session cookies: %s", a.body)
		}
	}
	// One cookie sent twice (some clients do) is still that session.
	if a := authDo(t, http.DefaultClient, "GET", f.url+"/v1/children/abc", nil, "Cookie", victim+"; "+victim); a.status != 200 {
		t.Errorf("the same cookie twice: %d", a.status)
	}
}

// Fetch metadata: a sibling subdomain's <img>/<video> (same-site, no
// Origin; SameSite=Lax sends the cookie) gets nothing by cookie; the app's
// own requests and a link followed from elsewhere do.
func TestFetchMetadataByCookie(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	f.signIn(t, b, "/")
	for _, tt := range []struct {
		site, mode string
		want       int
	}{
		{"same-site", "no-cors", 403},
		{"cross-site", "no-cors", 403},
		{"same-site", "cors", 403},
		{"same-site", "navigate", 200},
		{"cross-site", "navigate", 200},
		{"same-origin", "no-cors", 200},
		{"same-origin", "cors", 200},
		{"none", "navigate", 200},
		{"", "", 200},
	} {
		for _, path := range []string{"/v1/children/abc", "/v1/" + fakeItem + ":content"} {
			var h []string
			if tt.site != "" {
				h = []string{"Sec-Fetch-Site", tt.site, "Sec-Fetch-Mode", tt.mode}
			}
			if a := authDo(t, b, "GET", f.url+path, nil, h...); a.status != tt.want {
				t.Errorf("GET %s by cookie, Sec-Fetch-Site %q, mode %q: %d, want %d", path, tt.site, tt.mode, a.status, tt.want)
			}
		}
	}
}

// While the provider fails, one discovery attempt answers every sign-in
// for a few seconds: requests do not queue one provider timeout each.
func TestDiscoveryFailureIsRemembered(t *testing.T) {
	var calls atomic.Int64
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		http.Error(w, "down", http.StatusBadGateway)
	}))
	defer idp.Close()
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	servicePub, _, _ := ed25519.GenerateKey(rand.Reader)
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: key.Public().(ed25519.PublicKey), ServiceKey: servicePub,
		OIDC: &auth.OIDCConfig{Issuer: idp.URL, Audience: testClientID}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(t.Context(), Config{ProgressTarget: "127.0.0.1:1", Verifier: v, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		SignIn: SignIn{PublicURL: "http://127.0.0.1:1", OIDC: &OIDCSignIn{Issuer: idp.URL, ClientID: testClientID}}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var skew atomic.Int64
	g.signIn.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	srv := httptest.NewServer(g.Handler())
	defer srv.Close()
	for range 5 {
		if a := authDo(t, browser(t), "GET", srv.URL+"/auth/login", nil); a.status != 503 {
			t.Fatalf("/auth/login with the provider failing: %d %s", a.status, a.body)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("5 sign-ins asked the failing provider %d times, want once", n)
	}
	skew.Store(int64(discoveryRetry + time.Second))
	authDo(t, browser(t), "GET", srv.URL+"/auth/login", nil)
	if n := calls.Load(); n != 2 {
		t.Fatalf("after discoveryRetry the provider was asked %d times in all, want 2", n)
	}
}
