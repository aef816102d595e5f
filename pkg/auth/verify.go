package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reasons a token is refused. [Verifier.Verify] wraps them with details;
// test with errors.Is. The texts are meant for people: they reach API clients
// in Unauthenticated statuses.
var (
	ErrMalformed     = errors.New("malformed token")
	ErrUnknownIssuer = errors.New("unknown issuer")
	ErrUnknownKey    = errors.New("unknown signing key")
	ErrAlgorithm     = errors.New("signing algorithm not allowed")
	ErrBadSignature  = errors.New("bad signature")
	ErrWrongAudience = errors.New("wrong audience")
	ErrExpired       = errors.New("token expired")
	ErrNotValidYet   = errors.New("token not valid yet")
	ErrMissingClaim  = errors.New("token lacks a required claim")
	ErrBadSubject    = errors.New("bad subject")
	// ErrServiceToken is returned by [Verifier.VerifyUser] for a valid
	// service token.
	ErrServiceToken = errors.New("service tokens are not accepted here")
	// ErrKeySetUnavailable means the OIDC provider's keys could not be
	// fetched: the token may well be fine, the verifier cannot tell.
	ErrKeySetUnavailable = errors.New("identity provider keys unavailable")
)

// DefaultLeeway is the clock skew allowed between token issuer and verifier.
const DefaultLeeway = 30 * time.Second

// maxTokenSize bounds the work an anonymous caller can make us do.
const maxTokenSize = 16 << 10

// oidcAlgs are the algorithms an OIDC token may name; each JWKS key narrows
// them further to those of its own type. Never "none", never HMAC: the
// provider's public key must not double as a shared secret.
var oidcAlgs = append([]string{"EdDSA", "ES256", "ES384", "ES512"}, rsaAlgs...)

var builtinAlgs = []string{"EdDSA"}

// OIDCConfig describes an external identity provider whose tokens identify users.
type OIDCConfig struct {
	// Issuer is the required iss, e.g. "https://accounts.example.com". The
	// provider's signing keys are found through its discovery document
	// (Issuer + "/.well-known/openid-configuration", which must name this
	// issuer). Keys are fetched on first use and cached; they are fetched
	// again every hour and when a token names an unknown kid (at most once
	// per 30s), which picks up key rotation. If a refresh fails the cached
	// keys stay in use.
	Issuer string
	// Audience is the required aud (the client id registered for Kinbridge).
	Audience string
	// AdminSubjects lists user ids (values of UserClaim) treated as administrators.
	AdminSubjects []string
	// UserClaim names the claim holding the user id; default "sub".
	UserClaim string
	// HTTPClient fetches the discovery document and the JWKS; default http.DefaultClient. Each fetch has
	// its own 10s timeout on top of the client's.
	HTTPClient *http.Client
}

// VerifierConfig says which tokens a [Verifier] accepts.
type VerifierConfig struct {
	// UserKey verifies built-in user tokens; nil accepts none.
	UserKey ed25519.PublicKey
	// ServiceKey verifies service tokens; nil accepts none. It must differ
	// from UserKey, or user tokens could pass for services.
	ServiceKey ed25519.PublicKey
	// OIDC adds an external provider of user tokens; nil for none.
	OIDC *OIDCConfig
	// Leeway is the clock skew allowed for exp, nbf and iat; zero means
	// DefaultLeeway.
	Leeway time.Duration
	// CacheSize bounds how many verified built-in tokens are remembered
	// (see cache.go); zero means DefaultTokenCacheSize, negative caches
	// nothing.
	CacheSize int
}

// Verifier checks bearer tokens and says whom they identify. It is safe for
// concurrent use.
type Verifier struct {
	userKey, serviceKey ed25519.PublicKey
	userKID, serviceKID string
	oidc                *OIDCConfig
	keys                *keySet // the OIDC provider's keys
	leeway              time.Duration
	cache               *tokenCache      // nil when caching is off
	now                 func() time.Time // replaced in tests
}

