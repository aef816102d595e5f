package gateway

import (
	"net/http"
	"slices"
	"strings"
)

// Headers browsers may send and read across origins: auth, conditional and
// ranged requests, tus uploads and SSE resume.
var (
	corsAllowHeaders  = "Authorization, Content-Type, If-Match, If-None-Match, Range, Last-Event-ID, Tus-Resumable, Upload-Length, Upload-Metadata, Upload-Offset, Upload-Concat, Upload-Defer-Length, X-HTTP-Method-Override, traceparent, tracestate, baggage, uber-trace-id"
	corsExposeHeaders = "ETag, Location, Content-Range, Content-Disposition, Retry-After, Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Upload-Offset, Upload-Length, Upload-Metadata, Kinbridge-Media-Item, X-Trace-Id"
	corsAllowMethods  = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
)

// cors answers preflights and adds CORS headers for origins on the allow
// list; other origins get no CORS headers, so browsers refuse them. It
// never sends Access-Control-Allow-Credentials (nor allows X-CSRF-Token):
// other origins call with bearer tokens, never with a family's session
// cookie (TestForeignOriginGetsNothingByCookie).
func cors(origins []string, next http.Handler) http.Handler {
	any := slices.Contains(origins, "*")
	allowed := func(origin string) bool {
		return origin != "" && (any || slices.ContainsFunc(origins, func(o string) bool { return strings.EqualFold(o, origin) }))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if !allowed(origin) {
			next.ServeHTTP(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			h.Set("Access-Control-Allow-Methods", corsAllowMethods)
			h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
