//go:build e2e

package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestTypeScriptClientRunsTheREADME makes the README's REST examples with
// the TypeScript client generated from the OpenAPI spec
// (client/typescript/test/readme.ts) against `kinbridge serve all`: tsc
// refuses a call the spec does not allow, and the script fails on an
// answer that is not what the README says.
func TestTypeScriptClientRunsTheREADME(t *testing.T) {
	dir := testenv.NPM(t, filepath.Join(repoRoot, "client", "typescript"))
	// The build goes inside the package, so node finds its node_modules.
	build, err := os.MkdirTemp(dir, ".build-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(build) })
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	tsc := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", "tsc"), "-p", "tsconfig.json", "--outDir", build)
	tsc.Dir = dir
	if out, err := tsc.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}

	dataDir := t.TempDir()
	p := serve(t, dataDir, []string{"KINBRIDGE_DATA_DIR=" + dataDir})
	script := exec.CommandContext(ctx, "node", filepath.Join(build, "test", "readme.js"))
	script.Dir = dir
	script.Env = append(os.Environ(),
		"KINBRIDGE_URL=http://"+p.gateway,
		"KINBRIDGE_TOKEN="+p.adminToken,
		"MARIA="+issueToken(t, dataDir, "maria"),
		"OLGA="+issueToken(t, dataDir, "olga"),
		"TEACHER="+issueToken(t, dataDir, "teacher"),
		"PHOTO="+filepath.Join(repoRoot, "services", "media", "ingest", "testdata", "gps.jpg"),
	)
	out, err := script.CombinedOutput()
	if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "README examples: ok") {
		t.Fatalf("the README's examples with the TypeScript client: %v\n%s", err, out)
	}
	t.Log(string(out))
}
