package gateway

import (
	"embed"
	"io/fs"
	"net/http"
	"sync"

	"github.com/kinbridge/kinbridge/gen/openapi"
)

// serveSpec serves the OpenAPI 3 document of every public REST route.
func serveSpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openapi.Spec)
}

// The docs page is Swagger UI (swagger-ui-dist, pinned in
// docs/package.json; scripts/swagger-ui.sh copies its files into
// docs/swagger-ui), embedded so that it works offline. docs/init.js starts
// it on the spec above: navigation, search, Authorize and try-it.
//
//go:embed docs/index.html docs/init.js docs/swagger-ui
var docsFS embed.FS

// docsCSP lets the page load only scripts and styles served from here (no
// inline ones) and talk only to this gateway (try-it). Swagger UI shows
// images, its own and those of responses, as data: and blob: URLs.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; " +
	"base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// docsFiles are the embedded files by their path under /docs/ ("" is the
// page itself), read when the docs are first asked for.
var docsFiles = sync.OnceValue(func() map[string]staticFile {
	files := map[string]staticFile{}
	err := fs.WalkDir(docsFS, "docs", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := docsFS.ReadFile(name)
		if err != nil {
			return err
		}
		key := name[len("docs/"):]
		if key == "index.html" {
			key = ""
		}
		// Swagger UI's script is 1.7 MB, about a third of that gzipped;
		// LICENSE and NOTICE have no extension.
		files[key] = newStaticFile(name, body, "text/plain; charset=utf-8")
		return nil
	})
	if err != nil {
		panic(err) // embedded at build time: cannot fail at run time
	}
	return files
})

// serveDocs serves the page at /docs and its files under /docs/.
func serveDocs(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	if r.URL.Path == "/docs/" {
		// The page's links are relative to /docs.
		http.Redirect(w, r, "/docs", http.StatusFound)
		return
	}
	f, ok := docsFiles()[name]
	if !ok {
		routingErrorHandler(r.Context(), nil, jsonMarshaler, w, r, http.StatusNotFound)
		return
	}
	h := w.Header()
	h.Set("Content-Security-Policy", docsCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	// Revalidated every time: the files' names do not change with them.
	h.Set("Cache-Control", "no-cache")
	f.write(w, r)
}
