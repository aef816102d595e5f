package main

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2/options"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/kinbridge/kinbridge/gen/openapi"
)

// published is the committed spec (`make check-generated` keeps it equal
// to what Convert makes of the committed OpenAPI 2 document).
func published(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(openapi.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestSpecIsValidOpenAPI3(t *testing.T) {
	if err := published(t).Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConvertReproducesTheCommittedSpec(t *testing.T) {
	v2, err := os.ReadFile("../../gen/openapiv2/kinbridge.swagger.json")
	if err != nil {
		t.Fatal(err)
	}
	got, err := Convert(context.Background(), v2)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(openapi.Spec) {
		t.Fatal("gen/openapi/kinbridge.openapi.json is not what the converter makes: run make generate")
	}
}

var anyParam = regexp.MustCompile(`\{[^}]*\}`)

// Two path keys that differ only in their parameters' names are one route
// to a client, which cannot tell which was meant.
func TestNoTwoPathsDifferOnlyInParameterNames(t *testing.T) {
	seen := map[string]string{}
	for _, path := range published(t).Paths.Keys() {
		shape := anyParam.ReplaceAllString(path, "{}")
		if other, ok := seen[shape]; ok {
			t.Errorf("%s and %s are the same route", other, path)
		}
		seen[shape] = path
	}
}

// Each path parameter is named for the resource it identifies: the
// singular of the collection before it, never a field path (name,
// parent, child.name) or a generated name (name_1).
func TestPathParametersAreNamedForTheirResource(t *testing.T) {
	for _, path := range published(t).Paths.Keys() {
		segments := strings.Split(path, "/")
		for i, s := range segments {
			m := anyParam.FindString(s)
			if m == "" {
				continue
			}
			want := "{" + singular(segments[i-1]) + "}"
			if path == "/v1/uploads/{upload}" {
				want = "{upload}"
			}
			if m != want {
				t.Errorf("%s: parameter %s, want %s", path, m, want)
			}
		}
	}
}

// Every route the public protos declare is in the spec, with its method.
func TestEveryProtoRouteIsInTheSpec(t *testing.T) {
	doc := published(t)
	shapes := map[string]*openapi3.PathItem{}
	for _, path := range doc.Paths.Keys() {
		shapes[anyParam.ReplaceAllString(path, "{}")] = doc.Paths.Value(path)
	}
	n := 0
	forEachMethod(func(m protoreflect.MethodDescriptor, rule *annotations.HttpRule) {
		method, pattern := httpRule(rule)
		shape := expand(pattern)
		item := shapes[shape]
		if item == nil || item.GetOperation(method) == nil {
			t.Errorf("%s: %s %s (%s) is not in the spec", m.FullName(), method, pattern, shape)
		}
		n++
	})
	if n < 30 {
		t.Fatalf("found only %d routes in the protos", n)
	}
}

// expand writes a google.api.http pattern as the spec's path shape:
// /v1/{name=children/*/media/*}:content is /v1/children/{}/media/{}:content.
func expand(pattern string) string {
	return regexp.MustCompile(`\{[^}=]*(=([^}]*))?\}`).ReplaceAllStringFunc(pattern, func(v string) string {
		_, tmpl, ok := strings.Cut(strings.Trim(v, "{}"), "=")
		if !ok {
			return "{}"
		}
		return strings.ReplaceAll(tmpl, "*", "{}")
	})
}

func httpRule(rule *annotations.HttpRule) (string, string) {
	switch p := rule.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		return http.MethodGet, p.Get
	case *annotations.HttpRule_Post:
		return http.MethodPost, p.Post
	case *annotations.HttpRule_Patch:
		return http.MethodPatch, p.Patch
	case *annotations.HttpRule_Put:
		return http.MethodPut, p.Put
	case *annotations.HttpRule_Delete:
		return http.MethodDelete, p.Delete
	}
	return "", ""
}

func forEachMethod(f func(protoreflect.MethodDescriptor, *annotations.HttpRule)) {
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kinbridge.") || strings.Contains(string(fd.Package()), ".peer.") {
			return true
		}
		for i := range fd.Services().Len() {
			methods := fd.Services().Get(i).Methods()
			for j := range methods.Len() {
				if rule, _ := proto.GetExtension(methods.Get(j).Options(), annotations.E_Http).(*annotations.HttpRule); rule != nil {
					f(methods.Get(j), rule)
				}
			}
		}
		return true
	})
}

