package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestAlertRules runs promtool on deploy/alerts.yml: the rules are valid,
// and every case of deploy/alerts_test.yml (each alert firing when it
// should and quiet when it should not) passes.
func TestAlertRules(t *testing.T) {
	promtool := testenv.Tool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", "alerts.yml"},
		{"test", "rules", "alerts_test.yml"},
		{"check", "config", "prometheus.yml"},
	} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "../../deploy"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert has cases: its name appears in the tests.
	tests, err := os.ReadFile("../../deploy/alerts_test.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alertRules(t) {
		if !strings.Contains(string(tests), "alertname: "+a.Alert+"\n") {
			t.Errorf("deploy/alerts_test.yml has no case for %s", a.Alert)
		}
		for _, key := range []string{"summary", "description", "runbook"} {
			if a.Annotations[key] == "" {
				t.Errorf("%s has no %s annotation", a.Alert, key)
			}
		}
		if a.Labels["severity"] != "critical" && a.Labels["severity"] != "warning" {
			t.Errorf("%s: severity %q, want critical or warning", a.Alert, a.Labels["severity"])
		}
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range alertRules(t) {
		if !strings.Contains(string(doc), "`"+a.Alert+"`") {
			t.Errorf("docs/operations.md has no runbook line for %s", a.Alert)
		}
	}
}

// TestAlertMetricsAreExported keeps the alerts on metrics that exist: every
// metric an alert's expression names is on the /metrics of a running suite
// (with NATS fan-out, after some traffic). The counters that appear only
// once something happens (a feed dropped, a message NATS refused) must
// instead be declared under that name in the code, so renaming one breaks
// this test either way.
func TestAlertMetricsAreExported(t *testing.T) {
	s := startSuite(t, "--nats-url", testenv.NATS(t))
	child := s.family(t)
	maria := s.userToken(t, "maria", false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s.sse(t, ctx, maria, "")
	s.record(t, child, s.userToken(t, "teacher", false), "Fractions")
	s.call(t, "GET", "/v1/"+child, maria, "")
	exposed := map[string]bool{}
	testenv.Eventually(t, "the outbox delivered", func() string {
		clear(exposed)
		resp, err := http.Get(s.metrics)
		if err != nil {
			return err.Error()
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(page), "\n") {
			if name, ok := strings.CutPrefix(line, "# TYPE "); ok {
				exposed[strings.Fields(name)[0]] = true
			}
		}
		if !strings.Contains(string(page), `kinbridge_outbox_deliveries_total{kinbridge_outbox_name="progress",kinbridge_outbox_outcome="delivered"`) {
			return "no delivery counted yet"
		}
		return ""
	})

	declared := declaredInstruments(t)
	used := 0
	for _, a := range alertRules(t) {
		for _, name := range metricNames(a.Expr) {
			used++
			base := name
			for _, suf := range []string{"_bucket", "_count", "_sum"} {
				base = strings.TrimSuffix(base, suf)
			}
			if exposed[name] || exposed[base] {
				continue
			}
			// The exporter adds _total to counters and a unit (_seconds).
			otel := strings.TrimSuffix(strings.TrimSuffix(base, "_total"), "_seconds")
			if declared[otel] {
				t.Logf("%s: %s is not on /metrics until it first happens; the code declares it", a.Alert, name)
				continue
			}
			t.Errorf("%s uses %s, which a running suite does not export and the code does not declare", a.Alert, name)
		}
	}
	if used < 9 {
		t.Fatalf("found only %d metric names in the alerts: the expression parser is broken", used)
	}
}

type alertRule struct {
	Alert       string
	Expr        string
	Labels      map[string]string
	Annotations map[string]string
}

func alertRules(t *testing.T) []alertRule {
	t.Helper()
	raw, err := os.ReadFile("../../deploy/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []alertRule
		}
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var rules []alertRule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatal("deploy/alerts.yml has no rules")
	}
	return rules
}

// metricNames returns the metric names in a PromQL expression: its
// identifiers once label matchers, grouping, ranges and strings are gone,
// less the functions and keywords.
func metricNames(expr string) []string {
	stripped := regexp.MustCompile(`by \([^)]*\)|\{[^}]*\}|\[[^\]]*\]|"[^"]*"`).ReplaceAllString(expr, " ")
	keywords := map[string]bool{
		"sum": true, "max": true, "rate": true, "increase": true, "histogram_quantile": true,
		"max_over_time": true, "or": true, "and": true, "unless": true, "by": true,
		"min": true, "time": true,
	}
	var names []string
	for _, id := range regexp.MustCompile(`[a-z_][a-z0-9_]*`).FindAllString(stripped, -1) {
		if !keywords[id] {
			names = append(names, id)
		}
	}
	return names
}

// declaredInstruments returns the OpenTelemetry instrument names in the
// Go code ("kinbridge.notification.overflows"), spelt the way the
// Prometheus exporter spells them (dots as underscores).
func declaredInstruments(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	lit := regexp.MustCompile(`"(kinbridge\.[a-z0-9_.]+)"`)
	for _, dir := range []string{"../../services", "../../pkg", "../../gateway"} {
		err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
				return err
			}
			src, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, m := range lit.FindAllStringSubmatch(string(src), -1) {
				names[strings.ReplaceAll(m[1], ".", "_")] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return names
}
