//go:build cluster

// Package cluster builds a Kinbridge deployment across hosts on one
// machine: each host a network namespace with its own address, joined by
// veth pairs to a bridge, with tc netem latency and loss on every link (on
// kernels without netem: the latency by a netfilter queue, see [linkDelay],
// and the loss by nftables). It
// runs two gateways, two instances of each service, and their own
// PostgreSQL (as the postgres user), NATS, Redis, MinIO and Jaeger, each on
// its host. `make cluster` starts one to try; TestCluster (`make
// cluster-e2e`) runs the README's journeys through either gateway and
// injects faults. Every kinbridge process serves TLS and requires mutual
// TLS from its callers, with certificates made for the run (see [TLS]).
// It needs root (namespaces, veths, qdiscs), iproute2, nftables and
// iptables.
//
// Nothing is made in the machine's own network namespace: the processes
// reach only the hosts' addresses, and the test reaches them from the
// client host's namespace (see [Dialer]).
package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/kinbridge/kinbridge/pkg/auth"
)

// Ports every host uses for its role.
const (
	portProgress     = "9101"
	portMedia        = "9102"
	portNotification = "9103"
	portGateway      = "8080"
	portMetrics      = "9464"
	portPostgres     = "5432"
	portNATS         = "4222"
	portRedis        = "6379"
	portMinIO        = "9000"
	portJaegerOTLP   = "4317"
	portJaegerQuery  = "16686"
)

// hostOctets are the hosts and the last octet of their address; the roles
// of the app hosts are their names without the instance number.
var hostOctets = map[string]int{
	"pg": 10, "nats": 11, "redis": 12, "minio": 13, "jaeger": 14,
	"progress1": 21, "progress2": 22, "media1": 31, "media2": 32,
	"notification1": 41, "notification2": 42, "gw1": 51, "gw2": 52,
	"client": 100,
}

// Config says what to build.
type Config struct {
	// RepoRoot is the repository: the kinbridge binary is built from it,
	// and MinIO's and Jaeger's are looked for in its .bin.
	RepoRoot string
	// Dir holds every host's data and every process's log.
	Dir string
	// Netem is the tc netem spec of every host's link ("delay 2ms loss
	// 0.5%"); empty for none.
	Netem string
	// Log receives progress lines (nil: none).
	Log io.Writer
}

// Cluster is a running deployment.
type Cluster struct {
	cfg     Config
	prefix  string // of every namespace made: kb-<pid>-
	subnet  string // the first three octets: 10.77.N
	bin     string // kinbridge
	keysDir string // a data dir holding keys/user.pem and keys/service.pem, for the CLI
	pgDir   string // PostgreSQL's data, owned by the postgres user

	tls       TLS
	clientTLS *tls.Config // the client host's: the CA and its certificate

	// Netem is what the links really have: Config.Netem, or empty when the
	// kernel has no netem.
	Netem string
	// Loss is the loss nftables adds on every link when the kernel has no
	// netem: Config.Netem's ("0.5%"), or empty.
	Loss string
	// Delay is the latency a netfilter queue adds on every link (on the
	// way into each host) when the kernel has no netem: Config.Netem's
	// (2ms), or 0.
	Delay time.Duration

	mu     sync.Mutex
	made   []string // namespaces made, switch first
	procs  []*Proc
	relays map[string]*relay     // by host
	delays map[string]*linkDelay // by host, when Delay is set
}

// relayed are the hosts whose service is reached through a [relay], which
// can slow it: the service listens on the host's loopback, the relay on its
// address.
var relayed = map[string]string{"media1": portMedia}

