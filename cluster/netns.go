//go:build cluster

package cluster

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The network: every host is a network namespace with one interface, eth0,
// whose veth peer is plugged into a bridge in the switch namespace. Nothing
// is made in the machine's own namespace, so no process of the cluster can
// reach an address outside it (the machine's loopback servers included),
// and nothing outside can reach the cluster.

// run runs a command (ip, tc) and returns its error with its output.
func run(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// namespaces lists the machine's named network namespaces (ip netns list).
func namespaces(ctx context.Context) ([]string, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "list").Output()
	if err != nil {
		return nil, fmt.Errorf("ip netns list: %w", err)
	}
	var names []string
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	return names, nil
}

// addSwitch makes the switch namespace and its bridge.
func addSwitch(ctx context.Context, ns string) error {
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "link", "add", "br0", "type", "bridge"},
		{"-n", ns, "link", "set", "br0", "up"},
	} {
		if err := run(ctx, "ip", args...); err != nil {
			return err
		}
	}
	return nil
}

// addHost makes namespace ns with eth0 at ip/24, its peer (named port) on
// the switch's bridge, and netem (a tc netem spec: "delay 2ms loss 0.5%")
// on eth0's way out, so every packet between two hosts crosses two of them.
func addHost(ctx context.Context, switchNS, ns, port, ip, netem string) error {
	if err := run(ctx, "ip", "netns", "add", ns); err != nil {
		return err
	}
	steps := [][]string{
		{"ip", "-n", switchNS, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"ip", "-n", switchNS, "link", "set", port, "master", "br0", "up"},
		{"ip", "-n", ns, "link", "set", "lo", "up"},
		{"ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"},
		{"ip", "-n", ns, "link", "set", "eth0", "up"},
	}
	if netem != "" {
		steps = append(steps, append([]string{"tc", "-n", ns, "qdisc", "add", "dev", "eth0", "root", "netem"}, strings.Fields(netem)...))
	}
	for _, s := range steps {
		if err := run(ctx, s[0], s[1:]...); err != nil {
			return err
		}
	}
	return nil
}

// netemLoss is the loss of a netem spec ("delay 2ms loss 0.5%" -> "0.5%"),
// or "" when it has none.
func netemLoss(spec string) string {
	f := strings.Fields(spec)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "loss" {
			return f[i+1]
		}
	}
	return ""
}

// netemDelay is the delay of a netem spec ("delay 2ms loss 0.5%" -> 2ms),
// or 0 when it has none.
func netemDelay(spec string) (time.Duration, error) {
	f := strings.Fields(spec)
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "delay" {
			d, err := time.ParseDuration(f[i+1])
			if err != nil || d < 0 {
				return 0, fmt.Errorf("netem delay %q: want a duration such as 2ms", f[i+1])
			}
			return d, nil
		}
	}
	return 0, nil
}

// lossTable is the nftables table addLoss makes in a host.
const lossTable = "kbloss"

// addLoss drops loss ("0.5%") of what host ns sends on eth0 at random, as
// netem's loss would, with nftables (for kernels without netem); the
// rule's counter says how many packets it dropped (see lostPackets).
func addLoss(ctx context.Context, ns, loss string) error {
	pct, err := strconv.ParseFloat(strings.TrimSuffix(loss, "%"), 64)
	if err != nil || pct <= 0 || pct >= 100 {
		return fmt.Errorf("loss %q: want a percentage between 0 and 100", loss)
	}
	const scale = 100_000 // loss in thousandths of a percent
	steps := [][]string{
		{"nft", "add", "table", "inet", lossTable},
		{"nft", "add", "chain", "inet", lossTable, "out", "{ type filter hook output priority 0; policy accept; }"},
		{"nft", "add", "rule", "inet", lossTable, "out", "oifname", "eth0", "numgen", "random", "mod", strconv.Itoa(scale),
			"<", strconv.Itoa(int(pct * scale / 100)), "counter", "drop"},
	}
	for _, s := range steps {
		if err := run(ctx, "ip", append([]string{"netns", "exec", ns}, s...)...); err != nil {
			return err
		}
	}
	return nil
}

// lostPackets is how many packets addLoss's rule dropped in host ns.
func lostPackets(ctx context.Context, ns string) (int64, error) {
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "nft", "list", "table", "inet", lossTable).Output()
	if err != nil {
		return 0, err
	}
	m := regexp.MustCompile(`counter packets (\d+)`).FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("no counter in %s's loss table", ns)
	}
	return strconv.ParseInt(string(m[1]), 10, 64)
}

// netemMissing reports whether the kernel lacks tc netem (sch_netem), which
// some kernels (a micro-VM's) are built without: ns is a host made already.
func netemMissing(ctx context.Context, ns string) bool {
	err := run(ctx, "tc", "-n", ns, "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms")
	if err == nil {
		_ = run(ctx, "tc", "-n", ns, "qdisc", "del", "dev", "lo", "root")
		return false
	}
	return strings.Contains(err.Error(), "unknown")
}

// pids lists the processes in namespace ns, never this one: the thread
// that made a connection from a host may be this process's main thread,
// which then stays in that host's namespace (see Dialer), and ip netns pids
// goes by the main thread.
func pids(ctx context.Context, ns string) []int {
	out, err := exec.CommandContext(ctx, "ip", "netns", "pids", ns).Output()
	if err != nil {
		return nil
	}
	var list []int
	for _, f := range strings.Fields(string(out)) {
		var pid int
		if _, err := fmt.Sscan(f, &pid); err == nil && pid != os.Getpid() {
			list = append(list, pid)
		}
	}
	return list
}

// Dialer returns a DialContext whose connections are made from inside
// the network namespace ns: the test and `make cluster` reach the hosts as
// the client host does, without an address in the machine's namespace.
func Dialer(ns string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	path := "/run/netns/" + ns
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			// The socket belongs to the namespace of the thread that makes
			// it. This goroutine's thread enters ns and is never unlocked,
			// so Go ends the thread with the goroutine instead of reusing
			// it in the wrong namespace.
			runtime.LockOSThread()
			f, err := os.Open(path)
			if err != nil {
				done <- result{err: err}
				return
			}
			defer f.Close()
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
				done <- result{err: fmt.Errorf("entering %s: %w", ns, err)}
				return
			}
			var d net.Dialer
			conn, err := d.DialContext(ctx, network, addr)
			done <- result{conn, err}
		}()
		r := <-done
		return r.conn, r.err
	}
}
