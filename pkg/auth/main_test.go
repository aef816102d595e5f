package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.uber.org/goleak"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// newClock is a test clock at a fixed time.
func newClock() *testenv.Clock { return testenv.NewClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) }

func newEd25519(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// claimsAt returns the registered claims of a token valid for an hour from now.
func claimsAt(iss, aud, sub string, now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": iss,
		"aud": aud,
		"sub": sub,
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	}
}

// signed signs claims with any method and key the JWT library knows, adding
// hdr to the header (kid, or anything else a test wants to forge).
func signed(t testing.TB, method jwt.SigningMethod, key any, hdr map[string]any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range hdr {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsigned builds a token with an empty signature, as an "alg: none" attack would.
func unsigned(hdr, claims map[string]any) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(hdr) + "." + enc(claims) + "."
}

// jwkOf renders pub as a JWK, as an identity provider would publish it.
func jwkOf(t testing.TB, kid string, pub crypto.PublicKey) map[string]any {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	case *ecdsa.PublicKey:
		raw, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		n := (len(raw) - 1) / 2
		return map[string]any{"kty": "EC", "kid": kid, "crv": k.Curve.Params().Name, "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64(k)}
	}
	t.Fatalf("no JWK for %T", pub)
	return nil
}

// jwksServer is an identity provider's discovery and JWKS endpoints, whose
// keys tests can rotate. It answers for issuer idpIssuer: client() sends
// every request to it, whatever the host.
type jwksServer struct {
	*httptest.Server
	fetches     atomic.Int32 // of the JWKS
	discoveries atomic.Int32
	issuer      string // what the discovery document says

	mu   sync.Mutex
	keys []map[string]any
	fail bool
	hold chan struct{} // while non-nil, requests wait for it to close
}

func newJWKSServer(t testing.TB, keys ...map[string]any) *jwksServer {
	s := &jwksServer{keys: keys, issuer: "https://idp.example"}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close) // also closes idle connections of s.Client()
	return s
}

// client reaches the server under any host name, as if DNS pointed there.
func (s *jwksServer) client() *http.Client {
	base := s.Server.Client()
	next := base.Transport
	target, _ := url.Parse(s.URL)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.URL.Scheme, r.URL.Host = target.Scheme, target.Host
		return next.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (s *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/.well-known/openid-configuration" {
		s.discoveries.Add(1)
	} else {
		s.fetches.Add(1)
	}
	s.mu.Lock()
	keys, fail, hold := s.keys, s.fail, s.hold
	s.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.URL.Path == "/.well-known/openid-configuration" {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": s.issuer, "jwks_uri": "https://idp.example/jwks"})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
}

func (s *jwksServer) publish(keys ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) setFailing(fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = fail
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
