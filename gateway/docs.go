package gateway

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/kinbridge/kinbridge/gen/openapi"
	"github.com/kinbridge/kinbridge/gen/openapiv2"
)

// serveSpec serves the OpenAPI 3 document of every public REST route.
func serveSpec(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(openapi.Spec)
}

// The docs page is rendered on the server from the OpenAPI 2 document
// the OpenAPI 3 one is converted from (the generated routes only): it
// works offline, with no script or stylesheet from elsewhere.

type specDoc struct {
	Info struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths       map[string]map[string]specOperation `json:"paths"`
	Definitions map[string]specSchema               `json:"definitions"`
}

type specOperation struct {
	Summary     string   `json:"summary"`
	Description string   `json:"description"`
	OperationID string   `json:"operationId"`
	Tags        []string `json:"tags"`
	Parameters  []struct {
		Name        string      `json:"name"`
		In          string      `json:"in"`
		Required    bool        `json:"required"`
		Type        string      `json:"type"`
		Description string      `json:"description"`
		Schema      *specSchema `json:"schema"`
	} `json:"parameters"`
	Responses map[string]struct {
		Description string      `json:"description"`
		Schema      *specSchema `json:"schema"`
	} `json:"responses"`
}

type specSchema struct {
	Ref         string                `json:"$ref"`
	Type        string                `json:"type"`
	Format      string                `json:"format"`
	Description string                `json:"description"`
	Title       string                `json:"title"`
	ReadOnly    bool                  `json:"readOnly"`
	Enum        []string              `json:"enum"`
	Items       *specSchema           `json:"items"`
	Properties  map[string]specSchema `json:"properties"`
}

// TypeName is how a schema reads in the docs: a definition's name or a type.
func (s specSchema) TypeName() string {
	switch {
	case s.Ref != "":
		return strings.TrimPrefix(s.Ref, "#/definitions/")
	case s.Type == "array" && s.Items != nil:
		return s.Items.TypeName() + "[]"
	case s.Format != "":
		return s.Type + " (" + s.Format + ")"
	}
	return s.Type
}

type docOperation struct {
	Method, Path string
	specOperation
}

type docPage struct {
	Spec       specDoc
	Operations map[string][]docOperation // by tag
	Schemas    []string
}

var docsPage = sync.OnceValues(func() ([]byte, error) {
	var spec specDoc
	if err := json.Unmarshal(openapiv2.Spec, &spec); err != nil {
		return nil, err
	}
	page := docPage{Spec: spec, Operations: map[string][]docOperation{}}
	for path, methods := range spec.Paths {
		for method, op := range methods {
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			page.Operations[tag] = append(page.Operations[tag], docOperation{strings.ToUpper(method), path, op})
		}
	}
	for _, ops := range page.Operations {
		sort.Slice(ops, func(i, j int) bool { return ops[i].OperationID < ops[j].OperationID })
	}
	for name := range spec.Definitions {
		page.Schemas = append(page.Schemas, name)
	}
	sort.Strings(page.Schemas)
	var buf bytes.Buffer
	err := docsTemplate.Execute(&buf, page)
	return buf.Bytes(), err
})

func serveDocs(w http.ResponseWriter, r *http.Request) {
	page, err := docsPage()
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(page)
}

var docsTemplate = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Spec.Info.Title}} {{.Spec.Info.Version}}</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:.2rem} h2{border-bottom:1px solid #ddd;margin-top:2.5rem}
.op{border:1px solid #e3e3e3;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.GET{color:#1a7f37}.POST{color:#0969da}.PATCH{color:#9a6700}.DELETE{color:#cf222e}.PUT{color:#8250df}
code,.path{font-family:ui-monospace,monospace} table{border-collapse:collapse;width:100%;margin:.4rem 0}
td,th{border-bottom:1px solid #eee;text-align:left;padding:.2rem .5rem;vertical-align:top}
pre{white-space:pre-wrap;margin:.3rem 0} .ro{color:#777;font-size:85%}
</style></head><body>
<h1>{{.Spec.Info.Title}} <small>{{.Spec.Info.Version}}</small></h1>
<p>{{.Spec.Info.Description}}</p>
<p>Machine-readable spec: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3).</p>
{{range .Spec.Tags}}{{$ops := index $.Operations .Name}}
<h2 id="{{.Name}}">{{.Name}}</h2><pre>{{.Description}}</pre>
{{range $ops}}<div class="op" id="{{.OperationID}}">
<div><span class="m {{.Method}}">{{.Method}}</span> <span class="path">{{.Path}}</span> <small>({{.OperationID}})</small></div>
<pre>{{.Summary}}{{if .Description}}
{{.Description}}{{end}}</pre>
{{if .Parameters}}<table><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr>
{{range .Parameters}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{if .Schema}}<a href="#{{.Schema.TypeName}}">{{.Schema.TypeName}}</a>{{else}}{{.Type}}{{end}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
{{range $code, $r := .Responses}}{{if and (eq $code "200") $r.Schema}}<div>Returns <a href="#{{$r.Schema.TypeName}}">{{$r.Schema.TypeName}}</a>.</div>{{end}}{{end}}
</div>{{end}}{{end}}
<h2>Schemas</h2>
{{range .Schemas}}{{$s := index $.Spec.Definitions .}}<div class="op" id="{{.}}"><b>{{.}}</b>
<pre>{{$s.Description}}{{$s.Title}}</pre>
{{if $s.Enum}}<div>One of: {{range $s.Enum}}<code>{{.}}</code> {{end}}</div>{{end}}
{{if $s.Properties}}<table>{{range $name, $p := $s.Properties}}<tr><td><code>{{$name}}</code>{{if $p.ReadOnly}} <span class="ro">read-only</span>{{end}}</td><td>{{$p.TypeName}}</td><td>{{$p.Description}}{{$p.Title}}</td></tr>{{end}}</table>{{end}}
</div>{{end}}
</body></html>
`))
