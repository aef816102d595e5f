package gateway

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// requireUserToken refuses a request without a valid user token before
// anything reads its body or reaches a service: no token, a bad one, or a
// service identity presented from outside (never forwarded) is answered
// 401 at once, and the connection closes rather than read a body sent
// with it (bodyGuard). The token is the Authorization header's or, on GET and HEAD
// (the browser routes that take ?access_token= are all GET or HEAD, and
// verify it again where they forward it), the parameter's. OPTIONS (tus
// discovery; CORS preflights never get here) asks nothing of a service
// and passes. A browser's session cookie stands for a token (signin.go):
// its token is put in the Authorization header, after the CSRF checks of a
// write, which refuse 403 before the body is read too.
func requireUserToken(v *auth.Verifier, sessions *signIn, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		privateAnswer(w.Header())
		if r.Method == http.MethodOptions {
			next.ServeHTTP(w, r)
			return
		}
		if err := sessions.authenticate(r); err != nil {
			writeError(w, r, err)
			return
		}
		token, err := bearerToken(r, r.Method == http.MethodGet || r.Method == http.MethodHead)
		if err == nil && token == "" {
			err = status.Error(codes.Unauthenticated, "missing bearer token")
		}
		if err == nil {
			_, err = verifyUser(r, v, token)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// privateAnswer marks an answer of the API as one user's: a session
// cookie now authenticates, and a shared cache (a proxy, a CDN) keying by
// URL alone would hand one family's children to the next browser. Routes
// that deliberately allow caching set their own Cache-Control over this
// (media downloads: private, revalidated by ETag); Vary: Cookie still
// keeps them apart per browser in caches that ignore private.
func privateAnswer(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Cookie")
	h.Set("X-Content-Type-Options", "nosniff")
}

// bearerToken returns the caller's token, "" when there is none: from the
// Authorization header or, where allowQuery says (the routes a browser
// reaches with EventSource, WebSocket or <video src>, none of which can set
// a header), from ?access_token=. The header wins when both are present.
func bearerToken(r *http.Request, allowQuery bool) (string, error) {
	if header := r.Header.Get("Authorization"); header != "" {
		scheme, token, ok := strings.Cut(header, " ")
		if token = strings.TrimSpace(token); !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
			return "", status.Error(codes.Unauthenticated, "the Authorization header must be 'Bearer <token>'")
		}
		return token, nil
	}
	if q := r.URL.Query(); allowQuery && q.Has("access_token") {
		token := strings.TrimSpace(q.Get("access_token"))
		if token == "" {
			return "", status.Error(codes.Unauthenticated, "the access_token parameter is empty")
		}
		return token, nil
	}
	return "", nil
}

// verifyUser checks that token is a valid user token: a service identity
// presented from outside is refused like a bad token.
func verifyUser(r *http.Request, v *auth.Verifier, token string) (auth.Principal, error) {
	p, err := v.VerifyUser(r.Context(), token)
	switch {
	case errors.Is(err, auth.ErrKeySetUnavailable):
		// Not the caller's fault, and the reason names the identity
		// provider's address: it goes to the log only.
		slog.WarnContext(r.Context(), "gateway: verifying a token", slog.Any("error", err))
		return auth.Principal{}, status.Error(codes.Unavailable, "the identity provider's keys cannot be fetched; retry shortly")
	case err != nil:
		return auth.Principal{}, status.Errorf(codes.Unauthenticated, "invalid token: %v", err)
	}
	if err := limitUser(r, p); err != nil {
		return auth.Principal{}, err
	}
	return p, nil
}

// forwardToken puts the caller's bearer token into the request context as
// outgoing gRPC metadata, for handlers (tus) whose calls to services are
// made deep inside a library with only the context at hand.
func forwardToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(withUser(r)))
	})
}
