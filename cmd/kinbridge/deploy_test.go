package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDeployFilesMatchTheMetrics keeps deploy/ and the docs honest: every
// metric the Grafana dashboard queries exists on a running suite's
// /metrics, every metric there is listed in docs/observability.md, and the
// Prometheus config passes promtool when it is installed.
func TestDeployFilesMatchTheMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana/kinbridge.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}

	s := startSuite(t)
	s.family(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.sse(t, ctx, s.userToken(t, "maria", false), "") // a live subscriber
	time.Sleep(200 * time.Millisecond)
	resp, err := http.Get(s.metrics)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(page), "\n") {
		if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
			exposed[strings.Fields(name)[0]] = true
		}
	}
	// Label lists and matchers name labels, not metrics: drop them first.
	labels := regexp.MustCompile(`by \([^)]*\)|\{[^}]*\}|\[[^\]]*\]`)
	identRE := regexp.MustCompile(`[a-z][a-z0-9_]*`)
	functions := map[string]bool{"sum": true, "rate": true, "max": true, "histogram_quantile": true}
	suffixes := []string{"_bucket", "_count", "_sum"}
	for _, p := range dash.Panels {
		for _, target := range p.Targets {
			for _, name := range identRE.FindAllString(labels.ReplaceAllString(target.Expr, ""), -1) {
				if functions[name] {
					continue
				}
				base := name
				for _, suf := range suffixes {
					base = strings.TrimSuffix(base, suf)
				}
				if !exposed[name] && !exposed[base] {
					t.Errorf("panel %q queries %s, which /metrics does not have", p.Title, name)
				}
			}
		}
	}

	// docs/observability.md lists every metric in the first column of its
	// metrics table (go_memstats_* as a group).
	doc, err := os.ReadFile("../../docs/observability.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	nameRE := regexp.MustCompile("`([a-z][a-z0-9_]*\\*?)`")
	for _, line := range strings.Split(string(doc), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 5 || !strings.HasPrefix(line, "| `") {
			continue
		}
		for _, m := range nameRE.FindAllStringSubmatch(cells[1], -1) {
			documented = append(documented, m[1])
		}
	}
	for name := range exposed {
		if !slices.ContainsFunc(documented, func(d string) bool {
			prefix, wildcard := strings.CutSuffix(d, "*")
			return d == name || wildcard && strings.HasPrefix(name, prefix)
		}) {
			t.Errorf("docs/observability.md does not list the metric %s", name)
		}
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Log("promtool is not installed (Debian package prometheus); the scrape config was not checked")
		return
	}
	if out, err := exec.Command(promtool, "check", "config", "../../deploy/prometheus.yml").CombinedOutput(); err != nil {
		t.Fatalf("promtool check config: %v\n%s", err, out)
	}
}