// NewVerifier returns a verifier for cfg. It does not contact the OIDC
// provider: keys are fetched on first use, so services start while the
// provider is down.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{leeway: cfg.Leeway, now: time.Now}
	if v.leeway == 0 {
		v.leeway = DefaultLeeway
	}
	if v.leeway < 0 {
		return nil, fmt.Errorf("auth: negative leeway %s", cfg.Leeway)
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultTokenCacheSize
	}
	v.cache = newTokenCache(cfg.CacheSize)
	if cfg.UserKey != nil {
		if len(cfg.UserKey) != ed25519.PublicKeySize {
			return nil, errors.New("auth: user key is not an Ed25519 public key")
		}
		v.userKey, v.userKID = cfg.UserKey, KeyID(cfg.UserKey)
	}
	if cfg.ServiceKey != nil {
		if len(cfg.ServiceKey) != ed25519.PublicKeySize {
			return nil, errors.New("auth: service key is not an Ed25519 public key")
		}
		v.serviceKey, v.serviceKID = cfg.ServiceKey, KeyID(cfg.ServiceKey)
	}
	if v.userKey != nil && v.serviceKey != nil && v.userKey.Equal(v.serviceKey) {
		return nil, errors.New("auth: user and service keys must differ, or any user token could pass for a service")
	}
	if o := cfg.OIDC; o != nil {
		switch {
		case o.Issuer == "":
			return nil, errors.New("auth: OIDC issuer is required")
		case o.Issuer == Issuer:
			return nil, fmt.Errorf("auth: OIDC issuer may not be %q, which Kinbridge's own tokens use", Issuer)
		case o.Audience == "":
			return nil, errors.New("auth: OIDC audience is required")
		}
		u, err := url.Parse(o.Issuer)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("auth: OIDC issuer %q is not an http(s) URL", o.Issuer)
		}
		oc := *o
		oc.AdminSubjects = slices.Clone(o.AdminSubjects)
		if oc.UserClaim == "" {
			oc.UserClaim = "sub"
		}
		if oc.HTTPClient == nil {
			oc.HTTPClient = http.DefaultClient
		}
		v.oidc = &oc
		v.keys = &keySet{issuer: oc.Issuer, client: oc.HTTPClient, now: func() time.Time { return v.now() }}
	}
	if v.userKey == nil && v.serviceKey == nil && v.oidc == nil {
		return nil, errors.New("auth: verifier would accept no token: configure a user key, a service key or OIDC")
	}
	return v, nil
}

// Verify checks token and returns whom it identifies: a user (built-in or
// OIDC) or a Kinbridge service. It checks the signature with the key the token
// belongs to (algorithm pinned per key type, never "none"; kid checked), then
// iss, aud, exp, nbf (or iat) and the subject. ctx bounds a JWKS fetch, if one
// is needed. A built-in token it verified before is answered from memory
// while the token's validity window holds (cache.go).
func (v *Verifier) Verify(ctx context.Context, token string) (Principal, error) {
	now := v.now()
	if p, ok := v.cache.get(token, now); ok {
		return p, nil
	}
	h, err := peek(token)
	if err != nil {
		return Principal{}, err
	}
	switch {
	case h.Iss == Issuer:
		e, err := v.verifyBuiltin(token, h, now)
		if err != nil {
			return Principal{}, err
		}
		v.cache.put(token, e, now)
		return e.p, nil
	case v.oidc != nil && h.Iss == v.oidc.Issuer:
		return v.verifyOIDC(ctx, token, h)
	case h.Iss == "":
		return Principal{}, fmt.Errorf("%w: iss", ErrMissingClaim)
	default:
		return Principal{}, fmt.Errorf("%w %q", ErrUnknownIssuer, h.Iss)
	}
}

// VerifyUser is Verify for places that must only ever see people: it refuses
// valid service tokens with ErrServiceToken. The gateway uses it so that it
// never accepts, and so never forwards, a service identity from outside.
func (v *Verifier) VerifyUser(ctx context.Context, token string) (Principal, error) {
	p, err := v.Verify(ctx, token)
	if err != nil {
		return Principal{}, err
	}
	if p.IsService() {
		return Principal{}, ErrServiceToken
	}
	return p, nil
}

