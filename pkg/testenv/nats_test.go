package testenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

func TestNATSUnreachable(t *testing.T) {
	addr := testenv.FreeAddr(t)
	tests := []struct {
		name     string
		url      string
		secret   string
		require  string
		wantSkip bool
	}{
		{"password/skip", "nats://kb:hunter2@" + addr, "hunter2", "", true},
		{"password/fail", "nats://kb:hunter2@" + addr, "hunter2", "postgres, nats", false},
		{"token/skip", "nats://s3cr3t-token@" + addr, "s3cr3t-token", "", true},
		{"server list/fail", "nats://" + addr + ",nats://kb:hunter2@" + addr, "hunter2", "nats", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(testenv.NATSEnv, tc.url)
			t.Setenv(testenv.RequireEnv, tc.require)
			r := &recorder{TB: t}
			if got := testenv.NATS(r); got != "" {
				t.Errorf("NATS() = %q on an unreachable server", got)
			}
			if (r.skipped != "") != tc.wantSkip || (r.failed != "") == tc.wantSkip {
				t.Fatalf("skipped=%q failed=%q, want skip: %v", r.skipped, r.failed, tc.wantSkip)
			}
			msg := r.skipped + r.failed
			if strings.Contains(msg, tc.secret) {
				t.Errorf("message shows the secret: %s", msg)
			}
			if !strings.Contains(msg, testenv.NATSEnv) || !strings.Contains(msg, addr) {
				t.Errorf("message %q does not say which server failed and how to point at another", msg)
			}
		})
	}
}

func TestNATS(t *testing.T) {
	u := testenv.NATS(t)
	nc, err := nats.Connect(u, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to %s: %v", u, err)
	}
	defer nc.Close()

	subject := testenv.NATSPrefix(t) + ".ping"
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, []byte("pong")); err != nil {
		t.Fatal(err)
	}
	msg, err := sub.NextMsg(10 * time.Second)
	if err != nil {
		t.Fatalf("no message back on %s: %v", subject, err)
	}
	if string(msg.Data) != "pong" {
		t.Errorf("got %q, want pong", msg.Data)
	}
}

func TestNATSPrefix(t *testing.T) {
	a, b := testenv.NATSPrefix(t), testenv.NATSPrefix(t)
	if a == b {
		t.Errorf("two calls returned the same prefix %q", a)
	}
	for _, p := range []string{a, b} {
		if p == "" || strings.ContainsAny(p, "*> \t") || strings.HasSuffix(p, ".") || strings.Contains(p, "..") {
			t.Errorf("prefix %q is not a literal subject to build on", p)
		}
	}
}
