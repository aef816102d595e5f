package gateway

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// staticFile is an embedded file served as it is: the docs page's and the
// family app's.
type staticFile struct {
	body        []byte
	gzipped     []byte // nil when gzip would not save a tenth
	contentType string
	etag        string
}

// newStaticFile types name by its extension (untyped when it has no
// known one) and gzips body once, up front.
func newStaticFile(name string, body []byte, untyped string) staticFile {
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = untyped
	}
	sum := sha256.Sum256(body)
	f := staticFile{body: body, contentType: ctype, etag: hex.EncodeToString(sum[:16])}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	_, _ = zw.Write(body)
	if zw.Close() == nil && gz.Len() < len(body)*9/10 {
		f.gzipped = gz.Bytes()
	}
	return f
}

// write sends f with its ETag (conditional and range requests included),
// gzipped when the client takes it, with its type; the caller has set its
// other headers.
func (f staticFile) write(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	body, etag := f.body, f.etag
	if f.gzipped != nil {
		h.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = f.gzipped, etag+"-gzip"
			h.Set("Content-Encoding", "gzip")
		}
	}
	h.Set("ETag", `"`+etag+`"`)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the request's Accept-Encoding takes gzip
// (and does not refuse it with q=0).
func acceptsGzip(r *http.Request) bool {
	for _, header := range r.Header.Values("Accept-Encoding") {
		for coding := range strings.SplitSeq(header, ",") {
			name, params, _ := strings.Cut(coding, ";")
			if !strings.EqualFold(strings.TrimSpace(name), "gzip") {
				continue
			}
			q := 1.0
			if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
				q, _ = strconv.ParseFloat(v, 64) // unreadable: taken as 0
			}
			return q > 0
		}
	}
	return false
}