// verifyBuiltin handles tokens with iss "kinbridge". Whether the token is a
// user or a service token is decided by the key that verifies it: the kid
// picks the key (the audience does when there is no kid), and the signature,
// audience and subject must then all fit that one kind.
func (v *Verifier) verifyBuiltin(token string, h header, now time.Time) (verified, error) {
	var service bool
	switch {
	case h.Kid == "":
		service = slices.Contains(h.Aud, ServiceAudience)
	case v.serviceKey != nil && h.Kid == v.serviceKID:
		service = true
	case v.userKey != nil && h.Kid == v.userKID:
		service = false
	default:
		return verified{}, fmt.Errorf("%w (kid %q)", ErrUnknownKey, h.Kid)
	}
	key, aud := v.userKey, UserAudience
	if service {
		key, aud = v.serviceKey, ServiceAudience
	}
	if key == nil {
		return verified{}, ErrUnknownKey
	}
	if !slices.Contains(builtinAlgs, h.Alg) {
		return verified{}, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	c, err := v.parse(token, builtinAlgs, func(*jwt.Token) (any, error) { return key, nil })
	if err != nil {
		return verified{}, err
	}
	e, err := v.checkClaims(c, Issuer, aud, now)
	if err != nil {
		return verified{}, err
	}
	sub, err := c.GetSubject()
	if err != nil {
		return verified{}, fmt.Errorf("%w: sub is not a string", ErrMalformed)
	}
	if service {
		name, ok := strings.CutPrefix(sub, servicePrefix)
		if !ok || !validServiceName(name) {
			return verified{}, fmt.Errorf("%w: service token for %q", ErrBadSubject, sub)
		}
		e.p = Principal{Subject: sub, Service: name, Issuer: Issuer}
		return e, nil
	}
	if err := checkUserID(sub, "sub"); err != nil {
		return verified{}, err
	}
	admin := false
	if a, ok := c["admin"]; ok {
		if admin, ok = a.(bool); !ok {
			return verified{}, fmt.Errorf("%w: admin is not a boolean", ErrMalformed)
		}
	}
	e.p = Principal{Subject: sub, Admin: admin, Issuer: Issuer}
	return e, nil
}

func (v *Verifier) verifyOIDC(ctx context.Context, token string, h header) (Principal, error) {
	if !slices.Contains(oidcAlgs, h.Alg) {
		return Principal{}, fmt.Errorf("%w: %q", ErrAlgorithm, h.Alg)
	}
	if h.Kid == "" {
		return Principal{}, fmt.Errorf("%w: token names no key (kid)", ErrUnknownKey)
	}
	c, err := v.parse(token, oidcAlgs, func(t *jwt.Token) (any, error) {
		return v.keys.lookup(ctx, h.Kid, t.Method.Alg())
	})
	if err != nil {
		return Principal{}, err
	}
	if _, err := v.checkClaims(c, v.oidc.Issuer, v.oidc.Audience, v.now()); err != nil {
		return Principal{}, err
	}
	uid, ok := c[v.oidc.UserClaim].(string)
	if !ok && c[v.oidc.UserClaim] != nil {
		return Principal{}, fmt.Errorf("%w: %s is not a string", ErrMalformed, v.oidc.UserClaim)
	}
	if err := checkUserID(uid, v.oidc.UserClaim); err != nil {
		return Principal{}, err
	}
	email, verified := emailClaims(c)
	return Principal{
		Subject:       uid,
		Admin:         slices.Contains(v.oidc.AdminSubjects, uid),
		Issuer:        v.oidc.Issuer,
		Email:         email,
		EmailVerified: verified,
	}, nil
}

// maxEmailLen is the longest address RFC 5321 lets through (a path of 256
// octets less its angle brackets).
const maxEmailLen = 254

// emailClaims reads the standard `email` and `email_verified` claims
// (OpenID Connect Core 5.1). A claim of the wrong type, or an address too
// long to be one, counts as absent rather than refusing the token: the
// user is still who the token says. email_verified may come as the string
// "true", as some providers send it.
func emailClaims(c map[string]any) (email string, verified bool) {
	email, _ = c["email"].(string)
	if email == "" || len(email) > maxEmailLen {
		return "", false
	}
	switch v := c["email_verified"].(type) {
	case bool:
		verified = v
	case string:
		verified = v == "true"
	}
	return email, verified
}

// checkUserID keeps user ids out of the service namespace, so no code that
// looks only at Subject can mistake a person for a service.
func checkUserID(uid, claim string) error {
	switch {
	case uid == "":
		return fmt.Errorf("%w: %s", ErrMissingClaim, claim)
	case reservedSubject(uid):
		return fmt.Errorf("%w: %q is reserved for Kinbridge services", ErrBadSubject, uid)
	}
	return nil
}

// parse checks the signature and decodes the claims; claims are checked by
// checkClaims, which gives clearer errors than the library's joined ones.
func (v *Verifier) parse(token string, algs []string, keyFunc jwt.Keyfunc) (jwt.MapClaims, error) {
	var keyErr error
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods(algs), jwt.WithoutClaimsValidation())
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		k, err := keyFunc(t)
		keyErr = err
		return k, err
	})
	switch {
	case err == nil:
		return claims, nil
	case keyErr != nil:
		return nil, keyErr
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, ErrBadSignature
	default:
		return nil, fmt.Errorf("%w (%v)", ErrMalformed, err)
	}
}

