//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSettingsJourney runs the README's settings block as written, then
// goes on over REST through the gateway: the etag, the e-mail refused by a
// server without SMTP, and the one public route.
func TestSettingsJourney(t *testing.T) {
	dataDir := t.TempDir()
	p := serve(t, dataDir, []string{"KINBRIDGE_DATA_DIR=" + dataDir})
	maria, olga := issueToken(t, dataDir, "maria"), issueToken(t, dataDir, "olga")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	out := runScript(t, ctx, p.asWritten(readmeBlock(t, "settings")), []string{"MARIA=" + maria, "OLGA=" + olga})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []struct {
		status   string
		contains []string
	}{
		{"200", []string{`"name":"users/maria/settings"`, `"timeZone":"UTC"`, `"emailState":"EMAIL_STATE_NONE"`}},
		{"200", []string{`"timeZone":"Europe/Lisbon"`, `"quietHours":{"start":"22:00","end":"07:00"}`}},
		{"400", []string{`"field":"settings.timeZone"`, `"field":"settings.quietHours.start"`}},
		{"404", nil},
		{"404", []string{"not known"}},
	}
	if len(lines) != len(want) {
		t.Fatalf("the README block printed %d lines, want %d:\n%s", len(lines), len(want), out)
	}
	// protojson puts a space after some commas and colons, differently in
	// each build: compare without them.
	flat := strings.NewReplacer(`": `, `":`, ", ", ",")
	for i, w := range want {
		lines[i] = flat.Replace(lines[i])
		if !strings.HasSuffix(lines[i], " "+w.status) {
			t.Errorf("line %d: %s; want status %s", i+1, lines[i], w.status)
		}
		// protojson varies its spacing on purpose: compare without spaces.
		compact := strings.ReplaceAll(lines[i], " ", "")
		for _, c := range w.contains {
			if !strings.Contains(compact, strings.ReplaceAll(c, " ", "")) {
				t.Errorf("line %d: %s; want it to contain %s", i+1, lines[i], c)
			}
		}
	}

	call := func(method, path, token, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+p.gateway+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		return resp.StatusCode, m
	}
	code, cur := call("GET", "/v1/users/me/settings", maria, "")
	if code != 200 || cur["etag"] == "" {
		t.Fatalf("get: %d %v", code, cur)
	}
	// A stale etag changes nothing; the current one passes.
	if code, _ := call("PATCH", "/v1/users/me/settings", maria, `{"timeZone": "Asia/Tokyo", "etag": "v1"}`); code != http.StatusConflict {
		t.Errorf("a stale etag: %d, want 409", code)
	}
	if code, got := call("PATCH", "/v1/users/me/settings", maria, `{"digestEnabled": true, "etag": "`+cur["etag"].(string)+`"}`); code != 200 ||
		got["digestEnabled"] != true || got["timeZone"] != "Europe/Lisbon" {
		t.Errorf("the current etag: %d %v", code, got)
	}
	// serve all here has no SMTP: an address is refused, plainly, and not kept.
	code, got := call("PATCH", "/v1/users/me/settings", maria, `{"email": "maria@example.com"}`)
	if code != http.StatusBadRequest || !strings.Contains(got["message"].(string), "e-mail is not configured on this server") {
		t.Errorf("an address without SMTP: %d %v", code, got)
	}
	if _, got := call("GET", "/v1/users/me/settings", maria, ""); got["email"] != nil {
		t.Errorf("a refused address was kept: %v", got)
	}
	// The public route ignores a token it is sent (a bad one does not make
	// it 401), and only POST on it is public.
	if code, _ := call("POST", "/v1/settings:confirmEmail", "not-a-token", `{"token": "x"}`); code != http.StatusNotFound {
		t.Errorf("confirm with a bad bearer token: %d, want 404 (the token in the body decides)", code)
	}
	if code, _ := call("POST", "/v1/settings:confirmEmail", "", `{"token": ""}`); code != http.StatusBadRequest {
		t.Errorf("confirm without a token: %d, want 400", code)
	}
	if code, _ := call("GET", "/v1/users/maria/settings", "", ""); code != http.StatusUnauthorized {
		t.Errorf("settings without sign-in: %d, want 401", code)
	}
}
