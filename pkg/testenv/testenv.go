// Package testenv gives tests the real backends Kinbridge runs on
// (PostgreSQL, NATS, S3, Jaeger) and the outside programs some tests run
// (exiftool, ffmpeg, heif-convert; see [Tool]).
//
// A backend that cannot be reached skips the test with a message saying how
// to point at one, so `go test ./...` passes on a bare laptop. CI, which must
// not pass by skipping, names the backends it provides in
// KINBRIDGE_TEST_REQUIRE (a comma list such as "postgres,nats,s3"); for those
// an unreachable backend fails the test instead.
package testenv

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
)

// RequireEnv names the variable listing the backends whose absence fails
// tests instead of skipping them.
const RequireEnv = "KINBRIDGE_TEST_REQUIRE"

// Required reports whether KINBRIDGE_TEST_REQUIRE names backend
// (case-insensitive; entries are separated by commas, spaces ignored).
func Required(backend string) bool {
	if backend == "" {
		return false
	}
	for entry := range strings.SplitSeq(os.Getenv(RequireEnv), ",") {
		if strings.EqualFold(strings.TrimSpace(entry), backend) {
			return true
		}
	}
	return false
}

// SkipOrFail stops the test because backend is unavailable for reason: it
// fails the test if [Required] names backend, and skips it otherwise. reason
// should say how to make the backend available.
func SkipOrFail(t testing.TB, backend string, reason string) {
	t.Helper()
	if Required(backend) {
		t.Fatalf("testenv: %s is unavailable and %s=%q requires it: %s",
			backend, RequireEnv, os.Getenv(RequireEnv), reason)
		return
	}
	t.Skipf("testenv: skipping, %s is unavailable: %s (set %s=%s to fail instead of skipping)",
		backend, reason, RequireEnv, backend)
}

// SyncBuffer is a bytes.Buffer that a process's output (or a logger) may
// write to while the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
