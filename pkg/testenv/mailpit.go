package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// MailpitVersion is the Mailpit scripts/mailpit.sh builds into
// .bin/mailpit-<version> (github.com/axllent/mailpit, pinned).
const MailpitVersion = "v1.33.1"

// MailpitEnv names the variable holding the path of a Mailpit binary; unset,
// [StartMailpit] looks for .bin/mailpit-[MailpitVersion] in the repository,
// then for `mailpit` on PATH.
const MailpitEnv = "KINBRIDGE_TEST_MAILPIT"

// MailpitOption changes how [StartMailpit] starts Mailpit.
type MailpitOption func(*mailpitConfig)

type mailpitConfig struct {
	ignoreDuplicateIDs bool
}

// MailpitIgnoreDuplicateIDs starts Mailpit with --ignore-duplicate-ids: a
// message whose Message-ID it already holds is accepted over SMTP and
// dropped, so a sender that sends the same mail twice shows as one.
func MailpitIgnoreDuplicateIDs() MailpitOption {
	return func(c *mailpitConfig) { c.ignoreDuplicateIDs = true }
}

// Mailpit is a Mailpit of one test's own: an SMTP server that keeps what it
// is sent and an HTTP API to read it back.
type Mailpit struct {
	// SMTPAddr is the SMTP server's host:port (no TLS; any credentials
	// are accepted, PLAIN and LOGIN included).
	SMTPAddr string
	// APIURL is the base of the HTTP API, without a trailing slash:
	// APIURL+"/api/v1/messages".
	APIURL string

	client *http.Client
}

// MailAddress is a sender or recipient as Mailpit's API shows it.
type MailAddress struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// MailSummary is one message in Mailpit's list.
type MailSummary struct {
	ID        string        `json:"ID"`
	MessageID string        `json:"MessageID"`
	From      MailAddress   `json:"From"`
	To        []MailAddress `json:"To"`
	Subject   string        `json:"Subject"`
	Created   time.Time     `json:"Created"`
}

// Mail is one message read in full: its parts decoded.
type Mail struct {
	MailSummary
	Text string `json:"Text"`
	HTML string `json:"HTML"`
}

// StartMailpit starts Mailpit on ephemeral loopback ports for the test and
// stops it when the test ends. Its messages live in the test's temporary
// folder.
//
// Without a Mailpit binary (see [MailpitEnv] and scripts/mailpit.sh) the
// test is skipped, or fails when KINBRIDGE_TEST_REQUIRE names "mailpit";
// see [SkipOrFail].
func StartMailpit(t testing.TB, opts ...MailpitOption) *Mailpit {
	t.Helper()
	var cfg mailpitConfig
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := mailpitBinary()
	if err != nil {
		SkipOrFail(t, "mailpit", err.Error())
		return nil
	}
	// A free port found now may be taken before Mailpit binds it; a
	// second try with new ports gets past such a rare collision.
	var last error
	for range 3 {
		m, err := startMailpit(t, bin, cfg)
		if err == nil {
			return m
		}
		last = err
	}
	t.Fatalf("testenv: starting mailpit: %v", last)
	return nil
}

// mailpitBinary finds the binary: MailpitEnv, the repository's .bin, PATH.
func mailpitBinary() (string, error) {
	if p := os.Getenv(MailpitEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %v", MailpitEnv, p, err)
		}
		return p, nil
	}
	if root, ok := repoRoot(); ok {
		p := filepath.Join(root, ".bin", "mailpit-"+MailpitVersion)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("no Mailpit binary: build it with scripts/mailpit.sh (into .bin/mailpit-%s), or set %s to one", MailpitVersion, MailpitEnv)
}

// repoRoot is the nearest folder above the working directory whose go.mod
// is Kinbridge's (tests run in their package's folder).
func repoRoot() (string, bool) {
	dir, err := os.Getwd()
	if err != nil {
		return "", false
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module github.com/kinbridge/kinbridge\n") {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func freeLoopbackPort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func startMailpit(t testing.TB, bin string, cfg mailpitConfig) (*Mailpit, error) {
	smtpAddr, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	dir := t.TempDir()
	args := []string{
		"--smtp", smtpAddr, "--listen", httpAddr,
		"--database", filepath.Join(dir, "mailpit.db"),
		"--smtp-auth-accept-any", "--smtp-auth-allow-insecure",
		"--disable-version-check", "--quiet", "--max", "0",
	}
	if cfg.ignoreDuplicateIDs {
		args = append(args, "--ignore-duplicate-ids")
	}
	logFile, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); logFile.Close() }()
	stop := func() {
		_ = cmd.Process.Kill()
		<-exited
	}
	transport := &http.Transport{}
	m := &Mailpit{SMTPAddr: smtpAddr, APIURL: "http://" + httpAddr, client: &http.Client{Transport: transport, Timeout: 30 * time.Second}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-exited:
			exited <- err
			stop()
			log, _ := os.ReadFile(filepath.Join(dir, "mailpit.log"))
			return nil, fmt.Errorf("mailpit exited (%v): %s", err, log)
		default:
		}
		if m.ready() {
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, errors.New("mailpit did not answer within 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Cleanup(func() {
		transport.CloseIdleConnections()
		stop()
	})
	return m, nil
}

// ready reports whether both the HTTP API and the SMTP port answer.
func (m *Mailpit) ready() bool {
	resp, err := m.client.Get(m.APIURL + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false
	}
	conn, err := net.DialTimeout("tcp", m.SMTPAddr, time.Second)
	if err != nil {
		return false
	}
	conn.Close()
	return true
}

func (m *Mailpit) getJSON(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.APIURL+path, nil)
	if err != nil {
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %.300s", path, resp.StatusCode, body)
	}
	return json.Unmarshal(body, out)
}

// Messages lists every message Mailpit holds, newest first.
func (m *Mailpit) Messages(t testing.TB) []MailSummary {
	t.Helper()
	var out []MailSummary
	for start := 0; ; {
		var page struct {
			Total    int           `json:"total"`
			Messages []MailSummary `json:"messages"`
		}
		if err := m.getJSON(context.Background(), "/api/v1/messages?limit=500&start="+strconv.Itoa(start), &page); err != nil {
			t.Fatalf("mailpit: %v", err)
		}
		out = append(out, page.Messages...)
		start += len(page.Messages)
		if len(page.Messages) == 0 || start >= page.Total {
			return out
		}
	}
}

// Message reads one message (id as [MailSummary.ID]) with its text and
// HTML parts.
func (m *Mailpit) Message(t testing.TB, id string) Mail {
	t.Helper()
	var out Mail
	if err := m.getJSON(context.Background(), "/api/v1/message/"+url.PathEscape(id), &out); err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	return out
}

// Headers reads one message's headers, as sent (names canonical, as
// Mailpit reports them).
func (m *Mailpit) Headers(t testing.TB, id string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	if err := m.getJSON(context.Background(), "/api/v1/message/"+url.PathEscape(id)+"/headers", &out); err != nil {
		t.Fatalf("mailpit: %v", err)
	}
	return out
}

// WaitMessages polls until Mailpit holds at least n messages and returns
// them, newest first (SMTP acceptance and Mailpit's storing are not one
// step).
func (m *Mailpit) WaitMessages(t testing.TB, n int) []MailSummary {
	t.Helper()
	var got []MailSummary
	Eventually(t, fmt.Sprintf("mailpit holding %d messages", n), func() string {
		got = m.Messages(t)
		if len(got) >= n {
			return ""
		}
		return fmt.Sprintf("it holds %d", len(got))
	})
	return got
}