// Proc is one process on a host.
type Proc struct {
	Host, Name string
	Log        string // its stdout and stderr
	cmd        *exec.Cmd
	done       chan struct{}
	err        error
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Start builds the hosts and starts everything, returning once both
// gateways are ready. On an error it tears down what it made.
func Start(ctx context.Context, cfg Config) (_ *Cluster, err error) {
	pid := os.Getpid()
	c := &Cluster{cfg: cfg, prefix: fmt.Sprintf("kb-%d-", pid), subnet: fmt.Sprintf("10.77.%d", pid%250+1)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	sweep(ctx, cfg.Log)
	if err := c.buildBinary(ctx); err != nil {
		return nil, err
	}
	if err := c.keys(); err != nil {
		return nil, err
	}
	if err := c.certificates(); err != nil {
		return nil, err
	}
	if err := c.network(ctx); err != nil {
		return nil, err
	}
	c.logf("network: %d hosts on %s.0/24 (namespaces %s*), netem %q on every link", len(hostOctets), c.subnet, c.prefix, c.Netem)
	if err := c.startBackends(ctx); err != nil {
		return nil, err
	}
	if err := c.startServices(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Cluster) logf(format string, args ...any) {
	if c.cfg.Log != nil {
		fmt.Fprintf(c.cfg.Log, "cluster: "+format+"\n", args...)
	}
}

// NS is the namespace of host.
func (c *Cluster) NS(host string) string { return c.prefix + host }

// LostPackets is how many packets the links' nftables loss dropped so far,
// over every host: 0 when the links have netem's loss or none.
func (c *Cluster) LostPackets(ctx context.Context) (int64, error) {
	if c.Loss == "" {
		return 0, nil
	}
	var total int64
	for h := range hostOctets {
		n, err := lostPackets(ctx, c.NS(h))
		if err != nil {
			return 0, err
		}
		total += n
	}
	return total, nil
}

// DelayedPackets is how many packets the links' queue delay (Delay) held
// back so far, over every host: 0 when the links have netem's delay or none.
func (c *Cluster) DelayedPackets() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var total int64
	for _, d := range c.delays {
		total += d.Delayed()
	}
	return total
}

// IP is the address of host.
func (c *Cluster) IP(host string) string { return fmt.Sprintf("%s.%d", c.subnet, hostOctets[host]) }

// Addr is host:port of host.
func (c *Cluster) Addr(host, port string) string { return net.JoinHostPort(c.IP(host), port) }

// list is the --*-addr value naming every instance of role.
func (c *Cluster) list(role, port string) string {
	return c.Addr(role+"1", port) + "," + c.Addr(role+"2", port)
}

// GatewayURLs are the base URLs of the two gateways (https: see [TLS]).
func (c *Cluster) GatewayURLs() []string {
	return []string{"https://" + c.Addr("gw1", portGateway), "https://" + c.Addr("gw2", portGateway)}
}

// JaegerURL is the base URL of Jaeger's query API.
func (c *Cluster) JaegerURL() string { return "http://" + c.Addr("jaeger", portJaegerQuery) }

// ProgressAddrs is the --progress-addr list (the CLI's --addr).
func (c *Cluster) ProgressAddrs() string { return c.list("progress", portProgress) }

// Binary is the kinbridge binary the hosts run.
func (c *Cluster) Binary() string { return c.bin }

// KeysDir is a data directory holding the deployment's keys, for
// `kinbridge token issue --data-dir`.
func (c *Cluster) KeysDir() string { return c.keysDir }

// HTTPClient reaches the hosts from the client host, trusting the
// cluster's CA for https (the gateways, the metrics ports).
func (c *Cluster) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: Dialer(c.NS("client")), MaxIdleConnsPerHost: 8,
		TLSClientConfig: c.ClientTLS(), ForceAttemptHTTP2: true}}
}

// GRPCConn is a connection from the client host to addr over mutual TLS
// with the client certificate, or with creds when not nil.
func (c *Cluster) GRPCConn(addr string, creds credentials.TransportCredentials) (*grpc.ClientConn, error) {
	if creds == nil {
		creds = credentials.NewTLS(c.ClientTLS())
	}
	dial := Dialer(c.NS("client"))
	return grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) { return dial(ctx, "tcp", addr) }))
}

