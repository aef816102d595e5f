package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims of built-in tokens.
const (
	// Issuer is the iss of every token minted by Kinbridge itself, user or service.
	Issuer = "kinbridge"
	// UserAudience is the aud of built-in user tokens.
	UserAudience = "kinbridge"
	// ServiceAudience is the aud of service tokens. It differs from
	// UserAudience so that neither kind of token is accepted as the other even
	// if the keys were ever mixed up.
	ServiceAudience = "kinbridge-service"
)

const (
	// ServiceTokenTTL is the lifetime of a service token. Short, because
	// service tokens are minted automatically and a leaked one should die soon.
	ServiceTokenTTL = 5 * time.Minute
	// serviceRenewBefore is how long before expiry a cached service token is
	// replaced; it covers the verifier's leeway and a slow RPC in flight.
	serviceRenewBefore = time.Minute
)

// UserIssuer mints built-in user tokens (`kinbridge token issue`). It holds only
// the user key, so it cannot mint service tokens, and it refuses subjects in
// the "service:" namespace.
type UserIssuer struct {
	key ed25519.PrivateKey
	kid string
	now func() time.Time // replaced in tests
}

// NewUserIssuer returns an issuer signing with key, the user key.
func NewUserIssuer(key ed25519.PrivateKey) *UserIssuer {
	return &UserIssuer{key: key, kid: keyIDOf(key), now: time.Now}
}

// Issue returns a signed token for user, valid for ttl from now. admin makes
// the bearer an administrator. The token carries iss, aud, sub, iat, nbf, exp,
// jti and a boolean "admin" claim; its "kid" header is [KeyID] of the user key.
func (i *UserIssuer) Issue(user string, admin bool, ttl time.Duration) (string, error) {
	switch {
	case len(i.key) != ed25519.PrivateKeySize:
		return "", errors.New("auth: user issuer has no valid Ed25519 key")
	case strings.TrimSpace(user) == "":
		return "", errors.New("auth: user id is empty")
	case strings.TrimSpace(user) != user:
		return "", errors.New("auth: user id has leading or trailing spaces")
	case reservedSubject(user):
		return "", fmt.Errorf("auth: user id %q is in the %q namespace reserved for service identities", user, servicePrefix)
	case ttl <= 0:
		return "", fmt.Errorf("auth: token lifetime must be positive, got %s", ttl)
	}
	now := i.now()
	claims := builtinClaims{
		RegisteredClaims: registered(user, UserAudience, now, ttl),
		Admin:            admin,
	}
	return sign(i.key, i.kid, claims)
}

// ServiceIdentity is the identity of one Kinbridge service when it calls
// another. It mints short-lived tokens signed with the service key, caches the
// current one and renews it a minute before it expires. It is safe for
// concurrent use.
//
// It implements credentials.PerRPCCredentials, so it can be passed to
// grpc.WithPerRPCCredentials.
type ServiceIdentity struct {
	key     ed25519.PrivateKey
	kid     string
	service string
	now     func() time.Time // replaced in tests

	mu      sync.Mutex
	token   string
	expires time.Time
}

// NewServiceIdentity returns the identity of service ("progress", "media",
// ...) signing with key, the service key. The name must be lowercase letters,
// digits, '-', '_' or '.'; an invalid name or key is reported by Token.
func NewServiceIdentity(key ed25519.PrivateKey, service string) *ServiceIdentity {
	return &ServiceIdentity{key: key, kid: keyIDOf(key), service: service, now: time.Now}
}

// Token returns a valid service token, minting a new one when the cached one
// is close to expiry.
func (s *ServiceIdentity) Token() (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.expires.Add(-serviceRenewBefore)) {
		return s.token, nil
	}
	if len(s.key) != ed25519.PrivateKeySize {
		return "", errors.New("auth: service identity has no valid Ed25519 key")
	}
	if !validServiceName(s.service) {
		return "", fmt.Errorf("auth: invalid service name %q", s.service)
	}
	claims := builtinClaims{RegisteredClaims: registered(servicePrefix+s.service, ServiceAudience, now, ServiceTokenTTL)}
	tok, err := sign(s.key, s.kid, claims)
	if err != nil {
		return "", err
	}
	s.token, s.expires = tok, claims.ExpiresAt.Time
	return tok, nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials: it adds
// "authorization: Bearer <service token>" to every outgoing RPC.
func (s *ServiceIdentity) GetRequestMetadata(ctx context.Context, _ ...string) (map[string]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tok, err := s.Token()
	if err != nil {
		return nil, err
	}
	return map[string]string{"authorization": "Bearer " + tok}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials. It
// returns false because the suite's services talk to each other over loopback
// (`kinbridge serve all`) or private networks without TLS, and gRPC would
// otherwise refuse to send the token at all. Deployments that cross untrusted
// networks must add TLS (or a mesh) underneath; the token itself is short-lived
// and only accepted by Kinbridge services.
func (s *ServiceIdentity) RequireTransportSecurity() bool { return false }

// builtinClaims is the payload of tokens minted by Kinbridge.
type builtinClaims struct {
	jwt.RegisteredClaims
	Admin bool `json:"admin,omitempty"`
}

func registered(sub, aud string, now time.Time, ttl time.Duration) jwt.RegisteredClaims {
	now = now.Truncate(time.Second) // JWT times are whole seconds
	return jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   sub,
		Audience:  jwt.ClaimStrings{aud},
		IssuedAt:  jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
		ID:        newJTI(),
	}
}

func sign(key ed25519.PrivateKey, kid string, claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("auth: sign token: %w", err)
	}
	return s, nil
}

func newJTI() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func keyIDOf(key ed25519.PrivateKey) string {
	if len(key) != ed25519.PrivateKeySize {
		return ""
	}
	return KeyID(key.Public().(ed25519.PublicKey))
}
