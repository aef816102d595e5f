package main

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"
)

// routes.yaml holds what the protos cannot say: the routes the gateway
// serves by hand, the security schemes, and the error responses every
// operation refers to.
//
//go:embed routes.yaml
var routesYAML []byte

// Convert turns protoc-gen-openapiv2's document into the published OpenAPI 3
// document, indented JSON. The result is loaded again and validated, so
// every reference in it resolves.
func Convert(ctx context.Context, v2 []byte) ([]byte, error) {
	var raw map[string]any
	if err := json.Unmarshal(v2, &raw); err != nil {
		return nil, fmt.Errorf("reading the OpenAPI 2 document: %w", err)
	}
	messages, err := shortNames(raw)
	if err != nil {
		return nil, err
	}
	walkMaps(raw, titleToDescription)
	walkMaps(raw, hoistReadOnly)
	walkMaps(raw, jsonNamesInDescriptions(protoJSONNames()))
	var doc2 openapi2.T
	if err := remarshal(raw, &doc2); err != nil {
		return nil, err
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("converting to OpenAPI 3: %w", err)
	}
	routes, err := loadRoutes()
	if err != nil {
		return nil, err
	}
	if err := nameParameters(doc); err != nil {
		return nil, err
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				delete(op.RequestBody.Value.Extensions, "x-originalParamName") // kin-openapi's note of the OpenAPI 2 parameter
			}
			describe(op)
			referErrors(path, method, op)
		}
	}
	if err := markRequired(doc, messages); err != nil {
		return nil, err
	}
	describeStatus(doc)
	if err := addExamples(doc); err != nil {
		return nil, err
	}
	if err := merge(doc, routes); err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	out = append(out, '\n')
	// Loading it again resolves every $ref; Validate checks the result
	// against the OpenAPI 3.0 rules.
	check, err := openapi3.NewLoader().LoadFromData(out)
	if err != nil {
		return nil, fmt.Errorf("loading the result: %w", err)
	}
	if err := check.Validate(ctx); err != nil {
		return nil, fmt.Errorf("the result is not valid OpenAPI 3: %w", err)
	}
	return out, nil
}

// shortNames renames the definitions protoc-gen-openapiv2 named by their
// full proto names (openapi_naming_strategy=fqn) to their last part,
// kinbridge.progress.v1.Child to Child, and returns the full name of each.
// Two messages with the same short name are an error, not a silent rename.
func shortNames(raw map[string]any) (map[string]string, error) {
	defs, _ := raw["definitions"].(map[string]any)
	full := map[string]string{}
	renamed := map[string]any{}
	for _, fqn := range slices.Sorted(maps.Keys(defs)) {
		short := fqn[strings.LastIndex(fqn, ".")+1:]
		if other, ok := full[short]; ok {
			return nil, fmt.Errorf("%s and %s would both be named %s in the spec", other, fqn, short)
		}
		full[short] = fqn
		renamed[short] = defs[fqn]
	}
	raw["definitions"] = renamed
	walkMaps(raw, func(m map[string]any) {
		if ref, ok := m["$ref"].(string); ok {
			if fqn, ok := strings.CutPrefix(ref, "#/definitions/"); ok {
				m["$ref"] = "#/definitions/" + fqn[strings.LastIndex(fqn, ".")+1:]
			}
		}
	})
	return full, nil
}

// titleToDescription: protoc-gen-openapiv2 makes a comment without a final
// period a schema's title; it is the schema's description.
func titleToDescription(m map[string]any) {
	title, ok := m["title"].(string)
	if !ok {
		return
	}
	_, typed := m["type"]
	_, ref := m["$ref"]
	_, all := m["allOf"]
	if !typed && !ref && !all {
		return // info, not a schema
	}
	if _, has := m["description"]; !has {
		m["description"] = title
	}
	delete(m, "title")
}

// hoistReadOnly: protoc-gen-openapiv2 marks an output-only repeated message
// field's items readOnly, beside their $ref, where OpenAPI ignores it; it
// belongs to the array.
func hoistReadOnly(m map[string]any) {
	items, ok := m["items"].(map[string]any)
	if !ok {
		return
	}
	if ro, ok := items["readOnly"].(bool); ok && items["$ref"] != nil {
		m["readOnly"] = ro
		delete(items, "readOnly")
	}
}

