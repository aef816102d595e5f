//go:build cluster

package cluster

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the shell block that follows `<!-- e2e: NAME` in the
// README (as e2e/readme_test.go reads it), so the journeys run here are
// the README's as written.
func readmeBlock(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)<!-- e2e: " + regexp.QuoteMeta(name) + "\\b[^>]*-->\\s*```sh\\n(.*?)```").FindSubmatch(b)
	if m == nil {
		t.Fatalf("README has no block marked e2e: %s", name)
	}
	return string(m[1])
}

// readmeJourney runs the README's quickstart, progress, media and cli
// blocks in one shell on the client host: the quickstart and media blocks
// through gateway first, the progress block through the other one, and the
// cli block over gRPC against both progress instances (--addr is a list).
// It checks each answer's status and the worked example's numbers. All of
// it goes over TLS: localhost:8080 becomes a gateway's https URL, and the
// CLI calls progress over mutual TLS.
func readmeJourney(t *testing.T, ctx context.Context, c *Cluster, root string, first, second string) {
	t.Helper()
	through := func(gateway, block string) string {
		return strings.NewReplacer("localhost:8080", gateway, "go run ./cmd/kinbridge", c.Binary()).
			Replace(readmeBlock(t, root, block))
	}
	script := through(first, "quickstart") + "\necho '--- progress'\n" + through(second, "progress") +
		"\necho '--- media'\n" + through(first, "media") + "\necho '--- cli'\n" + through(first, "cli")
	cmd := c.Command(ctx, "bash", "-euo", "pipefail", "-c", script)
	// Over TLS: curl trusts the cluster's CA (CURL_CA_BUNDLE), the CLI too
	// and presents the client certificate (KINBRIDGE_TLS_*).
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "KINBRIDGE_DATA_DIR=" + c.KeysDir(),
		"KINBRIDGE_TOKEN=", "KINBRIDGE_ADDR=" + c.ProgressAddrs()}, c.ClientEnv()...)
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("README journey (%s, %s): %v\n%s", first, second, err, out)
	}
	quick, rest, _ := strings.Cut(out, "--- progress")
	progress, rest, _ := strings.Cut(rest, "--- media")
	media, cli, _ := strings.Cut(rest, "--- cli")
	flat := func(s string) string { return strings.ReplaceAll(strings.ReplaceAll(s, `": `, `":`), ", ", ",") }
	expect := func(block, out string, wants ...string) {
		t.Helper()
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != len(wants) {
			t.Errorf("%s block through %s: want %d lines, got %d:\n%s", block, first, len(wants), len(lines), out)
			return
		}
		for i, want := range wants {
			if !strings.Contains(flat(lines[i]), want) {
				t.Errorf("%s block, line %d: %q lacks %q", block, i+1, lines[i], want)
			}
		}
	}
	expect("quickstart", quick, "children/", "} 200", `"displayName":"Ada"`, "} 404", `"school":"River School"`, "} 409")
	expect("progress", progress, "} 200", `"percent":90`, `"percent":87`, `"percent":70`, "} 200", `"nextPageToken"`,
		`"latestPercent":70,"meanPercent":82.33,"trend":-20.28`, "} 403")
	expect("media", media, "/media/", "Self-portrait", "206 100", "415", "403")
	for _, want := range []string{"Ada", "Book report", "Reading", "Math", "82.33"} {
		if !strings.Contains(cli, want) {
			t.Errorf("cli block lacks %q:\n%s", want, cli)
		}
	}
}
