package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/pkg/auth"
	"github.com/kinbridge/kinbridge/pkg/config"
)

// serveKey creates the user signing key in dataDir as `kinbridge serve`
// does on its first run, and returns a verifier of the tokens it signs.
func serveKey(t *testing.T, dataDir string) *auth.Verifier {
	t.Helper()
	key, created, err := auth.LoadOrCreateKey(filepath.Join(dataDir, "keys", "user.pem"))
	if err != nil || !created {
		t.Fatalf("creating the key: created %v, %v", created, err)
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{UserKey: key.Public().(ed25519.PublicKey)})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// issue runs `kinbridge token issue ARGS` and returns what it printed.
func issue(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append([]string{"token", "issue"}, args...), &out, &errOut)
	return strings.TrimSpace(out.String()), errOut.String(), err
}

func TestTokenIssue(t *testing.T) {
	dir := t.TempDir()
	v := serveKey(t, dir)
	tests := []struct {
		name      string
		args      []string
		user      string
		admin     bool
		wantUsage string // a usage error containing this, instead of a token
	}{
		// The banner's first-run token named "admin": children and
		// guardianships made with it still belong to the same user.
		{"admin alone is the administrator", []string{"--admin"}, defaultAdminUser, true, ""},
		{"admin with a user", []string{"--admin", "--user", "grace"}, "grace", true, ""},
		{"a user", []string{"--user", "maria"}, "maria", false, ""},
		{"neither", nil, "", false, "--admin"},
		{"a blank user", []string{"--user", " "}, "", false, "--user is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, stderr, err := issue(t, append([]string{"--data-dir", dir}, tt.args...)...)
			if tt.wantUsage != "" {
				if _, ok := errors.AsType[usageError](err); !ok || !strings.Contains(err.Error(), tt.wantUsage) || tok != "" {
					t.Fatalf("got %q, %v; want a usage error containing %q", tok, err, tt.wantUsage)
				}
				return
			}
			if err != nil || stderr != "" {
				t.Fatalf("token issue: %v (stderr %q)", err, stderr)
			}
			p, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("the token does not verify with the key in --data-dir: %v", err)
			}
			if p.Subject != tt.user || p.Admin != tt.admin {
				t.Fatalf("the token names %q (admin %v), want %q (admin %v)", p.Subject, p.Admin, tt.user, tt.admin)
			}
		})
	}
}

// TestTokenIssueFindsMakeRunsKey: `make run` starts `serve all` in the
// repository root with no --data-dir, so its key is ./data/keys/user.pem;
// the README's `go run ./cmd/kinbridge token issue --admin`, run from the
// same place, must sign with that key and not create another.
func TestTokenIssueFindsMakeRunsKey(t *testing.T) {
	root := t.TempDir()
	t.Chdir(root)
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, "KINBRIDGE_") {
			t.Setenv(name, "")
			os.Unsetenv(name)
		}
	}
	all := config.New("serve")
	(&settings{}).define(all)
	v := serveKey(t, all.FlagSet().Lookup("data-dir").DefValue)

	tok, stderr, err := issue(t, "--admin")
	if err != nil || stderr != "" {
		t.Fatalf("token issue --admin: %v (stderr %q)", err, stderr)
	}
	if p, err := v.Verify(context.Background(), tok); err != nil || p.Subject != defaultAdminUser || !p.Admin {
		t.Fatalf("not an administrator's token signed with serve's key: %+v, %v", p, err)
	}

	// KINBRIDGE_DATA_DIR moves both, as the e2e harness and scripts set it.
	other := t.TempDir()
	v = serveKey(t, other)
	t.Setenv("KINBRIDGE_DATA_DIR", other)
	tok, _, err = issue(t, "--admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("KINBRIDGE_DATA_DIR was not read: %v", err)
	}
}
