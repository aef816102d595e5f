// Package openapi serves Kinbridge's OpenAPI 3 document, every public REST
// route in one spec, generated next to this file by `make generate`
// (internal/openapigen converts protoc-gen-openapiv2's output and adds the
// routes the gateway serves by hand). This file is hand-written.
package openapi

import _ "embed"

// Spec is the OpenAPI 3 document, JSON.
//
//go:embed kinbridge.openapi.json
var Spec []byte
