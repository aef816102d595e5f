package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

const (
	idpIssuer   = "https://idp.example"
	idpAudience = "kinbridge-web"
)

// idp is an external identity provider with RSA, EC and Ed25519 keys.
type idp struct {
	t     *testing.T
	clk   *testenv.Clock
	srv   *jwksServer
	rsa   *rsa.PrivateKey
	ec256 *ecdsa.PrivateKey
	ec384 *ecdsa.PrivateKey
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{t: t, clk: newClock(), rsa: newRSA(t)}
	var err error
	if p.ec256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	if p.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	p.srv = newJWKSServer(t,
		jwkOf(t, "rsa-1", &p.rsa.PublicKey),
		jwkOf(t, "ec-256", &p.ec256.PublicKey),
		jwkOf(t, "ec-384", &p.ec384.PublicKey),
	)
	return p
}

func newRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (p *idp) verifier(mod func(*OIDCConfig)) *Verifier {
	p.t.Helper()
	cfg := &OIDCConfig{
		Issuer:        idpIssuer,
		Audience:      idpAudience,
		AdminSubjects: []string{"root"},
		HTTPClient:    p.srv.client(),
	}
	if mod != nil {
		mod(cfg)
	}
	v, err := NewVerifier(VerifierConfig{OIDC: cfg})
	if err != nil {
		p.t.Fatal(err)
	}
	v.now = p.clk.Now
	return v
}

// token signs an ID token for sub; mod may change the claims.
func (p *idp) token(method jwt.SigningMethod, key any, kid, sub string, mod func(jwt.MapClaims)) string {
	p.t.Helper()
	c := claimsAt(idpIssuer, idpAudience, sub, p.clk.Now())
	if mod != nil {
		mod(c)
	}
	hdr := map[string]any{}
	if kid != "" {
		hdr["kid"] = kid
	}
	return signed(p.t, method, key, hdr, c)
}

func TestVerifyOIDC(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(nil)
	now := p.clk.Now()
	intruder := newRSA(t)
	tok := p.token
	user := Principal{Subject: "alice", Issuer: idpIssuer}

	tests := []struct {
		name    string
		token   string
		want    Principal
		wantErr error
	}{
		{name: "RS256", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", nil), want: user},
		{name: "RS512", token: tok(jwt.SigningMethodRS512, p.rsa, "rsa-1", "alice", nil), want: user},
		{name: "PS256", token: tok(jwt.SigningMethodPS256, p.rsa, "rsa-1", "alice", nil), want: user},
		{name: "ES256", token: tok(jwt.SigningMethodES256, p.ec256, "ec-256", "alice", nil), want: user},
		{name: "ES384", token: tok(jwt.SigningMethodES384, p.ec384, "ec-384", "alice", nil), want: user},
		{name: "audience list", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["aud"] = []string{"other-app", idpAudience}
		}), want: user},
		{name: "admin subject", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "root", nil),
			want: Principal{Subject: "root", Admin: true, Issuer: idpIssuer}},
		{name: "admin claim is ignored for OIDC", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["admin"] = true
		}), want: user},
		{name: "verified email", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["email"], c["email_verified"] = "alice@example.com", true
		}), want: Principal{Subject: "alice", Issuer: idpIssuer, Email: "alice@example.com", EmailVerified: true}},
		{name: "email verified as a string", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["email"], c["email_verified"] = "alice@example.com", "true"
		}), want: Principal{Subject: "alice", Issuer: idpIssuer, Email: "alice@example.com", EmailVerified: true}},
		{name: "unverified email", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["email"] = "alice@example.com"
		}), want: Principal{Subject: "alice", Issuer: idpIssuer, Email: "alice@example.com"}},
		{name: "email of the wrong type counts as none", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["email"], c["email_verified"] = 42, true
		}), want: user},
		{name: "email too long to be one counts as none", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["email"], c["email_verified"] = strings.Repeat("a", 250)+"@b.cd", true
		}), want: user},
		{name: "bad issuer", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["iss"] = "https://idp.example.evil"
		}), wantErr: ErrUnknownIssuer},
		{name: "bad audience", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
			c["aud"] = "other-app"
		}), wantErr: ErrWrongAudience},
		{name: "expired", token: tok(jwt.SigningMethodES256, p.ec256, "ec-256", "alice", func(c jwt.MapClaims) {
			c["exp"] = now.Add(-time.Minute).Unix()
		}), wantErr: ErrExpired},
		{name: "not valid yet", token: tok(jwt.SigningMethodES256, p.ec256, "ec-256", "alice", func(c jwt.MapClaims) {
			c["nbf"] = now.Add(time.Minute).Unix()
		}), wantErr: ErrNotValidYet},
		{name: "signed by someone else with the provider's kid",
			token: tok(jwt.SigningMethodRS256, intruder, "rsa-1", "alice", nil), wantErr: ErrBadSignature},
		{name: "ES384 named on a P-256 key",
			token: tok(jwt.SigningMethodES384, p.ec384, "ec-256", "alice", nil), wantErr: ErrAlgorithm},
		{name: "RS256 named on an EC key",
			token: tok(jwt.SigningMethodRS256, p.rsa, "ec-256", "alice", nil), wantErr: ErrAlgorithm},
		{name: "HS256 keyed with the provider's public key",
			token: tok(jwt.SigningMethodHS256, p.rsa.PublicKey.N.Bytes(), "rsa-1", "alice", nil), wantErr: ErrAlgorithm},
		{name: "alg none", token: unsigned(map[string]any{"alg": "none", "kid": "rsa-1"}, claimsAt(idpIssuer, idpAudience, "alice", now)),
			wantErr: ErrAlgorithm},
		{name: "no kid", token: tok(jwt.SigningMethodRS256, p.rsa, "", "alice", nil), wantErr: ErrUnknownKey},
		{name: "service subject is not a service", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "service:progress", nil),
			wantErr: ErrBadSubject},
		{name: "no subject", token: tok(jwt.SigningMethodRS256, p.rsa, "rsa-1", "", nil), wantErr: ErrMissingClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(t.Context(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify() = %+v, want %+v", got, tt.want)
			}
		})
	}
	// Every case above used known kids: the key set was fetched once.
	if n := p.srv.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1", n)
	}
}

