//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// readmeBlock returns the shell block that follows `<!-- e2e: NAME` in
// the README, so the README's examples are exactly what is tested.
func readmeBlock(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile("(?s)<!-- e2e: " + regexp.QuoteMeta(name) + "\\b[^>]*-->\\s*```sh\\n(.*?)```")
	m := re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("README has no block marked e2e: %s", name)
	}
	return string(m[1])
}

// asWritten adapts the README's commands to this run: the ports the
// process really bound, and the binaries built from the tree instead of
// `go run`. Nothing else of the text changes.
func (p *process) asWritten(script string) string {
	return strings.NewReplacer(
		"localhost:8080", p.gateway,
		"localhost:9101", p.progress,
		"go run ./cmd/kinbridge", bin,
		"go run github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4", grpcurl,
	).Replace(script)
}

// TestREADMEJourney runs the README's examples as written against
// `kinbridge serve all`: on the embedded defaults (what `make run` starts)
// and on PostgreSQL.
func TestREADMEJourney(t *testing.T) {
	backends := []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string { return nil }},
		{"postgres", func(t *testing.T) []string { return []string{"KINBRIDGE_PROGRESS_DB=" + testenv.Postgres(t)} }},
	}
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			dataDir := t.TempDir()
			env := append(b.env(t), "KINBRIDGE_DATA_DIR="+dataDir)
			p := serve(t, dataDir, env)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			// The quickstart exports the admin token itself, with `kinbridge
			// token issue --admin` finding the key through KINBRIDGE_DATA_DIR
			// as it finds make run's ./data: none may come from outside.
			env = append(env, "KINBRIDGE_TOKEN=")
			// The grpcurl block uses $CHILD and $MARIA from the quickstart,
			// as a reader's shell would have them.
			env = append(env, "KINBRIDGE_ADDR="+p.progress) // the CLI's default is make run's port
			script := p.asWritten(readmeBlock(t, "quickstart") + "\necho '--- progress'\n" + readmeBlock(t, "progress") +
				"\necho '--- media'\n" + readmeBlock(t, "media") + "\necho '--- cli'\n" + readmeBlock(t, "cli") + "\necho '--- grpcurl'\n" + readmeBlock(t, "grpcurl"))
			out := runScript(t, ctx, script, env)
			quick, rest, _ := strings.Cut(out, "--- progress")
			progress, rest, _ := strings.Cut(rest, "--- media")
			mediaOut, rest, _ := strings.Cut(rest, "--- cli")
			mediaLines := strings.Split(strings.TrimSpace(mediaOut), "\n")
			if len(mediaLines) != 5 || !strings.Contains(mediaLines[0], "/media/") || !strings.Contains(mediaLines[1], "Self-portrait") ||
				mediaLines[2] != "206 100" || mediaLines[3] != "415" || mediaLines[4] != "403" {
				t.Errorf("the media block's output is not what the README says:\n%s", mediaOut)
			}
			cli, grpc, _ := strings.Cut(rest, "--- grpcurl")
			checkProgressBlock(t, progress)
			for _, want := range []string{"Ada", "Book report", "Reading", "Math", "82.33", "-20.28", "Read a chapter book alone"} {
				if !strings.Contains(cli, want) {
					t.Errorf("the CLI block's output lacks %q:\n%s", want, cli)
				}
			}

			lines := strings.Split(strings.TrimSpace(quick), "\n")
			if len(lines) != 6 {
				t.Fatalf("want 6 output lines from the quickstart, got %d:\n%s", len(lines), quick)
			}
			checks := []struct{ what, line, want string }{
				{"the child's name", lines[0], "children/"},
				{"the guardianship", lines[1], `"role":"ROLE_GUARDIAN"`},
				{"the guardianship's status", lines[1], `} 200`},
				{"maria reads Ada", lines[2], `"displayName":"Ada"`},
				{"maria's status", lines[2], `} 200`},
				{"olga gets not found", lines[3], `"code":5`},
				{"olga's status", lines[3], `} 404`},
				{"the update with the current etag", lines[4], `"school":"River School"`},
				{"the stale etag", lines[5], `"code":10`},
				{"the stale etag's status", lines[5], `} 409`},
			}
			for _, c := range checks {
				if !strings.Contains(strings.ReplaceAll(c.line, `": "`, `":"`), c.want) {
					t.Errorf("%s: %s lacks %s", c.what, c.line, c.want)
				}
			}
			for _, want := range []string{
				"kinbridge.progress.v1.ProgressService", // listed by reflection
				`"displayName": "Ada"`,                  // GetChild over gRPC
				"PermissionDenied",                      // CheckAccess refused to a user token
				"for Kinbridge services only",
			} {
				if !strings.Contains(grpc, want) {
					t.Errorf("grpcurl output lacks %q:\n%s", want, grpc)
				}
			}
		})
	}
}

// checkProgressBlock checks the output of the README's progress block.
func checkProgressBlock(t *testing.T, out string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 8 {
		t.Fatalf("want 8 output lines from the progress block, got %d:\n%s", len(lines), out)
	}
	flat := func(s string) string { return strings.ReplaceAll(s, `": `, `":`) }
	checks := []struct{ what, line, want string }{
		{"teacher made a contributor", lines[0], "} 200"},
		{"points recorded", lines[1], `"percent":90`},
		{"letter recorded", lines[2], `"percent":87`},
		{"points recorded", lines[3], `"percent":70`},
		{"milestone recorded", lines[4], "} 200"},
		{"a page of two with a next page", lines[5], `"nextPageToken"`},
		{"the worked example", lines[6], `"latestPercent":70,"meanPercent":82.33,"trend":-20.28`},
		{"guardian cannot record", lines[7], "} 403"},
	}
	for _, c := range checks {
		if !strings.Contains(strings.ReplaceAll(flat(c.line), ", ", ","), c.want) {
			t.Errorf("%s: %s lacks %s", c.what, c.line, c.want)
		}
	}
}
