package gateway

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
)

// The family app (web/ builds it; cmd/kinbridge hands it over as
// Config.App) is a single page: index.html, hashed files under /assets/,
// and a few fixed files next to index.html (the icon). The gateway serves
// it at / and answers every browser navigation to one of the app's own
// routes (/children/abc/gallery, ...) with index.html, so the app's
// history-API router takes over on a reload or a shared link.

// appCSP lets the app run only scripts and styles served from here (it
// has no inline ones) and talk only to this gateway (REST, SSE, tus).
// Photos and video come from the gateway; blob: and data: cover previews
// of files about to be uploaded.
const appCSP = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; " +
	"manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// appReserved are the paths that belong to the gateway, not the app: a
// browser navigation there that no route answered gets the usual JSON
// 404, never the app's page.
var appReserved = []string{"/v1/", "/auth/", "/docs", "/openapi.json", "/healthz", "/readyz", "/assets/"}

// app holds the built files, read (and gzipped) once when the gateway
// starts: the app is a few hundred kilobytes.
type app struct {
	index staticFile
	files map[string]staticFile // by URL path, "/assets/index-abc.js"
}

// loadApp reads fsys, which must hold index.html.
func loadApp(fsys fs.FS) (*app, error) {
	a := &app{files: map[string]staticFile{}}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		f := newStaticFile(name, body, "application/octet-stream")
		if name == "index.html" {
			a.index = f
			return nil
		}
		a.files["/"+name] = f
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("app files: %w", err)
	}
	if a.index.body == nil {
		return nil, errors.New("app files: no index.html")
	}
	return a, nil
}

// mountApp adds the app's routes to root: with no app, / goes to the API
// docs as before and every other unrouted path is a JSON 404.
func mountApp(root *http.ServeMux, fsys fs.FS) error {
	notFound := func(w http.ResponseWriter, r *http.Request) {
		routingErrorHandler(r.Context(), nil, jsonMarshaler, w, r, http.StatusNotFound)
	}
	if fsys == nil {
		root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/docs", http.StatusFound) })
		root.HandleFunc("/", notFound)
		return nil
	}
	a, err := loadApp(fsys)
	if err != nil {
		return err
	}
	// The app's root is its page whatever the Accept header says.
	root.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { a.serve(w, r, a.index, false) })
	root.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			notFound(w, r)
			return
		}
		if f, ok := a.files[r.URL.Path]; ok {
			a.serve(w, r, f, strings.HasPrefix(r.URL.Path, "/assets/"))
			return
		}
		if appRoute(r) {
			a.serve(w, r, a.index, false)
			return
		}
		notFound(w, r)
	})
	return nil
}

// appRoute reports whether r is a browser navigation to one of the app's
// routes: not a path of the gateway's own, and asking for HTML (a script's
// fetch of a mistyped API path still gets JSON).
func appRoute(r *http.Request) bool {
	for _, p := range appReserved {
		if strings.HasPrefix(r.URL.Path, p) {
			return false
		}
	}
	for _, header := range r.Header.Values("Accept") {
		for media := range strings.SplitSeq(header, ",") {
			name, _, _ := strings.Cut(media, ";")
			if strings.EqualFold(strings.TrimSpace(name), "text/html") {
				return true
			}
		}
	}
	return false
}

// serve writes f: hashed files (immutable) may be cached for a year, since
// a new build names them anew; anything else is revalidated each time, so
// a new build reaches browsers on their next load.
func (a *app) serve(w http.ResponseWriter, r *http.Request, f staticFile, immutable bool) {
	h := w.Header()
	h.Set("Content-Security-Policy", appCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	// For browsers that do not know CSP's frame-ancestors: no framing of
	// the app by another site (clickjacking a signed-in family).
	h.Set("X-Frame-Options", "DENY")
	if immutable {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	f.write(w, r)
}
