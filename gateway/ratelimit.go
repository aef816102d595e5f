package gateway

import (
	"context"
	"net/http"
	"sync"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/ratelimit"
)

// limitRequests refuses, before anything else is done with it, a request
// from a client address that has spent its budget: the address is the
// connection's peer, or what a trusted proxy says in X-Forwarded-For (see
// ratelimit.ClientAddress). Health checks are not counted: load balancers
// ask often. It also gives the request a user budget, which verifyUser
// charges once the token is known (limitUser).
func limitRequests(l *ratelimit.Limiter, trusted ratelimit.TrustedProxies, next http.Handler) http.Handler {
	if l == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" {
			next.ServeHTTP(w, r)
			return
		}
		addr := ratelimit.AddressKey(ratelimit.ClientAddress(r, trusted))
		if err := l.Allow(r.Context(), ratelimit.Address, addr); err != nil {
			writeError(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userBudgetKey{}, &userBudget{limiter: l})))
	})
}

type userBudgetKey struct{}

// userBudget charges a request to its user once, however often the token
// is checked on the way (the API's check, then a route's own).
type userBudget struct {
	limiter *ratelimit.Limiter
	mu      sync.Mutex
	charged bool
	user    string
	err     error
}

// limitUser takes one request from the bucket of the user whose token r
// carries: a RESOURCE_EXHAUSTED error (429) when it is empty.
func limitUser(r *http.Request, p auth.Principal) error {
	b, ok := r.Context().Value(userBudgetKey{}).(*userBudget)
	if !ok {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.charged || b.user != p.Subject {
		b.charged, b.user = true, p.Subject
		b.err = b.limiter.Allow(r.Context(), ratelimit.User, p.Subject)
	}
	return b.err
}
