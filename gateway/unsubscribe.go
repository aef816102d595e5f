package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// unsubscribePath is UnsubscribeDigest's route, the URL of a digest mail's
// List-Unsubscribe header (with ?token=).
const unsubscribePath = "/v1/digest:unsubscribe"

// oneClickUnsubscribe lets a mail client's one-click unsubscribe (RFC 8058)
// reach UnsubscribeDigest, whose REST body is JSON: such a client POSTs to
// the header's URL, token in the query, with the form body
// "List-Unsubscribe=One-Click" (urlencoded or multipart), which says
// nothing the route needs. A request to the route with a token in the
// query gets that token as its JSON body instead of the body it brought,
// which is not read. A request without one passes unchanged (the app's
// page sends {"token": ...}).
func oneClickUnsubscribe(r *http.Request) {
	if r.URL.Path != unsubscribePath || !r.URL.Query().Has("token") {
		return
	}
	body, _ := json.Marshal(map[string]string{"token": r.URL.Query().Get("token")})
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	r.Header.Del("Transfer-Encoding")
	r.TransferEncoding = nil
}