// Command is a command run on the client host, from the repository root,
// with [Cluster.ClientEnv] added to this process's environment.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", c.NS("client"), name}, args...)...)
	cmd.Dir = c.cfg.RepoRoot
	cmd.Env = append(os.Environ(), c.ClientEnv()...)
	return cmd
}

func (c *Cluster) buildBinary(ctx context.Context) error {
	c.bin = filepath.Join(c.cfg.Dir, "kinbridge")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/kinbridge")
	cmd.Dir = c.cfg.RepoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/kinbridge: %v\n%s", err, out)
	}
	return nil
}

// keys makes the deployment's user and service keys, shared by every host
// as an operator would copy them (or mount one secret).
func (c *Cluster) keys() error {
	c.keysDir = filepath.Join(c.cfg.Dir, "keys-home")
	for _, name := range []string{"user.pem", "service.pem"} {
		if _, _, err := auth.LoadOrCreateKey(filepath.Join(c.keysDir, "keys", name)); err != nil {
			return err
		}
	}
	return nil
}

// network makes the switch and the hosts.
func (c *Cluster) network(ctx context.Context) error {
	sw := c.prefix + "switch"
	c.made = append(c.made, sw)
	if err := addSwitch(ctx, sw); err != nil {
		return err
	}
	c.Netem = c.cfg.Netem
	if c.Netem != "" && netemMissing(ctx, sw) {
		var err error
		if c.Delay, err = netemDelay(c.Netem); err != nil {
			return err
		}
		c.Loss = netemLoss(c.Netem)
		c.logf("this kernel has no tc netem (sch_netem): the links' delay %s comes from a netfilter queue, their loss %q from nftables", c.Delay, c.Loss)
		c.Netem = ""
	}
	c.delays = map[string]*linkDelay{}
	names := make([]string, 0, len(hostOctets))
	for h := range hostOctets {
		names = append(names, h)
	}
	sort.Strings(names)
	for _, h := range names {
		c.made = append(c.made, c.NS(h))
		if err := addHost(ctx, sw, c.NS(h), "v-"+h, c.IP(h), c.Netem); err != nil {
			return err
		}
		if c.Loss != "" {
			if err := addLoss(ctx, c.NS(h), c.Loss); err != nil {
				return err
			}
		}
		if c.Delay > 0 {
			d, err := addDelay(ctx, c.NS(h), c.Delay)
			if err != nil {
				return err
			}
			c.mu.Lock()
			c.delays[h] = d
			c.mu.Unlock()
		}
	}
	c.relays = map[string]*relay{}
	for h, port := range relayed {
		r, err := startRelay(c.NS(h), c.Addr(h, port), net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			return fmt.Errorf("relay of %s: %w", h, err)
		}
		c.mu.Lock()
		c.relays[h] = r
		c.mu.Unlock()
	}
	return nil
}

// Slow delays everything host's service sends by d (0 ends it); host is
// one of those reached through a relay (media1).
func (c *Cluster) Slow(host string, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, ok := c.relays[host]
	if !ok {
		return fmt.Errorf("%s has no relay to slow", host)
	}
	r.delay.Store(int64(d))
	return nil
}

// start runs argv on host, as the postgres user when asUser says so, with
// env; its output goes to Dir/logs/NAME.log.
func (c *Cluster) start(host, name string, env []string, asPostgres bool, argv ...string) (*Proc, error) {
	if err := os.MkdirAll(filepath.Join(c.cfg.Dir, "logs"), 0o755); err != nil {
		return nil, err
	}
	p := &Proc{Host: host, Name: name, Log: filepath.Join(c.cfg.Dir, "logs", name+".log"), done: make(chan struct{})}
	out, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	defer out.Close()
	args := []string{"netns", "exec", c.NS(host)}
	if asPostgres {
		args = append(args, "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--")
	}
	// ip netns exec and setpriv exec what follows: the pid is the server's.
	p.cmd = exec.Command("ip", append(args, argv...)...)
	p.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.cfg.Dir, "TMPDIR=" + os.TempDir()}, env...)
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	return p, nil
}

