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

// TestServeRefusesCapsThatRefuseEverything: a cap per user below 1 would
// refuse every feed, subscription or upload, and a cap on bytes under way
// below the largest upload would refuse that upload for ever; `serve`
// stops at once with an error naming the setting.
func TestServeRefusesCapsThatRefuseEverything(t *testing.T) {
	for _, flag := range []string{"max-feeds-per-user", "max-subscriptions-per-user", "max-uploads-per-user", "max-upload-bytes-per-user"} {
		err := run(t.Context(), []string{"serve", "all", "--data-dir", t.TempDir(), "--" + flag, "0"}, io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--"+flag) {
			t.Errorf("--%s 0: %v, want an error naming the setting", flag, err)
		}
	}
	t.Setenv("KINBRIDGE_MAX_UPLOAD_BYTES_PER_USER", "1000")
	err := run(t.Context(), []string{"serve", "media", "--data-dir", t.TempDir(), "--media-listen", "127.0.0.1:0", "--metrics-listen", ""}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--max-upload-bytes-per-user") || !strings.Contains(err.Error(), "largest upload") {
		t.Errorf("KINBRIDGE_MAX_UPLOAD_BYTES_PER_USER=1000 with 4 GiB videos: %v, want an error", err)
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
