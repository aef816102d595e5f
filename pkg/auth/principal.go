// Package auth answers "who is calling" for every Kinbridge service.
//
// Each service checks bearer JWTs itself rather than trusting the gateway, so a
// request that bypasses the gateway is held to the same rules. Two kinds of
// identity exist and they are told apart by the key that signed the token, never
// by what the token claims about itself:
//
//   - Users: tokens from the built-in issuer (signed with the user key, see
//     [UserIssuer]) or from an external OIDC provider whose JWKS is configured.
//   - Services: tokens signed with a separate service key (see
//     [ServiceIdentity]), with sub "service:<name>" and an audience of their own.
//
// [Verifier] checks tokens; [UnaryServerInterceptor] and
// [StreamServerInterceptor] apply it to gRPC servers under a per-method
// [Requirement] and put the resulting [Principal] into the request context.
package auth

import (
	"context"
	"strings"
)

// Principal is the verified identity behind a request.
type Principal struct {
	// Subject is the user id (the token's sub, or the configured OIDC user
	// claim), or "service:<name>" for a service identity.
	Subject string
	// Admin is set for administrators, who manage children and guardianships.
	// Service identities are never administrators.
	Admin bool
	// Service is the calling service's name ("progress", "media", ...). It is
	// non-empty only for tokens signed with the service key.
	Service string
	// Issuer is the iss of the token: [Issuer] for built-in tokens, or the
	// OIDC provider's issuer.
	Issuer string
	// Email is the OIDC ID token's `email` claim, "" when it has none (and
	// always for built-in tokens and services). Only an address with
	// EmailVerified may be trusted to reach the user.
	Email string
	// EmailVerified is the ID token's `email_verified` claim: the provider
	// vouches that Email is the user's.
	EmailVerified bool
}

// VerifiedEmail is the address the identity provider vouches for, "" if
// none.
func (p Principal) VerifiedEmail() string {
	if p.EmailVerified {
		return p.Email
	}
	return ""
}

// IsService reports whether p is a Kinbridge service rather than a person.
func (p Principal) IsService() bool { return p.Service != "" }

type principalKey struct{}

// NewContext returns a copy of ctx carrying p.
func NewContext(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal stored in ctx by [NewContext] (the server
// interceptors do this for every authenticated call).
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// servicePrefix starts the subject of every service identity. User subjects may
// not use it, so that code which looks only at Subject cannot be fooled either.
const servicePrefix = "service:"

// reservedSubject reports whether sub lies in the namespace kept for services.
// The comparison ignores case so "Service:progress" cannot slip through.
func reservedSubject(sub string) bool {
	return len(sub) >= len(servicePrefix) && strings.EqualFold(sub[:len(servicePrefix)], servicePrefix)
}

// validServiceName accepts short lowercase names such as "progress" or
// "media-worker"; they end up in logs and in access rules, so keep them plain.
func validServiceName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for i, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '-' || r == '_' || r == '.') && i > 0:
		default:
			return false
		}
	}
	return true
}
