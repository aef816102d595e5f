//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestRandomURLsLeaveEveryProcessMetricsAlone runs a split deployment, each
// process with its own /metrics, sends 10,000 requests to random URLs (the
// API's shapes with made-up ids, tus uploads that do not exist, paths that
// match nothing) through the gateway, and checks that no process's /metrics
// gained a label set: labels come from route templates, method names and
// status codes, never from raw paths or ids.
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
	before := map[string]map[string]bool{}
	for name, p := range procs {
		before[name] = seriesOf(t, p.metrics)
	}
	send(10000)
	for name, p := range procs {
		after := seriesOf(t, p.metrics)
		var grown []string
		for s := range after {
			if !before[name][s] && !strings.HasPrefix(s, "go_") && !strings.HasPrefix(s, "process_") && !strings.HasPrefix(s, "promhttp_") {
				grown = append(grown, s)
			}
		}
		sort.Strings(grown)
		if len(grown) > 0 {
			t.Errorf("%s: %d new series after random URLs, e.g.:\n%s", name, len(grown), strings.Join(grown[:min(len(grown), 10)], "\n"))
		}
		t.Logf("%s: %d series before and after", name, len(after))
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

// seriesOf reads a /metrics page (host:port) and returns its series, each a
// name with its labels; histogram buckets are left out, as they only repeat
// their series with le.
func seriesOf(t *testing.T, metricsAddr string) map[string]bool {
	t.Helper()
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") || strings.Contains(line, "_bucket{") {
			continue
		}
		out[line[:strings.LastIndexByte(line, ' ')]] = true
	}
	return out
}
