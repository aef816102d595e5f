//go:build cluster

package cluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// baseNetem is every link's latency and loss for the whole test.
const baseNetem = "delay 2ms loss 0.5%"

// requireNetns skips the test, or fails it when KINBRIDGE_TEST_REQUIRE
// names netns, unless this process may make network namespaces and every
// program the cluster runs is here.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "netns", "the cluster test makes network namespaces, veths and qdiscs: run it as root")
	}
	for _, prog := range []string{"ip", "tc", "nft", "iptables", "setpriv", "psql", "nats-server", "redis-server", "go"} {
		if _, err := exec.LookPath(prog); err != nil {
			testenv.SkipOrFail(t, "netns", fmt.Sprintf("%s is not installed (iproute2, nftables, iptables, util-linux, postgresql, nats-server, redis-server)", prog))
		}
	}
	if _, err := postgresBin(); err != nil {
		testenv.SkipOrFail(t, "netns", err.Error())
	}
	root, _ := filepath.Abs("..")
	for name, backend := range map[string]string{"minio": "s3", "jaeger": "jaeger"} {
		if _, err := (&Cluster{cfg: Config{RepoRoot: root}}).toolBinary(name); err != nil {
			testenv.SkipOrFail(t, backend, err.Error())
		}
	}
	probe := fmt.Sprintf("kb-%d-probe", os.Getpid())
	if err := run(t.Context(), "ip", "netns", "add", probe); err != nil {
		testenv.SkipOrFail(t, "netns", fmt.Sprintf("cannot make a network namespace: %v", err))
	}
	if err := run(t.Context(), "ip", "netns", "del", probe); err != nil {
		t.Fatal(err)
	}
}

