package main

import (
	"encoding/base64"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// TestTusUnavailableSaysWhenToRetry: tus answers a media service that cannot
// be reached with 503 and Retry-After, like every other route: 1 while the
// gateway still calls media, the rest of the cool-down once its breaker for
// media is open.
func TestTusUnavailableSaysWhenToRetry(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := lis.Addr().String()
	lis.Close() // nothing listens there: media is down

	dir := t.TempDir()
	gw := startRole(t, "gateway", "--data-dir", dir, "--gateway-listen", "127.0.0.1:0", "--media-addr", down,
		"--progress-addr", down, "--notification-addr", down, "--breaker-failures", "1", "--breaker-cool-down", "1h")
	s := &suite{gateway: "http://" + gw.Gateway, dataDir: dir}
	token := s.userToken(t, "teacher", false)
	for _, want := range []struct{ from, to int }{{1, 1}, {3000, 3600}} {
		resp := s.tusRequest(t, "POST", "/v1/uploads/", token, nil, "Upload-Length", "10",
			"Upload-Metadata", "child "+base64.StdEncoding.EncodeToString([]byte("children/a")))
		after, err := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusServiceUnavailable || err != nil || after < want.from || after > want.to {
			t.Errorf("tus creation with media down: %d, Retry-After %q, want 503 with %d to %d",
				resp.StatusCode, resp.Header.Get("Retry-After"), want.from, want.to)
		}
	}
}
