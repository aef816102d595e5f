package gateway

import (
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// requireUserToken refuses, before anything reaches a service, a request
// whose bearer token is not a valid user token. Above all it keeps service
// identities out: a service token presented from outside is never
// forwarded. A request without a token goes on, and the service answers
// UNAUTHENTICATED itself (every service checks tokens on its own).
func requireUserToken(v *auth.Verifier, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		header := r.Header.Get("Authorization")
		if header == "" {
			next.ServeHTTP(w, r)
			return
		}
		scheme, token, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			writeError(w, r, status.Error(codes.Unauthenticated, "the Authorization header must be 'Bearer <token>'"))
			return
		}
		if _, err := v.VerifyUser(r.Context(), strings.TrimSpace(token)); err != nil {
			writeError(w, r, status.Errorf(codes.Unauthenticated, "invalid token: %v", err))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// forwardToken puts the caller's bearer token into the request context as
// outgoing gRPC metadata, for handlers (tus) whose calls to services are
// made deep inside a library with only the context at hand.
func forwardToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withUser(r)))
	})
}