// checkClaims checks c's issuer, audience and validity window at now, and
// returns that window (leeway included) for the cache.
func (v *Verifier) checkClaims(c jwt.MapClaims, iss, aud string, now time.Time) (verified, error) {
	if got, err := c.GetIssuer(); err != nil || got != iss {
		// Unreachable unless the token was routed on a different reading of
		// iss than the library's; refuse rather than guess.
		return verified{}, fmt.Errorf("%w: want %q", ErrUnknownIssuer, iss)
	}
	auds, err := c.GetAudience()
	switch {
	case err != nil:
		return verified{}, fmt.Errorf("%w: aud is neither a string nor a list of strings", ErrMalformed)
	case len(auds) == 0:
		return verified{}, fmt.Errorf("%w: aud", ErrMissingClaim)
	case !slices.Contains(auds, aud):
		return verified{}, fmt.Errorf("%w: want %q", ErrWrongAudience, aud)
	}

	exp, err := c.GetExpirationTime()
	switch {
	case err != nil:
		return verified{}, fmt.Errorf("%w: exp is not a number", ErrMalformed)
	case exp == nil:
		return verified{}, fmt.Errorf("%w: exp", ErrMissingClaim)
	case !now.Before(exp.Add(v.leeway)):
		return verified{}, fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}

	// Without nbf, a token issued in the future is not valid yet either.
	start, err := c.GetNotBefore()
	if err == nil && start == nil {
		start, err = c.GetIssuedAt()
	}
	switch {
	case err != nil:
		return verified{}, fmt.Errorf("%w: nbf or iat is not a number", ErrMalformed)
	case start != nil && now.Add(v.leeway).Before(start.Time):
		return verified{}, fmt.Errorf("%w (valid from %s)", ErrNotValidYet, start.UTC().Format(time.RFC3339))
	}
	e := verified{until: exp.Add(v.leeway)}
	if start != nil {
		e.from = start.Add(-v.leeway)
	}
	return e, nil
}

// header is what Verify reads before it knows which key to use. Nothing in it
// is trusted: it only chooses the key, and the signature is then checked with
// that key alone.
type header struct {
	Alg string
	Kid string
	Iss string
	Aud jwt.ClaimStrings
}

func peek(token string) (header, error) {
	var h header
	if len(token) > maxTokenSize {
		return h, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxTokenSize)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return h, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	hdr, err := decodeSegment(parts[0])
	if err != nil {
		return h, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	// RFC 7515 4.1.11: critical extensions we do not understand make the
	// token invalid, and we understand none.
	if _, ok := hdr["crit"]; ok {
		return h, fmt.Errorf("%w: unsupported critical header", ErrMalformed)
	}
	body, err := decodeSegment(parts[1])
	if err != nil {
		return h, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	for _, m := range []struct {
		obj  map[string]json.RawMessage
		name string
		dst  any
	}{
		{hdr, "alg", &h.Alg}, {hdr, "kid", &h.Kid}, {body, "iss", &h.Iss}, {body, "aud", &h.Aud},
	} {
		if raw, ok := m.obj[m.name]; ok {
			if err := json.Unmarshal(raw, m.dst); err != nil {
				return h, fmt.Errorf("%w: %s has the wrong type", ErrMalformed, m.name)
			}
		}
	}
	return h, nil
}

// decodeSegment decodes one base64url JSON object of a JWS. Member names are
// matched exactly later on, as the JWT library does, so both read the same
// values (encoding/json would otherwise let "ISS" stand in for "iss").
func decodeSegment(seg string) (map[string]json.RawMessage, error) {
	data, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return nil, errors.New("not base64url")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		return nil, errors.New("not a JSON object")
	}
	return obj, nil
}
