package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/kinbridge/kinbridge/internal/banner"
	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// TestRevokedGuardianCookie: a session does not carry access of its own.
// Services check who may see a child on every request, so once an
// administrator revokes a guardianship, the guardian's still-live cookie
// gets 404 on the child (and the child leaves their users/me), with no
// sign-out needed.
func TestRevokedGuardianCookie(t *testing.T) {
	idp := testenv.StartOIDCProvider(t)
	idp.AddUser("boss@idp", "boss", "boss-password")
	idp.AddUser("maria@idp", "maria", "maria-password")
	s := startSuite(t, "--oidc-issuer", idp.Issuer, "--oidc-client-id", "kinbridge-web", "--oidc-client-secret", "web-secret",
		"--oidc-admin-subjects", "boss@idp")
	idp.AddClient("kinbridge-web", "web-secret", s.gateway+"/auth/callback", 0)
	admin := s.oidcSignIn(t, idp, "boss", "/")
	adminCSRF := s.call(t, "GET", "/auth/session", "", "", "Cookie", admin).json(t)["csrfToken"].(string)
	r := s.call(t, "POST", "/v1/children", "", `{"displayName":"Ada"}`, "Cookie", admin, "X-CSRF-Token", adminCSRF)
	if r.status != 200 {
		t.Fatalf("create a child: %d %s", r.status, r.body)
	}
	child := r.json(t)["name"].(string)
	r = s.call(t, "POST", "/v1/"+child+"/guardians", "", `{"user":"maria@idp","role":"ROLE_GUARDIAN"}`, "Cookie", admin, "X-CSRF-Token", adminCSRF)
	if r.status != 200 {
		t.Fatalf("add maria: %d %s", r.status, r.body)
	}
	guardianship := r.json(t)["name"].(string)

	maria := s.oidcSignIn(t, idp, "maria", "/")
	if r := s.call(t, "GET", "/v1/"+child, "", "", "Cookie", maria); r.status != 200 {
		t.Fatalf("maria reads her child by cookie: %d %s", r.status, r.body)
	}
	if r := s.call(t, "DELETE", "/v1/"+guardianship, "", "", "Cookie", admin, "X-CSRF-Token", adminCSRF); r.status != 200 {
		t.Fatalf("revoke maria: %d %s", r.status, r.body)
	}
	// Her session lives on...
	if who := s.call(t, "GET", "/auth/session", "", "", "Cookie", maria).json(t); who["signedIn"] != true {
		t.Fatalf("maria's session after the revocation: %v", who)
	}
	// ...but reaches the child no more.
	for _, path := range []string{"/v1/" + child, "/v1/" + child + "/assessments"} {
		if r := s.call(t, "GET", path, "", "", "Cookie", maria); r.status != 404 {
			t.Errorf("GET %s by the revoked guardian's cookie: %d %s, want 404", path, r.status, r.body)
		}
	}
	if r := s.call(t, "GET", "/v1/users/me", "", "", "Cookie", maria); r.status != 200 || strings.Contains(string(r.body), child) {
		t.Errorf("users/me after the revocation: %d %s", r.status, r.body)
	}
}

// TestGatewaysShareSealedSessions: two gateways of one deployment (one
// data directory, so one service key) on one Redis share a browser's
// session, though the values in Redis are sealed with a key derived from
// the service key.
func TestGatewaysShareSealedSessions(t *testing.T) {
	redisURL := testenv.Redis(t)
	s := startSuite(t, "--redis-url", redisURL)
	first := s.browserGet(t, s.signInLink)
	cookie := cookieHeader(t, first)

	ctx, cancel := context.WithCancel(context.Background())
	out, w := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "gateway", "--data-dir", s.dataDir, "--gateway-listen", "127.0.0.1:0",
			"--metrics-listen", "", "--log-level", "warn", "--redis-url", redisURL,
			"--progress-addr", s.progress, "--media-addr", s.media, "--notification-addr", s.notification}, w, io.Discard)
		w.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve gateway ended with %v", err)
		}
	})
	addrs, err := banner.Read(out)
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, out)
	other := &suite{gateway: "http://" + addrs.Gateway}
	if who := other.call(t, "GET", "/auth/session", "", "", "Cookie", cookie).json(t); who["signedIn"] != true || who["user"] != "admin" {
		t.Fatalf("the session from the first gateway at the second: %v", who)
	}
	if r := other.call(t, "GET", "/v1/children", "", "", "Cookie", cookie); r.status != 200 {
		t.Fatalf("/v1 at the second gateway by the first's cookie: %d %s", r.status, r.body)
	}
}