func TestOIDCUserClaim(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(func(c *OIDCConfig) {
		c.UserClaim = "email"
		c.AdminSubjects = []string{"root@example.com"}
	})
	tok := p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "opaque-1", func(c jwt.MapClaims) { c["email"] = "root@example.com" })
	got, err := v.Verify(t.Context(), tok)
	if want := (Principal{Subject: "root@example.com", Admin: true, Issuer: idpIssuer, Email: "root@example.com"}); err != nil || got != want {
		t.Errorf("Verify() = %+v, %v; want %+v", got, err, want)
	}
	tok = p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "opaque-2", nil)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrMissingClaim) {
		t.Errorf("token without the user claim: error = %v, want ErrMissingClaim", err)
	}
}

// The provider rotates keys: a token with an unknown kid triggers one
// refetch, further unknown kids do not hammer the provider, and the key set is
// refreshed hourly.
func TestOIDCKeyRotation(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(nil)
	next := newRSA(t)
	oldTok := p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", nil)
	newTok := p.token(jwt.SigningMethodRS256, next, "rsa-2", "alice", nil)

	steps := []struct {
		name        string
		before      func()
		token       string
		wantErr     error
		wantFetches int32
	}{
		{name: "first use fetches the keys", token: oldTok, wantFetches: 1},
		{name: "known kid uses the cache", token: oldTok, wantFetches: 1},
		{name: "unknown kid right after a fetch does not refetch", token: newTok, wantErr: ErrUnknownKey, wantFetches: 1},
		{name: "unknown kid refetches once", before: func() { p.clk.Advance(jwksMinRefetchInterval) },
			token: newTok, wantErr: ErrUnknownKey, wantFetches: 2},
		{name: "unknown kid again within 30s does not refetch", token: newTok, wantErr: ErrUnknownKey, wantFetches: 2},
		{name: "provider rotates; after 30s the new kid is fetched",
			before: func() {
				p.srv.publish(jwkOf(t, "rsa-2", &next.PublicKey))
				p.clk.Advance(jwksMinRefetchInterval)
			},
			token: newTok, wantFetches: 3},
		{name: "retired key is gone", token: oldTok, wantErr: ErrUnknownKey, wantFetches: 3},
		{name: "hourly refresh", before: func() { p.clk.Advance(jwksRefreshInterval) },
			token: p.token(jwt.SigningMethodRS256, next, "rsa-2", "bob", func(c jwt.MapClaims) {
				c["exp"] = p.clk.Now().Add(3 * time.Hour).Unix()
			}), wantFetches: 4},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		_, err := v.Verify(t.Context(), s.token)
		if !errors.Is(err, s.wantErr) || (s.wantErr == nil && err != nil) {
			t.Errorf("%s: Verify() error = %v, want %v", s.name, err, s.wantErr)
		}
		if n := p.srv.fetches.Load(); n != s.wantFetches {
			t.Errorf("%s: %d JWKS fetches, want %d", s.name, n, s.wantFetches)
		}
	}
}

// Callers that need a fetch while one is under way wait for it instead of
// starting their own (or failing because of the refetch limit).
func TestOIDCConcurrentCallersShareOneFetch(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(nil)
	const callers = 8
	var joined sync.WaitGroup
	joined.Add(callers)
	v.keys.waitHook = joined.Done
	release := make(chan struct{})
	p.srv.mu.Lock()
	p.srv.hold = release
	p.srv.mu.Unlock()

	tok := p.token(jwt.SigningMethodES256, p.ec256, "ec-256", "alice", nil)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { _, errs[i] = v.Verify(t.Context(), tok) })
	}
	joined.Wait() // the fetch is held open until every caller waits on it
	close(release)
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("caller %d: %v", i, err)
		}
	}
	if n := p.srv.fetches.Load(); n != 1 {
		t.Errorf("%d JWKS fetches for %d concurrent callers, want 1", n, callers)
	}
}

