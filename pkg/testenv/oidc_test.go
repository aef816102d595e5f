package testenv

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// The provider publishes discovery for its issuer, shows a real HTML login
// form, and Authorize walks it to the registered redirect URL with a code
// and the state the relying party sent; a wrong password does not.
func TestOIDCProvider(t *testing.T) {
	p := StartOIDCProvider(t)
	p.AddUser("sub-1", "ada", "secret")
	p.AddClient("app", "app-secret", "http://127.0.0.1:1/cb", 0)

	resp, err := http.Get(p.Issuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]any
	json.NewDecoder(resp.Body).Decode(&meta)
	resp.Body.Close()
	if meta["issuer"] != p.Issuer || meta["jwks_uri"] == nil || meta["end_session_endpoint"] == nil {
		t.Fatalf("discovery: %v", meta)
	}

	// A relying party's start: straight to the authorization endpoint.
	start := meta["authorization_endpoint"].(string) + "?" + url.Values{
		"client_id": {"app"}, "redirect_uri": {"http://127.0.0.1:1/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}, "nonce": {"n-1"},
	}.Encode()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar}

	// The login form, as a browser sees it.
	form, err := client.Get(start)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(form.Body)
	form.Body.Close()
	for _, want := range []string{`<form method="POST"`, `id="username"`, `id="password"`, `type="submit"`} {
		if !strings.Contains(string(page), want) {
			t.Fatalf("the login page lacks %s:\n%s", want, page)
		}
	}

	if _, err := p.Authorize(t.Context(), client, start, "ada", "wrong"); err == nil {
		t.Fatal("a wrong password got through")
	}
	back, err := p.Authorize(t.Context(), client, start, "ada", "secret")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(back)
	if !strings.HasPrefix(back, "http://127.0.0.1:1/cb?") || u.Query().Get("code") == "" || u.Query().Get("state") != "st-1" {
		t.Fatalf("Authorize returned %s", back)
	}
}
