// Package typescript_test checks the OpenAPI 3 spec with a pinned linter and
// the TypeScript client generated from it, with the node tools pinned in
// package-lock.json. Without node they skip, unless KINBRIDGE_TEST_REQUIRE
// names "node" (as CI does).
package typescript_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// run runs one of the package's node tools in dir and returns what it
// printed; it fails the test when the tool fails.
func run(t *testing.T, dir string, tool string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(dir, "node_modules", ".bin", tool), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "REDOCLY_TELEMETRY=off", "REDOCLY_SUPPRESS_UPDATE_NOTICE=true")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", tool, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// node runs one of the package's scripts.
func node(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The spec passes Redocly's recommended rules with no error (redocly exits
// non-zero on any).
func TestSpecLintsClean(t *testing.T) {
	dir := testenv.NPM(t, ".")
	out := run(t, dir, "redocly", "lint", "--format=stylish", "../../gen/openapi/kinbridge.openapi.json")
	if strings.Contains(out, " error ") {
		t.Fatalf("redocly reports errors:\n%s", out)
	}
	t.Log(out)
}

// src/schema.ts is what openapi-typescript makes of the committed spec.
func TestTypesAreCurrent(t *testing.T) {
	dir := testenv.NPM(t, ".")
	fresh := filepath.Join(t.TempDir(), "schema.ts")
	node(t, dir, "generate.mjs", fresh)
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "src", "schema.ts"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("client/typescript/src/schema.ts is stale: run make generate (with npm) and commit it")
	}
}

// The client and its tests type-check in strict mode.
func TestClientTypeChecks(t *testing.T) {
	dir := testenv.NPM(t, ".")
	run(t, dir, "tsc", "-p", "tsconfig.json", "--noEmit")
}
