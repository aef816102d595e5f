// Package web holds the family app: its sources (src/, built with the npm
// packages pinned in package-lock.json by `make web`) and the built files
// in dist/, committed and embedded so that building the binary needs only
// Go. cmd/kinbridge hands Dist to the gateway, which serves it at /.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist is the built app: index.html at its root, hashed files under
// assets/.
var Dist fs.FS = func() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot fail
	}
	return sub
}()
