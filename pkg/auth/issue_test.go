package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestUserIssuerRefuses(t *testing.T) {
	_, key := newEd25519(t)
	iss := NewUserIssuer(key)
	tests := []struct {
		name string
		user string
		ttl  time.Duration
	}{
		{"empty user", "", time.Hour},
		{"blank user", "  ", time.Hour},
		{"padded user", " alice", time.Hour},
		{"service subject", "service:progress", time.Hour},
		{"service subject, other case", "SERVICE:progress", time.Hour},
		{"zero ttl", "alice", 0},
		{"negative ttl", "alice", -time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := iss.Issue(tt.user, false, tt.ttl); err == nil {
				t.Errorf("Issue(%q, %s) = %s, want error", tt.user, tt.ttl, tok)
			}
		})
	}
}

func TestUserIssuerClaims(t *testing.T) {
	pub, key := newEd25519(t)
	clk := newClock()
	iss := NewUserIssuer(key)
	iss.now = clk.Now
	tok, err := iss.Issue("alice", true, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	var hdr, claims map[string]any
	for i, dst := range []*map[string]any{&hdr, &claims} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	if hdr["alg"] != "EdDSA" || hdr["kid"] != KeyID(pub) {
		t.Errorf("header = %v, want alg EdDSA and kid %s", hdr, KeyID(pub))
	}
	now := float64(clk.Now().Unix())
	want := map[string]any{
		"iss": Issuer, "sub": "alice", "admin": true,
		"iat": now, "nbf": now, "exp": now + 7200,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	if aud, _ := claims["aud"].([]any); len(aud) != 1 || aud[0] != UserAudience {
		t.Errorf("claim aud = %v, want [%s]", claims["aud"], UserAudience)
	}
	if jti, _ := claims["jti"].(string); jti == "" {
		t.Error("claim jti missing")
	}
}

func TestServiceIdentityCachesAndRenews(t *testing.T) {
	pub, key := newEd25519(t)
	userPub, _ := newEd25519(t)
	clk := newClock()
	id := NewServiceIdentity(key, "progress")
	id.now = clk.Now
	v, err := NewVerifier(VerifierConfig{UserKey: userPub, ServiceKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	v.now = clk.Now

	first, err := id.Token()
	if err != nil {
		t.Fatal(err)
	}
	p, err := v.Verify(t.Context(), first)
	if err != nil || p.Service != "progress" || p.Subject != "service:progress" {
		t.Fatalf("Verify(service token) = %+v, %v", p, err)
	}

	// Many callers at once, as concurrent RPCs would: all get the cached token.
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			if tok, err := id.Token(); err != nil || tok != first {
				t.Errorf("concurrent Token() = %v, want the cached token", err)
			}
		})
	}
	wg.Wait()

	clk.Advance(ServiceTokenTTL - serviceRenewBefore - time.Second)
	if tok, _ := id.Token(); tok != first {
		t.Error("token renewed while it still had more than a minute to live")
	}

	clk.Advance(2 * time.Second) // now within the last minute of the first token
	second, err := id.Token()
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatal("token not renewed in its last minute")
	}
	if _, err := v.Verify(t.Context(), second); err != nil {
		t.Errorf("renewed token refused: %v", err)
	}
	if tok, _ := id.Token(); tok != second {
		t.Error("renewed token not cached")
	}
	// The old token still works until it expires; afterwards it does not.
	clk.Advance(serviceRenewBefore + DefaultLeeway)
	if _, err := v.Verify(t.Context(), first); err == nil {
		t.Error("expired service token accepted")
	}
}

func TestServiceIdentityRefuses(t *testing.T) {
	_, key := newEd25519(t)
	for _, name := range []string{"", "Progress", "-media", "a b", "service:x", strings.Repeat("x", 65)} {
		if tok, err := NewServiceIdentity(key, name).Token(); err == nil {
			t.Errorf("Token() for service %q = %s, want error", name, tok)
		}
	}
	if _, err := NewServiceIdentity(nil, "progress").Token(); err == nil {
		t.Error("Token() without a key succeeded")
	}
}

func TestServiceIdentityPerRPCCredentials(t *testing.T) {
	_, key := newEd25519(t)
	id := NewServiceIdentity(key, "media")
	if id.RequireTransportSecurity() {
		t.Error("RequireTransportSecurity() = true; the suite's loopback gRPC has no TLS")
	}
	md, err := id.GetRequestMetadata(t.Context(), "/kinbridge.progress.peer.v1.AccessService/CheckAccess")
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := id.Token()
	if got := md["authorization"]; got != "Bearer "+tok {
		t.Errorf("authorization = %q, want Bearer <token>", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := id.GetRequestMetadata(ctx); err == nil {
		t.Error("GetRequestMetadata ignored a cancelled context")
	}
}
