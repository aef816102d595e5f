package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
)

const (
	// jwksRefreshInterval bounds how long a removed provider key keeps working.
	jwksRefreshInterval = time.Hour
	// jwksMinRefetchInterval stops tokens with made-up kids from turning every
	// request into a request to the provider.
	jwksMinRefetchInterval = 30 * time.Second
	jwksFetchTimeout       = 10 * time.Second
	jwksMaxBytes           = 1 << 20
)

// jwk is one usable verification key from a JWKS.
type jwk struct {
	key  crypto.PublicKey // *rsa.PublicKey, *ecdsa.PublicKey or ed25519.PublicKey
	algs []string         // JWS algorithms this key may verify
}

// keySet caches an OIDC provider's JWKS. The JWKS address comes from the
// issuer's discovery document (OpenID Connect Discovery 1.0), read on the
// first fetch and kept once it succeeded. Keys are fetched lazily on first use,
// again when they are an hour old, and again when a token names a kid we do not
// know (at most once per jwksMinRefetchInterval), which is how key rotation is
// picked up. Concurrent callers share one fetch.
//
// No background goroutine keeps it fresh, so nothing needs closing and an
// unused verifier costs nothing.
type keySet struct {
	issuer string // discovery starts at issuer + "/.well-known/openid-configuration"
	client *http.Client
	now    func() time.Time

	// waitHook, if set, runs whenever a caller starts waiting for a fetch.
	// Tests use it to hold a fetch open until every caller has joined it.
	waitHook func()

	mu        sync.Mutex
	url       string // the JWKS address, "" until discovered
	keys      map[string][]jwk
	fetched   time.Time // last successful fetch
	attempted time.Time // last fetch started, successful or not
	lastErr   error     // outcome of the last finished fetch
	inflight  *fetchCall
}

type fetchCall struct {
	done chan struct{}
	err  error // set before done is closed
}

// lookup returns the key named kid that may verify alg.
func (s *keySet) lookup(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	var fetchErr error
	waited := false
	for {
		s.mu.Lock()
		now := s.now()
		keys, known := s.keys[kid]
		stale := s.fetched.IsZero() || now.Sub(s.fetched) >= jwksRefreshInterval
		call := s.inflight
		if (!known || stale) && !waited {
			if call == nil && (s.attempted.IsZero() || now.Sub(s.attempted) >= jwksMinRefetchInterval) {
				call = s.startFetch(ctx)
			}
			if call != nil {
				s.mu.Unlock()
				if s.waitHook != nil {
					s.waitHook()
				}
				select {
				case <-call.done:
				case <-ctx.Done():
					// The fetch goes on for the callers still waiting.
					return nil, ctx.Err()
				}
				waited, fetchErr = true, call.err
				continue
			}
		}
		if !waited {
			fetchErr = s.lastErr
		}
		s.mu.Unlock()

		if !known {
			if fetchErr != nil {
				return nil, fmt.Errorf("%w: %v", ErrKeySetUnavailable, fetchErr)
			}
			return nil, fmt.Errorf("%w (kid %q)", ErrUnknownKey, kid)
		}
		// A failed refresh keeps the keys we had: an identity provider outage
		// should not log everybody out.
		for _, k := range keys {
			if slices.Contains(k.algs, alg) {
				return k.key, nil
			}
		}
		return nil, fmt.Errorf("%w: %s cannot be used with key %q", ErrAlgorithm, alg, kid)
	}
}

// startFetch starts fetching the key set; s.mu must be held. The fetch is
// detached from the caller's cancellation (but keeps its values, such as the
// trace) because other callers may join it; it has its own timeout instead.
func (s *keySet) startFetch(ctx context.Context) *fetchCall {
	call := &fetchCall{done: make(chan struct{})}
	s.inflight = call
	s.attempted = s.now()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	go func() {
		defer cancel()
		keys, err := s.fetch(fctx)
		s.mu.Lock()
		if err == nil {
			s.keys, s.fetched = keys, s.now()
		}
		s.lastErr = err
		s.inflight = nil
		s.mu.Unlock()
		call.err = err
		close(call.done)
	}()
	return call
}

func (s *keySet) fetch(ctx context.Context) (map[string][]jwk, error) {
	s.mu.Lock()
	address := s.url
	s.mu.Unlock()
	if address == "" {
		meta, err := discover(ctx, s.client, s.issuer)
		if err != nil {
			return nil, err
		}
		address = meta.JWKSURI
		s.mu.Lock()
		s.url = address
		s.mu.Unlock()
	}
	data, err := getJSON(ctx, s.client, address)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	keys, err := parseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("JWKS %s: %w", address, err)
	}
	return keys, nil
}

// providerMetadata is what the verifier reads of an OpenID provider's
// discovery document.
type providerMetadata struct {
	Issuer  string `json:"issuer"`
	JWKSURI string `json:"jwks_uri"`
}