// Procs lists the processes started, in order.
func (c *Cluster) Procs() []*Proc {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.procs)
}

// waitFor polls ready until it succeeds, p exits, or 60s pass.
func waitFor(ctx context.Context, p *Proc, ready func(context.Context) error) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		err := ready(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if p.Exited() {
			return fmt.Errorf("%s exited (%v) before it was ready; its log: %s", p.Name, p.err, p.Log)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready: %v; its log: %s", p.Name, err, p.Log)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// tcpReady is ready once addr accepts a connection from the client host.
func (c *Cluster) tcpReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error {
		conn, err := Dialer(c.NS("client"))(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return conn.Close()
	}
}

// httpReady is ready once url answers 200.
func (c *Cluster) httpReady(url string) func(context.Context) error {
	client := c.HTTPClient()
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

// grpcReady is ready once the gRPC health service at addr says SERVING
// over mutual TLS.
func (c *Cluster) grpcReady(addr string) func(context.Context) error {
	return func(ctx context.Context) error { return c.Health(ctx, addr, nil) }
}

// Health asks the gRPC health service at addr, over creds (nil: mutual
// TLS with the client certificate), whether it is SERVING.
func (c *Cluster) Health(ctx context.Context, addr string, creds credentials.TransportCredentials) error {
	conn, err := c.GRPCConn(addr, creds)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return err
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health: %v", resp.GetStatus())
	}
	return nil
}

// startBackends starts PostgreSQL, NATS, Redis, MinIO and Jaeger, each on
// its host, and waits for them.
func (c *Cluster) startBackends(ctx context.Context) error {
	minio, err := c.toolBinary("minio")
	if err != nil {
		return err
	}
	jaeger, err := c.toolBinary("jaeger")
	if err != nil {
		return err
	}
	if err := c.initPostgres(ctx); err != nil {
		return err
	}
	pgBin, _ := postgresBin()
	type backend struct {
		host       string
		env        []string
		asPostgres bool
		argv       []string
		ready      func(context.Context) error
	}
	minioDir, natsDir := filepath.Join(c.cfg.Dir, "minio"), filepath.Join(c.cfg.Dir, "nats")
	backends := []backend{
		{"pg", nil, true, []string{filepath.Join(pgBin, "postgres"), "-D", c.pgDir, "-h", c.IP("pg"), "-p", portPostgres, "-k", c.pgDir},
			c.postgresReady},
		{"nats", nil, false, []string{"nats-server", "-a", c.IP("nats"), "-p", portNATS, "-js", "-sd", natsDir},
			c.tcpReady(c.Addr("nats", portNATS))},
		{"redis", nil, false, []string{"redis-server", "--bind", c.IP("redis"), "--port", portRedis, "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--dir", c.cfg.Dir}, c.tcpReady(c.Addr("redis", portRedis))},
		{"minio", []string{"MINIO_ROOT_USER=minioadmin", "MINIO_ROOT_PASSWORD=minioadmin", "MINIO_UPDATE=off", "MINIO_BROWSER=off"}, false,
			[]string{minio, "server", "--quiet", "--address", c.Addr("minio", portMinIO), "--console-address", c.Addr("minio", "9001"), minioDir},
			c.httpReady("http://" + c.Addr("minio", portMinIO) + "/minio/health/live")},
		{"jaeger", []string{"JAEGER_OTLP_GRPC=" + c.Addr("jaeger", portJaegerOTLP), "JAEGER_QUERY_HTTP=" + c.Addr("jaeger", portJaegerQuery),
			"JAEGER_QUERY_GRPC=" + c.Addr("jaeger", "16685")}, false,
			[]string{jaeger, "--config", filepath.Join(c.cfg.RepoRoot, "scripts", "jaeger.yaml")},
			c.httpReady(c.JaegerURL() + "/api/services")},
	}
	g, gctx := errgroup.WithContext(ctx)
	for _, b := range backends {
		p, err := c.start(b.host, b.host, b.env, b.asPostgres, b.argv...)
		if err != nil {
			return err
		}
		g.Go(func() error { return waitFor(gctx, p, b.ready) })
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, db := range []string{"progress", "media", "notification"} {
		if err := c.psql(ctx, "CREATE DATABASE "+db); err != nil {
			return err
		}
	}
	c.logf("backends ready: PostgreSQL %s, NATS %s, Redis %s, MinIO %s, Jaeger %s", c.Addr("pg", portPostgres),
		c.Addr("nats", portNATS), c.Addr("redis", portRedis), c.Addr("minio", portMinIO), c.JaegerURL())
	return nil
}

// toolBinary finds MinIO's or Jaeger's binary: KINBRIDGE_CLUSTER_MINIO or
// _JAEGER, else the newest .bin/NAME-* that scripts/NAME.sh builds, else
// PATH.
func (c *Cluster) toolBinary(name string) (string, error) {
	if p := os.Getenv("KINBRIDGE_CLUSTER_" + strings.ToUpper(name)); p != "" {
		return p, nil
	}
	found, _ := filepath.Glob(filepath.Join(c.cfg.RepoRoot, ".bin", name+"-*"))
	for i := len(found) - 1; i >= 0; i-- {
		if fi, err := os.Stat(found[i]); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return found[i], nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no %s binary: build it with scripts/%s.sh (into .bin/), or set KINBRIDGE_CLUSTER_%s", name, name, strings.ToUpper(name))
}

// postgresBin is the folder of PostgreSQL's server programs.
func postgresBin() (string, error) {
	found, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres")
	if len(found) == 0 {
		return "", errors.New("no PostgreSQL server in /usr/lib/postgresql/*/bin (Debian package postgresql)")
	}
	sort.Strings(found)
	return filepath.Dir(found[len(found)-1]), nil
}

// initPostgres makes a data folder owned by the postgres user (PostgreSQL
// refuses to run as root) that trusts the cluster's subnet.
func (c *Cluster) initPostgres(ctx context.Context) error {
	bin, err := postgresBin()
	if err != nil {
		return err
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("PostgreSQL runs as the user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// Outside Dir: a test's temporary folder is root's alone.
	if c.pgDir, err = os.MkdirTemp("", c.prefix+"pg-"); err != nil {
		return err
	}
	if err := os.Chown(c.pgDir, uid, gid); err != nil {
		return err
	}
	out, err := exec.CommandContext(ctx, "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--",
		filepath.Join(bin, "initdb"), "-D", c.pgDir, "-U", "postgres", "-A", "trust", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	hba, err := os.OpenFile(filepath.Join(c.pgDir, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer hba.Close()
	_, err = fmt.Fprintf(hba, "host all all %s.0/24 trust\n", c.subnet)
	return err
}

func (c *Cluster) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", c.Addr("pg", portPostgres), db)
}

func (c *Cluster) psql(ctx context.Context, sql string) error {
	out, err := c.Command(ctx, "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", c.dsn("postgres"), "-c", sql).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", sql, err, out)
	}
	return nil
}

func (c *Cluster) postgresReady(ctx context.Context) error { return c.psql(ctx, "SELECT 1") }

// appRoles are the app hosts' roles, in the order they start: the services
// before the gateways that call them.
var appRoles = []string{"progress", "media", "notification", "gateway"}

// startServices starts every app host and waits until each serves.
func (c *Cluster) startServices(ctx context.Context) error {
	for _, role := range appRoles {
		g, gctx := errgroup.WithContext(ctx)
		for i := 1; i <= 2; i++ {
			host := hostOf(role, i)
			p, ready, err := c.startApp(role, host)
			if err != nil {
				return err
			}
			g.Go(func() error { return waitFor(gctx, p, ready) })
		}
		if err := g.Wait(); err != nil {
			return err
		}
	}
	c.logf("services ready; gateways %s", strings.Join(c.GatewayURLs(), " "))
	return nil
}

// journeyLimits are far above what the journeys send from their one client
// address.
var journeyLimits = []string{
	"--rate-limit-user", "100000", "--rate-limit-user-burst", "100000",
	"--rate-limit-address", "100000", "--rate-limit-address-burst", "100000",
	"--rate-limit-service", "100000", "--rate-limit-service-burst", "100000",
}

// appArgs are the flags of `kinbridge serve ROLE` on host.
func (c *Cluster) appArgs(role, host string) ([]string, func(context.Context) error) {
	dataDir := filepath.Join(c.cfg.Dir, "hosts", host)
	args := append([]string{"serve", role, "--data-dir", dataDir,
		"--user-key", filepath.Join(c.keysDir, "keys", "user.pem"), "--service-key", filepath.Join(c.keysDir, "keys", "service.pem"),
		"--metrics-listen", c.Addr(host, portMetrics), "--redis-url", "redis://" + c.Addr("redis", portRedis),
		"--shutdown-timeout", "5s"}, journeyLimits...)
	args = append(args, c.tlsArgs(host)...)
	switch role {
	case "progress":
		return append(args, "--progress-listen", c.Addr(host, portProgress), "--progress-db", c.dsn("progress"),
			"--media-addr", c.list("media", portMedia), "--notification-addr", c.list("notification", portNotification)), c.grpcReady(c.Addr(host, portProgress))
	case "media":
		listen := c.Addr(host, portMedia)
		if relayed[host] != "" {
			listen = net.JoinHostPort("127.0.0.1", portMedia) // behind its relay
		}
		return append(args, "--media-listen", listen, "--media-db", c.dsn("media"),
			"--blob-url", fmt.Sprintf("s3://minioadmin:minioadmin@%s/kinbridge?ssl=false", c.Addr("minio", portMinIO)),
			"--progress-addr", c.ProgressAddrs(), "--notification-addr", c.list("notification", portNotification)), c.grpcReady(c.Addr(host, portMedia))
	case "notification":
		return append(args, "--notification-listen", c.Addr(host, portNotification), "--notification-db", c.dsn("notification"),
			"--nats-url", "nats://"+c.Addr("nats", portNATS), "--progress-addr", c.ProgressAddrs()), c.grpcReady(c.Addr(host, portNotification))
	default:
		url := "https://" + c.Addr(host, portGateway)
		return append(args, "--gateway-listen", c.Addr(host, portGateway), "--public-url", url,
			"--progress-addr", c.ProgressAddrs(), "--media-addr", c.list("media", portMedia),
			"--notification-addr", c.list("notification", portNotification)), c.httpReady(url + "/readyz")
	}
}

// startApp starts `kinbridge serve ROLE` on host, exporting its traces to
// the cluster's Jaeger.
func (c *Cluster) startApp(role, host string) (*Proc, func(context.Context) error, error) {
	args, ready := c.appArgs(role, host)
	otlp := "http://" + c.Addr("jaeger", portJaegerOTLP)
	env := []string{"OTEL_TRACES_EXPORTER=otlp", "OTEL_EXPORTER_OTLP_ENDPOINT=" + otlp, "OTEL_EXPORTER_OTLP_PROTOCOL=grpc",
		"OTEL_BSP_SCHEDULE_DELAY=200", "OTEL_RESOURCE_ATTRIBUTES=host.name=" + host}
	p, err := c.start(host, host, env, false, append([]string{c.bin}, args...)...)
	return p, ready, err
}

// Restart starts host's app again, after [Cluster.KillHost], and waits
// until it serves.
func (c *Cluster) Restart(ctx context.Context, host string) error {
	role := strings.TrimRight(host, "12")
	if role == "gw" {
		role = "gateway"
	}
	p, ready, err := c.startApp(role, host)
	if err != nil {
		return err
	}
	return waitFor(ctx, p, ready)
}

// KillHost kills every process of host at once, as a machine that loses
// power: its connections are never closed by it (the kernel of the host
// still answers, as a host whose processes crashed does).
func (c *Cluster) KillHost(ctx context.Context, host string) {
	for _, pid := range pids(ctx, c.NS(host)) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	for _, p := range c.Procs() {
		if p.Host == host {
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// Partition cuts host off from the hosts named (its packets to them are
// dropped silently, as on a broken link) until Heal.
func (c *Cluster) Partition(ctx context.Context, host string, from ...string) error {
	for _, h := range from {
		if err := run(ctx, "ip", "-n", c.NS(host), "route", "add", "blackhole", c.IP(h)+"/32"); err != nil {
			return err
		}
	}
	return nil
}

// Heal undoes Partition.
func (c *Cluster) Heal(ctx context.Context, host string, from ...string) error {
	for _, h := range from {
		if err := run(ctx, "ip", "-n", c.NS(host), "route", "del", "blackhole", c.IP(h)+"/32"); err != nil {
			return err
		}
	}
	return nil
}

// Close stops every process (SIGTERM, then SIGKILL after 10s; PostgreSQL
// with a fast shutdown), kills anything left in the namespaces, and
// deletes them and PostgreSQL's folder. It is safe to call more than once.
func (c *Cluster) Close() {
	ctx := context.Background()
	procs := c.Procs()
	for _, p := range procs {
		sig := syscall.SIGTERM
		if p.Host == "pg" {
			sig = syscall.SIGINT // fast shutdown: SIGTERM waits for clients to leave
		}
		_ = syscall.Kill(-p.cmd.Process.Pid, sig)
	}
	deadline := time.After(10 * time.Second)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
	c.mu.Lock()
	made := slices.Clone(c.made)
	c.made = nil
	relays, delays := c.relays, c.delays
	c.relays, c.delays = nil, nil
	c.mu.Unlock()
	for _, r := range relays {
		r.close()
	}
	for _, d := range delays {
		d.close()
	}
	for i := len(made) - 1; i >= 0; i-- {
		for _, pid := range pids(ctx, made[i]) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := run(ctx, "ip", "netns", "del", made[i]); err != nil {
			c.logf("%v", err)
		}
	}
	if c.pgDir != "" {
		_ = os.RemoveAll(c.pgDir)
		c.pgDir = ""
	}
}

// sweep deletes what clusters of processes that no longer exist left
// behind (one killed, or timed out, before its cleanup ran): their
// namespaces, with anything still running in them, and PostgreSQL folders.
func sweep(ctx context.Context, log io.Writer) {
	stale := regexp.MustCompile(`^kb-(\d+)-`)
	dead := func(name string) bool {
		m := stale.FindStringSubmatch(name)
		if m == nil {
			return false
		}
		pid, _ := strconv.Atoi(m[1])
		return syscall.Kill(pid, 0) == syscall.ESRCH
	}
	names, _ := namespaces(ctx)
	for _, ns := range names {
		if !dead(ns) {
			continue
		}
		for _, pid := range pids(ctx, ns) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		if err := run(ctx, "ip", "netns", "del", ns); err == nil && log != nil {
			fmt.Fprintf(log, "cluster: deleted namespace %s, left by a run that is gone\n", ns)
		}
	}
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "kb-*-pg-*"))
	for _, d := range dirs {
		if dead(filepath.Base(d)) {
			_ = os.RemoveAll(d)
		}
	}
}

// Prefix is what every namespace the cluster made starts with.
func (c *Cluster) Prefix() string { return c.prefix }
