package gateway

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

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
