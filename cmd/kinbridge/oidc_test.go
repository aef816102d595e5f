package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestOIDCProvider runs the suite against an external identity provider
// (an httptest discovery document and JWKS with an RSA key), found from
// --oidc-issuer alone: its tokens identify users, its configured admin
// subjects administer, and iss, aud, exp and kid are all checked.
func TestOIDCProvider(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const kid, audience = "idp-key-1", "kinbridge-web"
	var issuer string
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/.well-known/openid-configuration" {
			json.NewEncoder(w).Encode(map[string]string{"issuer": issuer, "jwks_uri": issuer + "/keys"})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
			"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
			"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
		}}})
	}))
	defer idp.Close()
	issuer = idp.URL

	s := startSuite(t, "--oidc-issuer", issuer, "--oidc-client-id", audience, "--oidc-admin-subjects", "boss@idp")
	mint := func(sub, iss, aud, keyID string, exp time.Time) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
			"iss": iss, "aud": aud, "sub": sub, "iat": time.Now().Unix(), "exp": exp.Unix(),
		})
		tok.Header["kid"] = keyID
		out, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	hour := time.Now().Add(time.Hour)
	boss := mint("boss@idp", issuer, audience, kid, hour)

	child := s.mustCreate(t, "/v1/children", boss, `{"displayName":"Ada"}`)["name"].(string)
	s.mustCreate(t, "/v1/"+child+"/guardians", boss, `{"user":"parent@idp","role":"ROLE_GUARDIAN"}`)

	tests := []struct {
		name, token string
		status      int
		contains    string
	}{
		{"an OIDC guardian reads", mint("parent@idp", issuer, audience, kid, hour), 200, "Ada"},
		{"another OIDC user does not", mint("other@idp", issuer, audience, kid, hour), 404, "not found"},
		{"built-in tokens still work", s.adminToken, 200, "Ada"},
		{"wrong issuer", mint("parent@idp", "https://evil.test", audience, kid, hour), 401, "issuer"},
		{"wrong audience", mint("parent@idp", issuer, "someone-else", kid, hour), 401, "audience"},
		{"expired", mint("parent@idp", issuer, audience, kid, time.Now().Add(-time.Hour)), 401, "expired"},
		{"unknown key id", mint("parent@idp", issuer, audience, "idp-key-9", hour), 401, "unknown signing key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.call(t, "GET", "/v1/"+child, tt.token, "")
			if r.status != tt.status || !strings.Contains(string(r.body), tt.contains) {
				t.Fatalf("got %d %s, want %d containing %q", r.status, r.body, tt.status, tt.contains)
			}
		})
	}
}
