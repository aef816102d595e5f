package main

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/config"
)

// TestREADMEConfigurationTable checks that the README's configuration table
// lists every `serve` flag exactly once, with the environment variable that
// really backs it, and nothing that is not a flag.
func TestREADMEConfigurationTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| `([A-Z0-9_]+)` \\|")
	seen := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(string(readme), -1) {
		seen[m[1]]++
		if want := config.EnvName(m[1]); m[2] != want {
			t.Errorf("README: --%s is backed by %s, not %s", m[1], want, m[2])
		}
	}
	s := config.New("all")
	(&settings{}).define(s)
	var flags []string
	s.FlagSet().VisitAll(func(f *flag.Flag) { flags = append(flags, f.Name) })
	for _, f := range flags {
		switch seen[f] {
		case 1:
		case 0:
			t.Errorf("README: --%s is missing from the configuration table", f)
		default:
			t.Errorf("README: --%s is listed %d times", f, seen[f])
		}
	}
	for f := range seen {
		if !slices.Contains(flags, f) {
			t.Errorf("README: --%s is in the configuration table but is not a flag", f)
		}
	}
}
