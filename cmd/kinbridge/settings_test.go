package main

import (
	"io"
	"strings"
	"testing"
)

// TestServeRefusesBadNATSDeployment checks that a deployment name NATS subjects cannot carry
// stops `serve` at once with an error naming the setting and the rule, from a flag or from the
// environment.
func TestServeRefusesBadNATSDeployment(t *testing.T) {
	for _, name := range []string{"a.b", "*", "prod eu", strings.Repeat("x", 65)} {
		err := run(t.Context(), []string{"serve", "all", "--data-dir", t.TempDir(), "--nats-deployment", name}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--nats-deployment") || !strings.Contains(err.Error(), "letters, digits, '-' or '_'") {
			t.Errorf("--nats-deployment %q: %v, want an error naming the setting and what a name may be", name, err)
		}
	}
	t.Setenv("KINBRIDGE_NATS_DEPLOYMENT", "a.b")
	if err := run(t.Context(), []string{"serve", "notification", "--data-dir", t.TempDir()}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--nats-deployment") {
		t.Errorf("KINBRIDGE_NATS_DEPLOYMENT=a.b: %v, want an error naming the setting", err)
	}
}

// TestServeRefusesLimitsThatTurnThemselvesOff: a timeout, body limit or
// stream limit of zero or less (or a stream limit past HTTP/2's range)
// stops `serve` at once, naming the setting, instead of silently meaning
// "no limit".
func TestServeRefusesLimitsThatTurnThemselvesOff(t *testing.T) {
	for _, args := range [][]string{
		{"--http-read-header-timeout", "0s"},
		{"--http-read-timeout", "-1s"},
		{"--http-write-timeout", "0s"},
		{"--http-idle-timeout", "0s"},
		{"--max-json-bytes", "0"},
		{"--grpc-max-concurrent-streams", "0"},
		{"--grpc-max-concurrent-streams", "4294967296"},
	} {
		err := run(t.Context(), append([]string{"serve", "all", "--data-dir", t.TempDir()}, args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v, want an error naming the setting", args, err)
		}
	}
}
