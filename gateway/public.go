package gateway

import "net/http"

// publicRoutes are the API routes anyone may call without signing in,
// because the request itself carries the secret that proves what it asks
// (a single-use token mailed to the user), by path and method. The
// services open the same methods, and only those (pkg/auth's
// publicMethods); every other /v1/ route needs a token (requireUserToken).
var publicRoutes = map[string]string{
	// ConfirmEmail: the token of the mailed link proves the mailbox.
	"/v1/settings:confirmEmail": http.MethodPost,
	// UnsubscribeDigest: the token of a digest mail turns that digest off
	// (unsubscribe.go takes RFC 8058's one-click form posts).
	unsubscribePath: http.MethodPost,
}

// isPublic reports whether r is for a public route.
func isPublic(r *http.Request) bool {
	method, ok := publicRoutes[r.URL.Path]
	return ok && r.Method == method
}

// servePublic passes a request for a public route to the API without any
// identity: a session cookie or a token it brings is not looked at nor
// forwarded, so the answer never depends on who is signed in in that
// browser, and a page of another site gains nothing by sending one.
func servePublic(api http.Handler, w http.ResponseWriter, r *http.Request) {
	privateAnswer(w.Header())
	r.Header.Del("Authorization")
	r.Header.Del("Cookie")
	oneClickUnsubscribe(r)
	api.ServeHTTP(w, r)
}