func walkMaps(v any, f func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(v)
		for _, e := range v {
			walkMaps(e, f)
		}
	case []any:
		for _, e := range v {
			walkMaps(e, f)
		}
	}
}

func remarshal(from, to any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, to)
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// nameParameters names each path parameter for the resource it identifies:
// the singular of the collection before it, so
// /v1/children/{children}/assessments/{assessment} (as
// expand_slashed_path_patterns writes it) becomes
// /v1/children/{child}/assessments/{assessment}.
func nameParameters(doc *openapi3.T) error {
	for _, path := range doc.Paths.Keys() {
		item := doc.Paths.Value(path)
		segments := strings.Split(path, "/")
		renames := map[string]string{}
		for i, s := range segments {
			loc := pathParam.FindStringIndex(s)
			if loc == nil {
				continue
			}
			if i == 0 || pathParam.MatchString(segments[i-1]) {
				return fmt.Errorf("%s: a parameter that follows no collection cannot be named", path)
			}
			old := s[loc[0]+1 : loc[1]-1]
			name := singular(segments[i-1])
			renames[old] = name
			segments[i] = s[:loc[0]] + "{" + name + "}" + s[loc[1]:]
		}
		if len(renames) == 0 {
			continue
		}
		newPath := strings.Join(segments, "/")
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value == nil || p.Value.In != openapi3.ParameterInPath {
					continue
				}
				name, ok := renames[p.Value.Name]
				if !ok {
					return fmt.Errorf("%s: path parameter %q is not in the path", path, p.Value.Name)
				}
				p.Value.Name = name
				if p.Value.Description == "" {
					p.Value.Description = fmt.Sprintf("The %s's id: the last part of its name, `%s`.", name, resourcePattern(newPath, name))
				}
			}
		}
		doc.Paths.Delete(path)
		doc.Paths.Set(newPath, item)
	}
	return nil
}

// resourcePattern is the resource name pattern that ends with param:
// children/{child}/assessments/{assessment} for {assessment}.
func resourcePattern(path, param string) string {
	end := strings.Index(path, "{"+param+"}") + len(param) + 2
	return strings.TrimPrefix(path[:end], "/v1/")
}

// irregular are the collections whose singular is not their name less its "s".
var irregular = map[string]string{"children": "child", "media": "mediaItem"}

func singular(collection string) string {
	if s, ok := irregular[collection]; ok {
		return s
	}
	return strings.TrimSuffix(collection, "s")
}

// describe splits an operation's proto comment into a one-sentence summary
// and the whole comment as its description (protoc-gen-openapiv2 makes the
// first paragraph the summary, however long).
func describe(op *openapi3.Operation) {
	text := strings.TrimSpace(op.Summary)
	if op.Description != "" {
		text += "\n\n" + op.Description
	}
	first := text
	if i := strings.Index(text, ". "); i >= 0 {
		first = text[:i]
	}
	if i := strings.Index(first, ".\n"); i >= 0 {
		first = first[:i]
	}
	first = strings.TrimSuffix(strings.Join(strings.Fields(first), " "), ".")
	op.Summary = first
	op.Description = ""
	if strings.TrimSuffix(strings.Join(strings.Fields(text), " "), ".") != first {
		op.Description = text
	}
	for code, r := range op.Responses.Map() {
		if r.Value != nil && r.Value.Description != nil && strings.Contains(*r.Value.Description, "(streaming responses)") {
			if js := r.Value.Content.Get("application/json"); js != nil && js.Schema != nil && js.Schema.Value != nil {
				js.Schema.Value.Description = "One line of the stream."
			}
			r.Value.Description = openapi3.Ptr("A stream of JSON objects, one per line: each holds a message in `result`, or, last, the status the stream ended with in `error`.")
			op.Responses.Set(code, r)
		}
	}
}