// discover reads issuer's OpenID Connect discovery document
// (issuer + "/.well-known/openid-configuration"). The document must name
// exactly that issuer (a provider answering for another one would let its
// tokens pass as the configured issuer's) and an http(s) jwks_uri.
func discover(ctx context.Context, client *http.Client, issuer string) (providerMetadata, error) {
	if client == nil {
		client = http.DefaultClient
	}
	address := strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"
	var meta providerMetadata
	data, err := getJSON(ctx, client, address)
	if err != nil {
		return meta, fmt.Errorf("OIDC discovery: %w", err)
	}
	if err := json.Unmarshal(data, &meta); err != nil {
		return meta, fmt.Errorf("OIDC discovery %s: %w", address, err)
	}
	if meta.Issuer != issuer {
		return meta, fmt.Errorf("OIDC discovery %s: the document is for issuer %q, not %q", address, meta.Issuer, issuer)
	}
	if u, err := url.Parse(meta.JWKSURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return meta, fmt.Errorf("OIDC discovery %s: jwks_uri %q is not an http(s) URL", address, meta.JWKSURI)
	}
	return meta, nil
}

// getJSON fetches a JSON document of at most jwksMaxBytes.
func getJSON(ctx context.Context, client *http.Client, address string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, address, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %s", address, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", address, err)
	}
	if len(data) > jwksMaxBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", address, jwksMaxBytes)
	}
	return data, nil
}

// rawJWK holds the JWK members we read (RFC 7517, 7518, 8037).
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS returns the usable signing keys of a JWK Set, by kid. Keys it
// cannot use are skipped rather than failing the whole set: providers publish
// encryption keys, key types we do not support or keys without a kid next to
// the ones that sign their ID tokens.
func parseJWKS(data []byte) (map[string][]jwk, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	keys := make(map[string][]jwk)
	for _, raw := range set.Keys {
		var r rawJWK
		if json.Unmarshal(raw, &r) != nil || r.Kid == "" || (r.Use != "" && r.Use != "sig") {
			continue
		}
		k, err := parseJWK(r)
		if err != nil {
			continue
		}
		keys[r.Kid] = append(keys[r.Kid], k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no usable signing keys (RSA, EC or Ed25519 with a kid)")
	}
	return keys, nil
}

var rsaAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}

func parseJWK(r rawJWK) (jwk, error) {
	var k jwk
	switch r.Kty {
	case "RSA":
		n, err := b64(r.N)
		if err != nil {
			return k, err
		}
		e, err := b64(r.E)
		if err != nil {
			return k, err
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n)}
		// Small moduli are forgeable; huge ones make verification a DoS.
		if bits := pub.N.BitLen(); bits < 2048 || bits > 8192 {
			return k, fmt.Errorf("RSA key of %d bits", bits)
		}
		if len(e) == 0 || len(e) > 4 {
			return k, errors.New("bad RSA exponent")
		}
		exp := new(big.Int).SetBytes(e)
		if exp.Int64() < 3 || exp.Bit(0) == 0 {
			return k, errors.New("bad RSA exponent")
		}
		pub.E = int(exp.Int64())
		k.key, k.algs = pub, rsaAlgs
	case "EC":
		var curve elliptic.Curve
		var size int
		var alg string
		switch r.Crv {
		case "P-256":
			curve, size, alg = elliptic.P256(), 32, "ES256"
		case "P-384":
			curve, size, alg = elliptic.P384(), 48, "ES384"
		case "P-521":
			curve, size, alg = elliptic.P521(), 66, "ES512"
		default:
			return k, fmt.Errorf("unsupported curve %q", r.Crv)
		}
		x, err := b64(r.X)
		if err != nil {
			return k, err
		}
		y, err := b64(r.Y)
		if err != nil {
			return k, err
		}
		if len(x) != size || len(y) != size {
			return k, errors.New("bad EC coordinates")
		}
		// Rejects points off the curve (invalid-curve attacks).
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return k, err
		}
		k.key, k.algs = pub, []string{alg}
	case "OKP":
		if r.Crv != "Ed25519" {
			return k, fmt.Errorf("unsupported curve %q", r.Crv)
		}
		x, err := b64(r.X)
		if err != nil {
			return k, err
		}
		if len(x) != ed25519.PublicKeySize {
			return k, errors.New("bad Ed25519 key")
		}
		k.key, k.algs = ed25519.PublicKey(x), []string{"EdDSA"}
		if r.Alg == "Ed25519" { // RFC 9864's fully specified name for the same thing
			r.Alg = "EdDSA"
		}
	default:
		return k, fmt.Errorf("unsupported key type %q", r.Kty)
	}
	// A key that names its algorithm may be used with that one only.
	if r.Alg != "" {
		if !slices.Contains(k.algs, r.Alg) {
			return k, fmt.Errorf("algorithm %q does not fit key type %s", r.Alg, r.Kty)
		}
		k.algs = []string{r.Alg}
	}
	return k, nil
}

// b64 decodes base64url, tolerating the padding some providers add.
func b64(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("missing key member")
	}
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
