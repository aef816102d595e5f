// Package banner is the contract between `kinbridge serve`, which prints
// where each part it started listens, and the programs that start it and
// need those addresses (the in-process suite tests, the e2e harness, the
// benchmarks). The labels, the layout and the parser live here only.
//
// A banner looks like this; address lines are indented, the last line
// starts with [LastLinePrefix]:
//
//	Kinbridge v0.1.0 is up (serve all, data in data):
//	  progress gRPC   127.0.0.1:9101
//	  REST gateway    http://127.0.0.1:8080
//	  metrics         http://127.0.0.1:9464/metrics
//	  recent traces   http://127.0.0.1:9464/debug/tracez
//
//	Open this link to sign in as the administrator (...):
//	  sign in         http://127.0.0.1:8080/auth/link?code=...
//
//	More tokens: kinbridge token issue ...
package banner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// The labels of the address lines.
const (
	Progress     = "progress gRPC"
	Media        = "media gRPC"
	Notification = "notification gRPC"
	Gateway      = "REST gateway"
	APIDocs      = "API docs"
	OpenAPI      = "OpenAPI"
	Tracez       = "recent traces"
	Metrics      = "metrics"
	// SignIn labels the one-time link that signs a browser in.
	SignIn = "sign in"
)

// LastLinePrefix starts the banner's last line.
const LastLinePrefix = "More tokens:"

// Line formats one address line.
func Line(label, value string) string { return fmt.Sprintf("  %-15s %s", label, value) }

// Addresses is what a banner says. Addresses are host:port, without a
// scheme or path; a part that was not started is "".
type Addresses struct {
	Progress, Media, Notification, Gateway, Metrics string
	// SignInLink is the one-time link that signs a browser in as the
	// administrator (a full URL), "" when none was printed.
	SignInLink string
}

// Read reads a banner from r up to and including its last line, and
// returns the addresses it names. Read may buffer past the last line: a
// caller that keeps r open should go on draining it (the server's later
// output is not read here).
func Read(r io.Reader) (Addresses, error) {
	var a Addresses
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, LastLinePrefix) {
			return a, nil
		}
		trimmed := strings.TrimSpace(line)
		if !strings.HasPrefix(line, "  ") {
			continue
		}
		if v, ok := strings.CutPrefix(trimmed, SignIn+" "); ok {
			a.SignInLink = strings.TrimSpace(v)
			continue
		}
		for label, field := range map[string]*string{
			Progress: &a.Progress, Media: &a.Media, Notification: &a.Notification,
			Gateway: &a.Gateway, Metrics: &a.Metrics,
		} {
			if v, ok := strings.CutPrefix(trimmed, label+" "); ok {
				*field = hostPort(strings.TrimSpace(v))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return a, err
	}
	return a, errors.New("the output ended before the banner's last line: kinbridge did not start")
}

// hostPort strips a URL down to its host:port.
func hostPort(v string) string {
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		return u.Host
	}
	return v
}
