package main

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"
)

// examples.yaml holds a worked example per feature, as stories of requests;
// e2e TestAPIExamples runs them from the served document.
//
//go:embed examples.yaml
var examplesYAML []byte

// ExamplesExtension is the operation extension each example step is filed
// under, as JSON (exampleStep), for the test that runs them.
const ExamplesExtension = "x-kinbridge-examples"

type exampleStory struct {
	Name  string        `yaml:"name"`
	Title string        `yaml:"title"`
	Steps []exampleStep `yaml:"steps"`
}

// exampleStep is one request of a story, as examples.yaml writes it and as
// the document carries it.
type exampleStep struct {
	Story     string            `yaml:"-" json:"story"`
	Title     string            `yaml:"-" json:"title"`
	Step      int               `yaml:"-" json:"step"`
	Of        int               `yaml:"-" json:"of"`
	Operation string            `yaml:"operation" json:"-"`
	As        string            `yaml:"as" json:"as"`
	Call      string            `yaml:"call" json:"call"`
	Body      any               `yaml:"body" json:"body,omitempty"`
	Status    int               `yaml:"status" json:"status"`
	Reason    string            `yaml:"reason" json:"reason,omitempty"`
	Expect    map[string]string `yaml:"expect" json:"expect,omitempty"`
	Save      map[string]string `yaml:"save" json:"save,omitempty"`
	Note      string            `yaml:"note" json:"note,omitempty"`
}

var exampleCallers = map[string]bool{"admin": true, "teacher": true, "teacher2": true, "maria": true, "olga": true, "anyone": true}

// addExamples files every step of examples.yaml under its operation: a
// paragraph of its description, a request example, and the extension.
func addExamples(doc *openapi3.T) error {
	var file struct {
		Stories []exampleStory `yaml:"stories"`
	}
	dec := yaml.NewDecoder(strings.NewReader(string(examplesYAML)))
	dec.KnownFields(true)
	if err := dec.Decode(&file); err != nil {
		return fmt.Errorf("examples.yaml: %w", err)
	}
	ops := map[string]*openapi3.Operation{}
	methods := map[string]string{}
	for _, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			ops[op.OperationID], methods[op.OperationID] = op, method
		}
	}
	for _, story := range file.Stories {
		for i := range story.Steps {
			s := &story.Steps[i]
			s.Story, s.Title, s.Step, s.Of = story.Name, story.Title, i+1, len(story.Steps)
			where := fmt.Sprintf("examples.yaml: %s step %d", story.Name, s.Step)
			op := ops[s.Operation]
			if op == nil {
				return fmt.Errorf("%s: no operation %q", where, s.Operation)
			}
			method, _, ok := strings.Cut(s.Call, " ")
			if !ok || method != methods[s.Operation] {
				return fmt.Errorf("%s: call %q is not a %s, as %s is", where, s.Call, methods[s.Operation], s.Operation)
			}
			if !exampleCallers[s.As] || s.Status == 0 {
				return fmt.Errorf("%s: needs a caller (as) of %v and a status", where, exampleCallers)
			}
			if err := fileExample(op, *s); err != nil {
				return fmt.Errorf("%s: %w", where, err)
			}
		}
	}
	return nil
}

func fileExample(op *openapi3.Operation, s exampleStep) error {
	var steps []exampleStep
	if prev, ok := op.Extensions[ExamplesExtension]; ok {
		steps = prev.([]exampleStep)
	}
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions[ExamplesExtension] = append(steps, s)

	var text strings.Builder
	fmt.Fprintf(&text, "\n\n**Example: %s** (step %d of %d, as %s)\n\n    %s\n", s.Title, s.Step, s.Of, s.As, s.Call)
	if s.Body != nil {
		b, err := json.Marshal(s.Body)
		if err != nil {
			return err
		}
		fmt.Fprintf(&text, "    %s\n", b)
		if op.RequestBody == nil || op.RequestBody.Value == nil || op.RequestBody.Value.Content.Get("application/json") == nil {
			return fmt.Errorf("%s takes no JSON body", op.OperationID)
		}
		mt := op.RequestBody.Value.Content.Get("application/json")
		if mt.Examples == nil {
			mt.Examples = openapi3.Examples{}
		}
		mt.Examples[fmt.Sprintf("%s-%d", s.Story, s.Step)] = &openapi3.ExampleRef{Value: &openapi3.Example{
			Summary: fmt.Sprintf("%s, step %d", s.Title, s.Step), Value: s.Body,
		}}
	}
	fmt.Fprintf(&text, "\nanswers %d %s", s.Status, http.StatusText(s.Status))
	if s.Reason != "" {
		fmt.Fprintf(&text, " with the reason `%s`", s.Reason)
	}
	text.WriteString(".")
	if s.Note != "" {
		text.WriteString(" " + s.Note)
	}
	if len(s.Save) > 0 {
		var kept []string
		for _, name := range slices.Sorted(maps.Keys(s.Save)) {
			kept = append(kept, fmt.Sprintf("`{%s}` is its answer's `%s`", name, s.Save[name]))
		}
		fmt.Fprintf(&text, " In the next steps, %s.", strings.Join(kept, ", "))
	}
	if op.Description == "" {
		op.Description = op.Summary + "."
	}
	op.Description += text.String()
	return nil
}