// TestCluster builds the cluster (TLS and mutual TLS on every app host),
// runs the README's journeys through either gateway over https, checks
// that the services admit only mutual TLS, then injects faults: a host killed mid-journey,
// notification cut off from NATS and its database, a slowed hop seen in
// Jaeger.
func TestCluster(t *testing.T) {
	requireNetns(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	before, err := namespaces(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Now()
	c, err := Start(t.Context(), Config{RepoRoot: root, Dir: dir, Netem: baseNetem, Log: testLog{t}})
	if c == nil && err != nil {
		t.Fatal(err)
	}
	// Ctrl-C or a kill ends the test binary without its cleanups: stop
	// the cluster first. (A run killed outright leaves namespaces that the
	// next run's Start sweeps.)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	go func() {
		if _, ok := <-signals; ok {
			c.Close()
			os.Exit(1)
		}
	}()
	t.Cleanup(func() {
		signal.Stop(signals)
		close(signals)
		if t.Failed() {
			dumpLogs(t, dir)
		}
		c.Close()
		after, err := namespaces(context.Background())
		if err != nil {
			t.Error(err)
		}
		for _, ns := range after {
			if strings.HasPrefix(ns, c.Prefix()) {
				t.Errorf("namespace %s left behind (before the test: %v)", ns, before)
			}
		}
	})
	t.Logf("cluster up in %s", time.Since(start).Round(time.Second))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	gws := c.GatewayURLs()

	t.Run("README journeys through either gateway", func(t *testing.T) {
		readmeJourney(t, ctx, c, root, gws[0], gws[1])
		readmeJourney(t, ctx, c, root, gws[1], gws[0])
	})
	if t.Failed() {
		return
	}
	api := newAPI(t, c)
	t.Run("TLS and mutual TLS on every app host", func(t *testing.T) { tlsEverywhere(t, ctx, c, api) })
	t.Run("a host killed mid-journey", func(t *testing.T) { killHostMidJourney(t, ctx, c, api, root) })
	t.Run("notification partitioned from NATS and PostgreSQL", func(t *testing.T) { partitionNotification(t, ctx, c, api) })
	t.Run("an upload whose media host dies", func(t *testing.T) { uploadMediaHostDies(t, ctx, c, api) })
	t.Run("a slowed hop in Jaeger", func(t *testing.T) { slowHop(t, ctx, c, api) })

	// The loss was real: everything above crossed links that dropped
	// packets (tens of thousands of packets at 0.5%: none dropped would
	// mean the rule never matched).
	if c.Loss != "" {
		lost, err := c.LostPackets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if lost == 0 {
			t.Errorf("the links' loss of %s (nftables) dropped no packet", c.Loss)
		}
		t.Logf("the links dropped %d packets (loss %s by nftables)", lost, c.Loss)
	}
	// And so was the latency: every packet a host sent waited in its queue
	// (a figure, not asserted: a TCP connect from the client host to a
	// gateway takes two of those waits, its SYN's and the SYN-ACK's).
	if c.Delay > 0 {
		delayed := c.DelayedPackets()
		if delayed == 0 {
			t.Errorf("the links' delay of %s (netfilter queue) held back no packet", c.Delay)
		}
		began := time.Now()
		conn, err := Dialer(c.NS("client"))(ctx, "tcp", c.Addr("gw1", portGateway))
		if err != nil {
			t.Fatal(err)
		}
		connect := time.Since(began)
		conn.Close()
		t.Logf("the links delayed %d packets by %s each (netfilter queue); a TCP connect from the client host to gw1 took %s",
			delayed, c.Delay, connect.Round(10*time.Microsecond))
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// dumpLogs prints the last lines of every process's log.
func dumpLogs(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, path := range logs {
		b, _ := os.ReadFile(path)
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("--- %s (last %d lines)\n%s", filepath.Base(path), len(lines), strings.Join(lines, "\n"))
	}
}

// api calls the gateways from the client host with the suite's tokens.
type api struct {
	t       *testing.T
	http    *http.Client
	gws     []string
	admin   string
	teacher string
	maria   string
}

func newAPI(t *testing.T, c *Cluster) *api {
	token := func(args ...string) string {
		out, err := exec.Command(c.Binary(), append([]string{"token", "issue", "--data-dir", c.KeysDir()}, args...)...).Output()
		if err != nil {
			t.Fatalf("kinbridge token issue %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	return &api{t: t, http: c.HTTPClient(), gws: c.GatewayURLs(),
		admin: token("--admin"), teacher: token("--user", "teacher"), maria: token("--user", "maria")}
}

// call sends one request; the status is 0 when no answer came.
func (a *api) call(ctx context.Context, gw, method, path, token string, body any) (int, map[string]any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, method, gw+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, map[string]any{"error": err.Error()}
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// must calls and fails the test unless the answer is 200.
func (a *api) must(ctx context.Context, gw, method, path, token string, body any) map[string]any {
	a.t.Helper()
	code, out := a.call(ctx, gw, method, path, token, body)
	if code != http.StatusOK {
		a.t.Fatalf("%s %s%s: %d %v", method, gw, path, code, out)
	}
	return out
}

// family makes a child followed by maria (guardian) and the teacher
// (contributor), and returns its name.
func (a *api) family(ctx context.Context) string {
	a.t.Helper()
	child := a.must(ctx, a.gws[0], "POST", "/v1/children", a.admin, map[string]any{"displayName": "Bea", "timeZone": "Europe/Lisbon"})["name"].(string)
	a.must(ctx, a.gws[1], "POST", "/v1/"+child+"/guardians", a.admin, map[string]any{"user": "maria", "role": "ROLE_GUARDIAN"})
	a.must(ctx, a.gws[0], "POST", "/v1/"+child+"/guardians", a.admin, map[string]any{"user": "teacher", "role": "ROLE_CONTRIBUTOR"})
	return child
}

// record creates assessment i of child through gateway i%2 with a request
// id, retrying with the same id until it is acknowledged, as a client
// whose request met a dying host does. It returns the attempts it took.
func (a *api) record(ctx context.Context, child, run string, i int) (int, error) {
	body := map[string]any{"subject": "Math", "title": fmt.Sprintf("%s-%d", run, i), "kind": "ASSESSMENT_KIND_HOMEWORK",
		"assessedDate": "2026-03-01", "score": map[string]any{"points": map[string]any{"earned": 7, "possible": 10}}}
	path := fmt.Sprintf("/v1/%s/assessments?requestId=%s-%d", child, run, i)
	for attempt := 1; ; attempt++ {
		code, out := a.call(ctx, a.gws[(i+attempt)%2], "POST", path, a.teacher, body)
		switch {
		case code == http.StatusOK:
			return attempt, nil
		case code != 0 && code < 500:
			return attempt, fmt.Errorf("%s: %d %v", path, code, out)
		case ctx.Err() != nil:
			return attempt, fmt.Errorf("%s: %d %v after %d attempts", path, code, out, attempt)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// titles counts child's assessments by title, over every page.
func (a *api) titles(ctx context.Context, child string) map[string]int {
	a.t.Helper()
	counts := map[string]int{}
	page := ""
	for {
		out := a.must(ctx, a.gws[1], "GET", "/v1/"+child+"/assessments?pageSize=100&pageToken="+page, a.maria, nil)
		items, _ := out["assessments"].([]any)
		for _, it := range items {
			counts[it.(map[string]any)["title"].(string)]++
		}
		page, _ = out["nextPageToken"].(string)
		if page == "" {
			return counts
		}
	}
}