// Every operation has an id, a tag, a summary, a success answer and an
// answer for errors, and the errors are references to the responses
// described once.
func TestOperationsReadWell(t *testing.T) {
	doc := published(t)
	ids := map[string]bool{}
	for _, path := range doc.Paths.Keys() {
		for method, op := range doc.Paths.Value(path).Operations() {
			where := method + " " + path
			if op.OperationID == "" || ids[op.OperationID] {
				t.Errorf("%s: operationId %q is empty or not unique", where, op.OperationID)
			}
			ids[op.OperationID] = true
			if len(op.Tags) != 1 || doc.Tags.Get(op.Tags[0]) == nil {
				t.Errorf("%s: tags %v, want one declared tag", where, op.Tags)
			}
			if op.Summary == "" || strings.Contains(op.Summary, "\n") {
				t.Errorf("%s: summary %q, want one line", where, op.Summary)
			}
			for code, r := range op.Responses.Map() {
				if js := r.Value.Content["application/json"]; r.Ref == "" && js != nil && js.Schema.Ref == "#/components/schemas/Status" {
					t.Errorf("%s: the JSON error %s is described in place, not referred to", where, code)
				}
			}
		}
	}
}

// The bearer scheme applies to every route but those a user reaches before
// having a token (health, this document, tus discovery).
func TestBearerSecurity(t *testing.T) {
	doc := published(t)
	scheme := doc.Components.SecuritySchemes["bearer"]
	if scheme == nil || scheme.Value.Type != "http" || scheme.Value.Scheme != "bearer" {
		t.Fatalf("bearer scheme: %+v", scheme)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearer"] == nil {
		t.Fatalf("global security: %v", doc.Security)
	}
	public := map[string]bool{"/healthz": true, "/readyz": true, "/openapi.json": true, "/docs": true}
	for _, path := range doc.Paths.Keys() {
		for method, op := range doc.Paths.Value(path).Operations() {
			open := op.Security != nil && len(*op.Security) == 0
			if open != (public[path] || method == http.MethodOptions) {
				t.Errorf("%s %s: open to anyone: %v", method, path, open)
			}
		}
	}
}

// A field the protos mark output-only is readOnly in its schema, and only
// those; a field the validation rules require in every message is required.
func TestFieldBehaviourFollowsTheProtos(t *testing.T) {
	doc := published(t)
	checked := 0
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		if !strings.HasPrefix(string(fd.Package()), "kinbridge.") || strings.Contains(string(fd.Package()), ".peer.") {
			return true
		}
		for i := range fd.Messages().Len() {
			md := fd.Messages().Get(i)
			schema := doc.Components.Schemas[string(md.Name())]
			if schema == nil {
				continue // a request message: its fields are parameters
			}
			for j := range md.Fields().Len() {
				f := md.Fields().Get(j)
				prop := schema.Value.Properties[f.JSONName()]
				if prop == nil {
					t.Errorf("%s: no property %s", md.Name(), f.JSONName())
					continue
				}
				opts, _ := proto.GetExtension(f.Options(), options.E_Openapiv2Field).(*options.JSONSchema)
				if readOnly := prop.Value.ReadOnly; readOnly != opts.GetReadOnly() {
					t.Errorf("%s.%s: readOnly %v, proto says %v", md.Name(), f.JSONName(), readOnly, opts.GetReadOnly())
				}
				required := false
				for _, r := range schema.Value.Required {
					required = required || r == f.JSONName()
				}
				if alwaysRequired(f) && !required {
					t.Errorf("%s.%s: the rules require it, the schema does not", md.Name(), f.JSONName())
				}
				checked++
			}
		}
		return true
	})
	if checked < 50 {
		t.Fatalf("checked only %d fields", checked)
	}
}

// What a create method's rules require is required in the schema it
// creates: displayName for a child, subject, title, kind and assessedDate
// for an assessment.
func TestCreateRequirementsAreRequired(t *testing.T) {
	doc := published(t)
	want := map[string][]string{
		"Child":      {"displayName"},
		"Assessment": {"assessedDate", "kind", "subject", "title"},
		"Milestone":  {"achievedDate", "title"},
	}
	for name, fields := range want {
		got := doc.Components.Schemas[name].Value.Required
		if strings.Join(got, ",") != strings.Join(fields, ",") {
			t.Errorf("%s requires %v, want %v", name, got, fields)
		}
	}
}

func TestNonZeroFields(t *testing.T) {
	env, err := createEnv()
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]string{
		"this.a != '' && this.b != 0 && (this.c != 0.0 && this.d != false)": "a,b,c,d",
		"this.a != ''":                     "a",
		"this.a != '' || this.b != ''":     "", // either, so neither is required
		"this.a != 'x'":                    "", // not about presence
		"this.a.matches('^[0-9]+$')":       "",
		"this.a != '' && size(this.b) > 2": "",
		"other.a != ''":                    "",
	} {
		names, err := nonZeroFields(env, expr)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names, ","); got != want {
			t.Errorf("%s: %q, want %q", expr, got, want)
		}
	}
}
