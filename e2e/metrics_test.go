//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestRandomURLsLeaveEveryProcessMetricsAlone runs a split deployment, each
// process with its own /metrics, sends 10,000 requests to random URLs (the
// API's shapes with made-up ids, tus uploads that do not exist, paths that
// match nothing) through the gateway, and checks that no process's /metrics
// gained a label name, a route or method value, or any value that looks
// like an id from the URLs: labels come from route templates, method names
// and status codes, never from raw paths. (A status code first seen during
// the run, say a 504 under load, is not growth: codes are a fixed set.)
func TestRandomURLsLeaveEveryProcessMetricsAlone(t *testing.T) {
	dir := t.TempDir()
	progressAddr, mediaAddr, notificationAddr := freePort(t), freePort(t), freePort(t)
	procs := map[string]*process{
		"progress": start(t, "progress", dir, nil, "--progress-listen", progressAddr, "--notification-addr", notificationAddr,
			"--metrics-listen", "127.0.0.1:0"),
		"notification": start(t, "notification", dir, nil, "--notification-listen", notificationAddr, "--progress-addr", progressAddr,
			"--metrics-listen", "127.0.0.1:0"),
		"media": start(t, "media", dir, nil, "--media-listen", mediaAddr, "--progress-addr", progressAddr,
			"--notification-addr", notificationAddr, "--metrics-listen", "127.0.0.1:0"),
	}
	procs["gateway"] = start(t, "gateway", dir, nil, "--gateway-listen", "127.0.0.1:0", "--progress-addr", progressAddr,
		"--media-addr", mediaAddr, "--notification-addr", notificationAddr, "--metrics-listen", "127.0.0.1:0")
	gateway := procs["gateway"].gateway
	token := issueToken(t, dir, "teacher")
	client := &http.Client{Timeout: 10 * time.Second}

	r := rand.New(rand.NewPCG(7, 11))
	methods := []string{"GET", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"}
	send := func(n int) {
		for range n {
			method := methods[r.IntN(len(methods))]
			req, err := http.NewRequest(method, "http://"+gateway+randomURL(r), strings.NewReader("{}"))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			if strings.Contains(req.URL.Path, "/uploads") {
				req.Header.Set("Tus-Resumable", "1.0.0")
				req.Header.Set("Upload-Offset", "0")
				req.Header.Set("Content-Type", "application/offset+octet-stream")
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, req.URL, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send(600) // every shape, method and answer once
	before := map[string]metricLabels{}
	for name, p := range procs {
		before[name] = labelsOf(t, p.metrics)
	}
	send(10000)
	for name, p := range procs {
		after := labelsOf(t, p.metrics)
		for _, problem := range after.grownFrom(before[name]) {
			t.Errorf("%s: %s", name, problem)
		}
		t.Logf("%s: %d metrics, %d routes and methods", name, len(after.names), len(after.routes))
	}
}

// randomURL makes a URL a scanner or a buggy client might send.
func randomURL(r *rand.Rand) string {
	id := func() string { return fmt.Sprintf("%x", r.Uint64()) }
	shapes := []func() string{
		func() string { return "/v1/children/" + id() },
		func() string { return "/v1/children/" + id() + "/assessments/" + id() },
		func() string { return "/v1/children/" + id() + "/milestones" },
		func() string { return "/v1/children/" + id() + "/guardians/" + id() },
		func() string { return "/v1/children/" + id() + "/media/" + id() },
		func() string { return "/v1/children/" + id() + "/media/" + id() + ":content?thumbnail=" + id() },
		func() string { return "/v1/children/" + id() + "/media:upload?title=" + id() },
		func() string { return "/v1/children/" + id() + ":summary" },
		func() string { return "/v1/users/" + id() + "/notifications" },
		func() string { return "/v1/uploads/" + id() + "." + id() },
		func() string { return "/v1/uploads/" + id() },
		func() string { return "/v1/" + id() + "/" + id() },
		func() string { return "/" + id() },
		func() string { return "/" + id() + "/" + id() + "?x=" + id() },
	}
	return shapes[r.IntN(len(shapes))]()
}

// metricLabels is what matters of a /metrics page for cardinality: each
// metric's label names, the route and method values (which must come from
// templates and the API, never from paths), and every label value seen.
type metricLabels struct {
	names  map[string]string // metric -> its sorted label names
	routes map[string]bool   // label=value for http_route and rpc_method
	values map[string]bool
}

// idLike matches what the random URLs put in paths: hex ids.
var idLike = regexp.MustCompile(`[0-9a-f]{12,}`)

// grownFrom says how m has more label names or route values than before,
// or label values that look like ids from the random URLs. New status codes
// or methods in existing series are not growth: they are a fixed set.
func (m metricLabels) grownFrom(before metricLabels) []string {
	var out []string
	for metric, names := range m.names {
		if old, ok := before.names[metric]; ok && old != names {
			out = append(out, fmt.Sprintf("%s has labels %s, had %s", metric, names, old))
		}
	}
	for r := range m.routes {
		if !before.routes[r] {
			out = append(out, "new route or method label "+r)
		}
	}
	for v := range m.values {
		if idLike.MatchString(v) {
			out = append(out, fmt.Sprintf("label value %q looks like an id from a URL", v))
		}
	}
	sort.Strings(out)
	return out[:min(len(out), 10)]
}

// labelsOf reads a /metrics page (host:port) in the text format.
func labelsOf(t *testing.T, metricsAddr string) metricLabels {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	m := metricLabels{names: map[string]string{}, routes: map[string]bool{}, values: map[string]bool{}}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		metric, labels := line, ""
		if i := strings.IndexByte(line, '{'); i >= 0 {
			metric, labels = line[:i], line[i+1:strings.LastIndexByte(line, '}')]
		} else {
			metric = line[:strings.IndexByte(line, ' ')]
		}
		var names []string
		for _, pair := range labelPairs.FindAllStringSubmatch(labels, -1) {
			names = append(names, pair[1])
			m.values[pair[2]] = true
			if pair[1] == "http_route" || pair[1] == "rpc_method" {
				m.routes[pair[1]+"="+pair[2]] = true
			}
		}
		sort.Strings(names)
		if strings.HasSuffix(metric, "_bucket") {
			names = slices.DeleteFunc(names, func(n string) bool { return n == "le" })
		}
		// A metric whose series differ in label names (an error_type on
		// failures only) keeps the union, so a new failure is not growth.
		m.names[metric] = mergeNames(m.names[metric], names)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

// labelPairs matches name="value" pairs, with escaped quotes in values.
var labelPairs = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// mergeNames joins two sorted, comma-joined label name lists.
func mergeNames(have string, names []string) string {
	all := names
	if have != "" {
		all = append(strings.Split(have, ","), names...)
	}
	sort.Strings(all)
	return strings.Join(slices.Compact(all), ",")
}

// metricValue sums the series of metric (its name as /metrics shows it,
// _total and all) on a process's metrics endpoint whose labels include
// each name="value" of labels (pairs: name, value, ...); found is false
// when no series matches.
func metricValue(t *testing.T, metricsAddr, metric string, labels ...string) (sum float64, found bool) {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
series:
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, metric+"{") && !strings.HasPrefix(line, metric+" ") {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(line, labels[i]+`="`+labels[i+1]+`"`) {
				continue series
			}
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		sum, found = sum+v, true
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return sum, found
}
