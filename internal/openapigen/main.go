// Command openapigen writes Kinbridge's OpenAPI 3 document. `make generate`
// runs it after buf: it converts the OpenAPI 2 document protoc-gen-openapiv2
// made from the protos with kin-openapi, names path parameters for what
// they are, marks the fields the protos' validation rules require, describes
// errors once, and merges routes.yaml, the routes the gateway serves by hand
// (tus, media bytes, live feeds, health).
//
//	go run ./internal/openapigen -in gen/openapiv2/kinbridge.swagger.json -out gen/openapi/kinbridge.openapi.json
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
)

func main() {
	in := flag.String("in", "gen/openapiv2/kinbridge.swagger.json", "the OpenAPI 2 document protoc-gen-openapiv2 wrote")
	out := flag.String("out", "gen/openapi/kinbridge.openapi.json", "where to write the OpenAPI 3 document")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "openapigen:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	v2, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	doc, err := Convert(context.Background(), v2)
	if err != nil {
		return err
	}
	return os.WriteFile(out, doc, 0o644)
}
