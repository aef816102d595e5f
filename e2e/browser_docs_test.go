//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// docsResult is what e2e/clients/docs.mjs prints.
type docsResult struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Without struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"without"`
	With struct {
		Status int    `json:"status"`
		Body   string `json:"body"`
	} `json:"with"`
	Requests []struct {
		Method        string `json:"method"`
		URL           string `json:"url"`
		Authorization string `json:"authorization"`
	} `json:"requests"`
	CSPViolations []string `json:"cspViolations"`
}

// TestDocsPageTriesARoute uses /docs in headless Chromium as a developer
// would: Swagger UI loads from the gateway alone (no other host, nothing
// refused by the page's Content-Security-Policy); "Try it out" on
// ListChildren answers 401 without a token, and 200 with the child once
// the token is entered in the Authorize dialog, sent as a bearer token.
func TestDocsPageTriesARoute(t *testing.T) {
	chromium := needChromium(t)
	dir := nodeClients(t)
	p := serve(t, t.TempDir(), nil)
	code, body := apiCall(t, p.gateway, "POST", "/v1/children", p.adminToken, "application/json", []byte(`{"displayName": "Ada"}`))
	var child struct {
		Name string `json:"name"`
	}
	if err := json.Unmarshal(body, &child); code != http.StatusOK || err != nil || child.Name == "" {
		t.Fatalf("creating a child: %d %s", code, body)
	}

	timeout := 90 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	gateway := "http://" + p.gateway
	cmd := exec.CommandContext(ctx, "node", "docs.mjs", chromium, gateway, "ProgressService", "ProgressService_ListChildren",
		strconv.FormatInt(timeout.Milliseconds(), 10))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KINBRIDGE_TOKEN="+p.adminToken)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	printed := strings.ReplaceAll(stdout.String()+stderr.String(), p.adminToken, "<token>")
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var res docsResult
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil || runErr != nil || res.Kind != "result" {
		t.Fatalf("docs.mjs: %v; it printed:\n%s", runErr, printed)
	}
	t.Logf("docs.mjs printed:\n%s", printed)

	if res.Without.Status != http.StatusUnauthorized || !strings.Contains(res.Without.Body, "bearer token") {
		t.Errorf("try-it without a token: %d %s, want 401", res.Without.Status, res.Without.Body)
	}
	if res.With.Status != http.StatusOK || !strings.Contains(res.With.Body, child.Name) {
		t.Errorf("try-it with the token: %d %s, want 200 listing %s", res.With.Status, res.With.Body, child.Name)
	}
	if len(res.CSPViolations) > 0 {
		t.Errorf("the page's Content-Security-Policy refused: %v", res.CSPViolations)
	}
	// Everything came from the gateway; the API was called twice, first
	// with no Authorization, then with the bearer token.
	var calls []string
	for _, r := range res.Requests {
		if !strings.HasPrefix(r.URL, gateway+"/") {
			t.Errorf("the page asked another host: %s %s", r.Method, r.URL)
		}
		if r.URL == gateway+"/v1/children" {
			calls = append(calls, r.Authorization)
		}
	}
	if strings.Join(calls, ",") != "none,bearer" {
		t.Errorf("GET /v1/children went out with Authorization %v, want none then the bearer token", calls)
	}
}