// referErrors replaces protoc-gen-openapiv2's error response with
// references to the error responses of routes.yaml: each operation lists
// the statuses it can answer, described once.
func referErrors(path, method string, op *openapi3.Operation) {
	ref := func(code, name string) {
		op.Responses.Set(code, &openapi3.ResponseRef{Ref: "#/components/responses/" + name})
	}
	ref("default", "Error")
	ref("401", "Unauthenticated")
	ref("429", "TooManyRequests")
	ref("503", "Unavailable")
	if len(op.Parameters) > 0 || op.RequestBody != nil {
		ref("400", "BadRequest")
	}
	if strings.Contains(path, "{") {
		ref("404", "NotFound")
		ref("403", "PermissionDenied")
	}
	switch method {
	case http.MethodPost, http.MethodPatch, http.MethodDelete:
		ref("409", "Conflict")
		ref("403", "PermissionDenied")
	}
}

// describeStatus describes the error shape, whose messages come from
// googleapis without comments.
func describeStatus(doc *openapi3.T) {
	if st := doc.Components.Schemas["Status"]; st != nil && st.Value != nil {
		st.Value.Description = "Every error: a google.rpc.Status as JSON."
		describeProperty(st.Value, "code", "The gRPC status code (3 INVALID_ARGUMENT, 5 NOT_FOUND, 7 PERMISSION_DENIED, 10 ABORTED, 16 UNAUTHENTICATED, ...).")
		describeProperty(st.Value, "message", "What went wrong, for a developer.")
		describeProperty(st.Value, "details", "google.rpc detail messages, each with its `@type`: BadRequest (field violations, by JSON path), ErrorInfo (a reason such as RATE_LIMITED or TOO_MANY_FEEDS), RetryInfo, RequestInfo (the trace id).")
	}
	if a := doc.Components.Schemas["Any"]; a != nil && a.Value != nil {
		a.Value.Description = "A detail message: its type URL in `@type` (`type.googleapis.com/google.rpc.BadRequest`) and its fields."
	}
}

func describeProperty(s *openapi3.Schema, name, description string) {
	if p := s.Properties[name]; p != nil && p.Value != nil && p.Value.Description == "" {
		p.Value.Description = description
	}
}

// loadRoutes reads routes.yaml as an OpenAPI 3 document whose references
// resolve only once it is merged.
func loadRoutes() (*openapi3.T, error) {
	var v any
	if err := yaml.Unmarshal(routesYAML, &v); err != nil {
		return nil, fmt.Errorf("routes.yaml: %w", err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("routes.yaml: %w", err)
	}
	var routes openapi3.T
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&routes); err != nil {
		return nil, fmt.Errorf("routes.yaml: %w", err)
	}
	return &routes, nil
}

// merge adds routes.yaml to the generated document. Nothing may be defined
// twice: a hand-written route never hides a generated one.
func merge(doc, routes *openapi3.T) error {
	doc.Info.Description = routes.Info.Description
	doc.Servers = routes.Servers
	doc.Security = routes.Security
	for _, path := range routes.Paths.Keys() {
		if doc.Paths.Value(path) != nil {
			return fmt.Errorf("routes.yaml: %s is generated from the protos already", path)
		}
		doc.Paths.Set(path, routes.Paths.Value(path))
	}
	for _, t := range routes.Tags {
		if doc.Tags.Get(t.Name) != nil {
			return fmt.Errorf("routes.yaml: tag %s is generated from the protos already", t.Name)
		}
		doc.Tags = append(doc.Tags, t)
	}
	if doc.Components == nil {
		doc.Components = &openapi3.Components{}
	}
	c, rc := doc.Components, routes.Components
	if rc == nil {
		return errors.New("routes.yaml has no components")
	}
	if err := mergeMap(&c.Schemas, rc.Schemas, "schema"); err != nil {
		return err
	}
	if err := mergeMap(&c.Responses, rc.Responses, "response"); err != nil {
		return err
	}
	if err := mergeMap(&c.Parameters, rc.Parameters, "parameter"); err != nil {
		return err
	}
	if err := mergeMap(&c.Headers, rc.Headers, "header"); err != nil {
		return err
	}
	return mergeMap(&c.SecuritySchemes, rc.SecuritySchemes, "security scheme")
}

func mergeMap[M ~map[string]V, V any](dst *M, src M, what string) error {
	if *dst == nil {
		*dst = M{}
	}
	for k, v := range src {
		if _, ok := (*dst)[k]; ok {
			return fmt.Errorf("routes.yaml: %s %s is generated from the protos already", what, k)
		}
		(*dst)[k] = v
	}
	return nil
}
