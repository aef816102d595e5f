//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// apiExample is one step of a worked example, as the API document carries
// it under an operation's x-kinbridge-examples (internal/openapigen/examples.yaml).
type apiExample struct {
	Story, Title, As, Call, Reason, Note string
	Step, Of, Status                     int
	Body                                 any
	Expect, Save                         map[string]string

	method, path string // the operation's, from the document
}

// TestAPIExamples runs every worked example of the API document a live
// gateway serves, story by story and step by step, each story on a child of
// its own: what /docs shows a developer is what the API does.
func TestAPIExamples(t *testing.T) {
	dataDir := t.TempDir()
	p := serve(t, dataDir, nil)
	key, err := auth.LoadKey(dataDir + "/keys/user.pem")
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{"admin": p.adminToken, "anyone": ""}
	for _, user := range []string{"teacher", "teacher2", "maria", "olga"} {
		if tokens[user], err = auth.NewUserIssuer(key).Issue(user, false, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	stories := servedExamples(t, "http://"+p.gateway)
	for _, name := range []string{"invitations", "discussion", "approval", "settings"} {
		if stories[name] == nil {
			t.Errorf("the document has no %q example", name)
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range stories {
			if !yield(k) {
				return
			}
		}
	}) {
		t.Run(name, func(t *testing.T) {
			vars := map[string]string{"child": exampleChild(t, p.gateway, tokens)}
			for _, s := range stories[name] {
				runExample(t, p.gateway, tokens[s.As], s, vars)
			}
		})
	}
}

// servedExamples reads the steps from /openapi.json and orders each story,
// checking none is missing.
func servedExamples(t *testing.T, base string) map[string][]apiExample {
	t.Helper()
	code, b, _ := httpDo(t, "GET", base+"/openapi.json", "", "", nil)
	if code != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", code)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	stories := map[string][]apiExample{}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				Examples []apiExample `json:"x-kinbridge-examples"`
			}
			if json.Unmarshal(raw, &op) != nil { // path-level parameters are a list
				continue
			}
			for _, s := range op.Examples {
				s.method, s.path = strings.ToUpper(method), path
				stories[s.Story] = append(stories[s.Story], s)
			}
		}
	}
	for name, steps := range stories {
		slices.SortFunc(steps, func(a, b apiExample) int { return a.Step - b.Step })
		for i, s := range steps {
			if s.Step != i+1 || s.Of != len(steps) {
				t.Fatalf("story %s: step %d of %d at position %d of %d", name, s.Step, s.Of, i+1, len(steps))
			}
		}
	}
	return stories
}

// exampleChild is the child a story starts from: teacher and teacher2
// contribute, maria is a guardian, olga nobody yet.
func exampleChild(t *testing.T, gateway string, tokens map[string]string) string {
	t.Helper()
	call := func(path, body string) []byte {
		code, b, _ := httpDo(t, "POST", "http://"+gateway+path, tokens["admin"], "application/json", strings.NewReader(body))
		if code != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, code, b)
		}
		return b
	}
	var child struct{ Name string }
	if err := json.Unmarshal(call("/v1/children", `{"displayName": "Ada"}`), &child); err != nil {
		t.Fatal(err)
	}
	for _, g := range [][2]string{{"teacher", "ROLE_CONTRIBUTOR"}, {"teacher2", "ROLE_CONTRIBUTOR"}, {"maria", "ROLE_GUARDIAN"}} {
		call("/v1/"+child.Name+"/guardians", fmt.Sprintf(`{"user": %q, "role": %q}`, g[0], g[1]))
	}
	return child.Name
}

var exampleVar = regexp.MustCompile(`\{([a-zA-Z0-9]+)\}`)

// runExample sends one step with the values saved so far and checks its
// answer against the step.
func runExample(t *testing.T, gateway, token string, s apiExample, vars map[string]string) {
	t.Helper()
	fill := func(text string) string {
		return exampleVar.ReplaceAllStringFunc(text, func(m string) string {
			v, ok := vars[m[1:len(m)-1]]
			if !ok {
				t.Fatalf("%s step %d: %s is not known yet", s.Story, s.Step, m)
			}
			return v
		})
	}
	method, target, _ := strings.Cut(s.Call, " ")
	target = fill(target)
	what := fmt.Sprintf("%s step %d (%s %s as %s)", s.Story, s.Step, method, target, s.As)
	// The call must be the operation it is filed under.
	if path, _, _ := strings.Cut(target, "?"); method != s.method || !pathMatches(s.path, path) {
		t.Fatalf("%s is filed under %s %s", what, s.method, s.path)
	}
	var body *strings.Reader
	if s.Body != nil {
		b, err := json.Marshal(s.Body)
		if err != nil {
			t.Fatal(err)
		}
		body = strings.NewReader(fill(string(b)))
	} else {
		body = strings.NewReader("")
	}
	code, b, _ := httpDo(t, method, "http://"+gateway+target, token, "application/json", body)
	if code != s.Status {
		t.Fatalf("%s: %d %s, want %d", what, code, b, s.Status)
	}
	var answer any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &answer); err != nil {
			t.Fatalf("%s: %v: %s", what, err, b)
		}
	}
	if s.Reason != "" {
		var refusal inviteRefusal
		_ = json.Unmarshal(b, &refusal)
		found := false
		for _, d := range refusal.Details {
			found = found || (strings.HasSuffix(d.Type, "google.rpc.ErrorInfo") && d.Reason == s.Reason)
		}
		if !found {
			t.Errorf("%s: no reason %s in %s", what, s.Reason, b)
		}
	}
	for field, want := range s.Expect {
		if got, ok := jsonField(answer, field); !ok || got != want {
			t.Errorf("%s: %s = %q, want %q (%s)", what, field, got, want, b)
		}
	}
	for name, field := range s.Save {
		got, ok := jsonField(answer, field)
		if !ok || got == "" {
			t.Fatalf("%s: no %s to save as {%s} in %s", what, field, name, b)
		}
		vars[name] = got
	}
}

// pathMatches reports whether a concrete path fits an OpenAPI path
// template, each {parameter} one segment.
func pathMatches(template, path string) bool {
	quoted := regexp.QuoteMeta(template) // {child} is \{child\} now
	re := quotedParam.ReplaceAllString(quoted, `[^/:]+`)
	return regexp.MustCompile("^" + re + "$").MatchString(path)
}

var quotedParam = regexp.MustCompile(`\\\{[a-zA-Z0-9]+\\\}`)

// jsonField reads a dotted path (comments.0.text) of a decoded JSON value
// as text: strings as they are, other values as JSON writes them.
func jsonField(v any, path string) (string, bool) {
	for _, part := range strings.Split(path, ".") {
		switch node := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = node[part]; !ok {
				return "", false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i < 0 || i >= len(node) {
				return "", false
			}
			v = node[i]
		default:
			return "", false
		}
	}
	if s, ok := v.(string); ok {
		return s, true
	}
	b, _ := json.Marshal(v)
	return string(b), true
}