func TestOIDCProviderDown(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(nil)
	tok := p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", func(c jwt.MapClaims) {
		c["exp"] = p.clk.Now().Add(3 * time.Hour).Unix()
	})

	p.srv.setFailing(true)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrKeySetUnavailable) {
		t.Fatalf("provider down, no keys yet: error = %v, want ErrKeySetUnavailable", err)
	}
	// Within 30s we do not ask again, and still say why we cannot verify.
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrKeySetUnavailable) || p.srv.discoveries.Load() != 1 {
		t.Fatalf("error = %v after %d discoveries, want ErrKeySetUnavailable after 1", err, p.srv.discoveries.Load())
	}

	p.srv.setFailing(false)
	p.clk.Advance(jwksMinRefetchInterval)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Fatalf("provider back: %v", err)
	}

	// A failed hourly refresh keeps the cached keys working.
	p.srv.setFailing(true)
	p.clk.Advance(jwksRefreshInterval)
	if _, err := v.Verify(t.Context(), tok); err != nil {
		t.Errorf("refresh failed, cached key refused: %v", err)
	}
	// Discovery failed once, then succeeded and was kept: the refresh
	// fetched the JWKS only.
	if d, n := p.srv.discoveries.Load(), p.srv.fetches.Load(); d != 2 || n != 2 {
		t.Errorf("%d discoveries and %d JWKS fetches, want 2 and 2", d, n)
	}
}

// A discovery document for another issuer is refused: that provider's
// tokens must not pass for the configured issuer's.
func TestOIDCDiscoveryIssuerMismatch(t *testing.T) {
	p := newIDP(t)
	p.srv.issuer = "https://idp.example.evil"
	v := p.verifier(nil)
	tok := p.token(jwt.SigningMethodRS256, p.rsa, "rsa-1", "alice", nil)
	if _, err := v.Verify(t.Context(), tok); !errors.Is(err, ErrKeySetUnavailable) || p.srv.fetches.Load() != 0 {
		t.Fatalf("error = %v after %d JWKS fetches, want ErrKeySetUnavailable and none", err, p.srv.fetches.Load())
	}
}

func TestDiscover(t *testing.T) {
	p := newIDP(t)
	meta, err := discover(t.Context(), p.srv.client(), idpIssuer)
	if err != nil || meta.JWKSURI != "https://idp.example/jwks" || meta.Issuer != idpIssuer {
		t.Fatalf("discover = %+v, %v", meta, err)
	}
	if _, err := discover(t.Context(), p.srv.client(), idpIssuer+"/"); err == nil {
		t.Error("discover accepted a document naming another issuer (trailing slash)")
	}
}

func TestParseJWKSSkipsUnusableKeys(t *testing.T) {
	p := newIDP(t)
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	enc := jwkOf(t, "enc", &p.rsa.PublicKey)
	enc["use"] = "enc"
	pinned := jwkOf(t, "pinned", &p.rsa.PublicKey)
	pinned["alg"] = "PS384"
	mismatched := jwkOf(t, "mismatch", &p.ec256.PublicKey)
	mismatched["alg"] = "RS256"
	offCurve := jwkOf(t, "off-curve", &p.ec256.PublicKey)
	offCurve["y"] = offCurve["x"]
	noKid := jwkOf(t, "", &p.rsa.PublicKey)
	_, ed := newEd25519(t)

	keys := []map[string]any{
		enc, pinned, mismatched, offCurve, noKid,
		jwkOf(t, "small", &small.PublicKey),
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		{"kty": "EC", "kid": "k256", "crv": "secp256k1", "x": "AA", "y": "AA"},
		jwkOf(t, "ed", ed.Public()),
	}
	data := []byte(`{"keys":[`)
	for i, k := range keys {
		if i > 0 {
			data = append(data, ',')
		}
		data = append(data, mustJSON(t, k)...)
	}
	data = append(data, "]}"...)

	got, err := parseJWKS(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Errorf("parsed kids %v, want only pinned and ed", keysOf(got))
	}
	if k := got["pinned"]; len(k) != 1 || len(k[0].algs) != 1 || k[0].algs[0] != "PS384" {
		t.Errorf("pinned key = %+v, want usable with PS384 only", k)
	}
	if k := got["ed"]; len(k) != 1 || k[0].algs[0] != "EdDSA" {
		t.Errorf("Ed25519 key = %+v, want EdDSA", k)
	}

	for _, bad := range []string{`{"keys":[]}`, `[]`, `{"keys":[{"kty":"oct","kid":"x"}]}`, `not json`} {
		if _, err := parseJWKS([]byte(bad)); err == nil {
			t.Errorf("parseJWKS(%s) succeeded", bad)
		}
	}
}

func keysOf(m map[string][]jwk) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
