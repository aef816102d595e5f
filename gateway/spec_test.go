package gateway

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/gen/openapi"
)

// Every operation of the served spec reaches a handler of the gateway: no
// path or method in it is answered as a route that does not exist. (The
// services behind are down here, so the answers are errors of theirs or of
// the handlers' own checks, never a routing error.)
func TestEverySpecRouteIsServed(t *testing.T) {
	f := newFixture(t, time.Second, nil)
	var spec struct {
		Paths map[string]map[string]json.RawMessage
	}
	if err := json.Unmarshal(openapi.Spec, &spec); err != nil {
		t.Fatal(err)
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	n := 0
	for path, item := range spec.Paths {
		for method := range item {
			if method == "parameters" || method == "description" || method == "summary" {
				continue
			}
			n++
			url := f.srv.URL + param.ReplaceAllString(path, "a")
			req, _ := http.NewRequest(strings.ToUpper(method), url, nil)
			req.Header.Set("Authorization", "Bearer "+f.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusMethodNotAllowed || strings.Contains(string(body), "no route for") {
				t.Errorf("%s %s: %d %s", strings.ToUpper(method), path, resp.StatusCode, body)
			}
		}
	}
	if n < 45 {
		t.Fatalf("only %d operations in the spec", n)
	}
	// The check can fail: what the gateway does not serve is a routing error.
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{"GET", "/v1/children/a/nothing", http.StatusNotFound},
		{"PUT", "/v1/children", http.StatusMethodNotAllowed},
	} {
		req, _ := http.NewRequest(c.method, f.srv.URL+c.path, nil)
		req.Header.Set("Authorization", "Bearer "+f.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, resp.StatusCode, c.status)
		}
	}
}
