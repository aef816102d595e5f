// Package openapiv2 serves the merged OpenAPI v2 spec of every public
// Kinbridge service, generated next to this file by `make generate`.
// This file and gen/openapi/openapi.go are the hand-written ones under gen/.
package openapiv2

import _ "embed"

// Spec is the merged OpenAPI (Swagger 2.0) document, JSON.
//
//go:embed kinbridge.swagger.json
var Spec []byte
