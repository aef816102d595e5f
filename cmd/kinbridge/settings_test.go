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

// TestServeRefusesBadBreakerSettings: a negative failure count or a cool-down
// that is not positive stops `serve` at once, naming the settings.
func TestServeRefusesBadBreakerSettings(t *testing.T) {
	for _, args := range [][]string{{"--breaker-failures", "-1"}, {"--breaker-cool-down", "0s"}, {"--breaker-cool-down", "-5s"}} {
		err := run(t.Context(), append([]string{"serve", "all", "--data-dir", t.TempDir()}, args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--breaker-failures") || !strings.Contains(err.Error(), "--breaker-cool-down") {
			t.Errorf("%v: %v, want an error naming the settings", args, err)
		}
	}
	t.Setenv("KINBRIDGE_BREAKER_COOL_DOWN", "0s")
	if err := run(t.Context(), []string{"serve", "gateway", "--data-dir", t.TempDir()}, io.Discard, io.Discard); err == nil ||
		!strings.Contains(err.Error(), "--breaker-cool-down") {
		t.Errorf("KINBRIDGE_BREAKER_COOL_DOWN=0s: %v, want an error naming the setting", err)
	}
}
