package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrateAppliesEveryServiceSchema runs `kinbridge migrate` twice on a
// fresh data directory: the first run creates every database, the second
// finds nothing to do.
func TestMigrateAppliesEveryServiceSchema(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		var stderr bytes.Buffer
		if err := run(context.Background(), []string{"migrate", "--data-dir", dir}, &bytes.Buffer{}, &stderr); err != nil {
			t.Fatalf("migrate: %v\n%s", err, stderr.String())
		}
		for _, svc := range []string{"progress", "media", "notification"} {
			if !strings.Contains(stderr.String(), svc+": migrated") {
				t.Errorf("no report for %s: %s", svc, stderr.String())
			}
			if _, err := os.Stat(filepath.Join(dir, svc+".db")); err != nil {
				t.Errorf("%s database: %v", svc, err)
			}
		}
	}
}
