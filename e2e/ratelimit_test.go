//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestTwoGatewaysShareRateLimitsThroughRedis runs a `serve all` and a
// second `serve gateway` of the same deployment on one Redis, reached
// through a proxy the test can cut (the shared server is never stopped).
// Both gateways trust 127.0.0.1 as a proxy, so X-Forwarded-For stands for
// clients at other addresses.
//
// With Redis, a user and an address have one budget across both gateways.
// Cut off, each gateway limits on its own, and its log and metrics say
// so. Restored, the buckets are Redis's again: those emptied before the cut
// are still empty.
func TestTwoGatewaysShareRateLimitsThroughRedis(t *testing.T) {
	proxy, redisURL := testenv.RedisProxy(t)
	limits := []string{"--redis-url", redisURL, "--trusted-proxies", "127.0.0.1",
		"--rate-limit-user", "0.001", "--rate-limit-user-burst", "4",
		"--rate-limit-address", "0.001", "--rate-limit-address-burst", "4"}
	a := serve(t, t.TempDir(), nil, limits...)
	b := start(t, "gateway", a.dataDir, nil, append([]string{"--gateway-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
		"--progress-addr", a.progress, "--media-addr", a.media, "--notification-addr", a.notification}, limits...)...)
	maria := issueToken(t, a.dataDir, "maria")

	client := &http.Client{Timeout: 10 * time.Second}
	clientAt := 0
	// get asks gw for path as a client at addr ("" for a new address each
	// time), with token if any.
	type answer struct {
		code int
		body string
	}
	get := func(gw *process, path, token, addr string) answer {
		t.Helper()
		if addr == "" {
			clientAt++
			addr = fmt.Sprintf("198.51.100.%d", clientAt)
		}
		req, _ := http.NewRequest("GET", "http://"+gw.gateway+path, nil)
		req.Header.Set("X-Forwarded-For", addr)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusTooManyRequests {
			if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || secs < 1 {
				t.Fatalf("429 with Retry-After %q", resp.Header.Get("Retry-After"))
			}
		}
		return answer{resp.StatusCode, string(body)}
	}
	want := func(code int, limit string, got answer) {
		t.Helper()
		if got.code != code || (limit != "" && !strings.Contains(got.body, `"limit":"`+limit+`"`)) {
			t.Fatalf("got %d %s; want %d (limit %q)", got.code, got.body, code, limit)
		}
	}
	backend := regexp.MustCompile(`(?m)^kinbridge_ratelimit_backend\{[^}]*backend="(redis|local)"[^}]*\} 1$`)
	backendOf := func(p *process) string {
		resp, err := client.Get("http://" + p.metrics + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		page, _ := io.ReadAll(resp.Body)
		if m := backend.FindSubmatch(page); m != nil {
			return string(m[1])
		}
		return "none"
	}
	if backendOf(a) != "redis" || backendOf(b) != "redis" {
		t.Fatalf("backends %s and %s, want redis", backendOf(a), backendOf(b))
	}

	// One user's budget across both gateways (each from a new address).
	for _, gw := range []*process{a, a, b, b} {
		want(200, "", get(gw, "/v1/children", maria, ""))
	}
	want(429, "user", get(b, "/v1/children", maria, ""))
	want(429, "user", get(a, "/v1/children", maria, ""))
	// One address's budget across both gateways.
	const shared = "203.0.113.7"
	for _, gw := range []*process{a, b, a, b} {
		want(200, "", get(gw, "/openapi.json", "", shared))
	}
	want(429, "address", get(a, "/openapi.json", "", shared))

	// Cut off: still limited, each gateway on its own budget.
	proxy.Cut()
	const apart = "203.0.113.8"
	for _, gw := range []*process{a, b} {
		for range 4 {
			want(200, "", get(gw, "/openapi.json", "", apart))
		}
		want(429, "address", get(gw, "/openapi.json", "", apart))
	}
	for _, p := range []*process{a, b} {
		if got := backendOf(p); got != "local" {
			t.Fatalf("backend while Redis is cut off: %s, want local", got)
		}
		if !strings.Contains(p.stderr.String(), "Redis does not answer") {
			t.Fatalf("the log does not say that Redis does not answer:\n%s", p.stderr)
		}
	}

	// Restored: back on Redis, where 203.0.113.7 has spent its budget
	// (neither gateway's own buckets ever saw it).
	proxy.Restore()
	testenv.Eventually(t, "both gateways back on Redis", func() string {
		for _, p := range []*process{a, b} {
			get(p, "/openapi.json", "", "") // a request asks Redis again
			if got := backendOf(p); got != "redis" {
				return "backend " + got
			}
		}
		return ""
	})
	want(429, "address", get(a, "/openapi.json", "", shared))
	want(429, "address", get(b, "/openapi.json", "", shared))
	for _, p := range []*process{a, b} {
		if !strings.Contains(p.stderr.String(), "Redis answers again") {
			t.Fatalf("the log does not say that Redis answers again:\n%s", p.stderr)
		}
	}
}
