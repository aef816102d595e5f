package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"testing"
)

// labelSets returns every series of a /metrics page, without values and
// without histogram buckets, as "name{labels}".
func labelSets(t *testing.T, url string) map[string]bool {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		series := line[:strings.LastIndexByte(line, ' ')]
		if strings.Contains(series, "_bucket{") {
			continue // buckets only repeat their series with le
		}
		out[series] = true
	}
	return out
}

// randomPath makes a URL a scanner or a buggy client might send.
func randomPath(r *rand.Rand) string {
	word := func() string { return fmt.Sprintf("%x", r.Uint64()) }
	shapes := []func() string{
		func() string { return "/v1/children/" + word() },
		func() string { return "/v1/children/" + word() + "/assessments/" + word() },
		func() string { return "/v1/children/" + word() + "/guardians/" + word() },
		func() string { return "/v1/users/" + word() + "/notifications" },
		func() string { return "/v1/" + word() + "/" + word() },
		func() string { return "/" + word() },
		func() string { return "/" + word() + "/" + word() + "?x=" + word() },
	}
	return shapes[r.IntN(len(shapes))]()
}

// TestRandomURLsDoNotGrowMetrics checks that label values come from route
// templates and status codes, never from raw paths: after a warm-up, 10,000
// requests to random URLs leave /metrics with the same label sets.
func TestRandomURLsDoNotGrowMetrics(t *testing.T) {
	s := startSuite(t)
	r := rand.New(rand.NewPCG(1, 2))
	methods := []string{"GET", "POST", "DELETE", "PATCH"}
	send := func(n int) {
		for range n {
			req, _ := http.NewRequest(methods[r.IntN(len(methods))], s.gateway+randomPath(r), strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+s.adminToken)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	send(500) // every route shape, method and status once
	before := labelSets(t, s.metrics)
	send(10000)
	after := labelSets(t, s.metrics)
	var grown []string
	for series := range after {
		if !before[series] && !strings.HasPrefix(series, "go_") && !strings.HasPrefix(series, "process_") && !strings.HasPrefix(series, "promhttp_") {
			grown = append(grown, series)
		}
	}
	sort.Strings(grown)
	if len(grown) > 0 {
		t.Fatalf("%d new series after random URLs, e.g.:\n%s", len(grown), strings.Join(grown[:min(len(grown), 10)], "\n"))
	}
}
