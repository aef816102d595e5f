package gateway

import (
	"strings"
	"testing"
)

// The provider's verified address (the ID token's email with
// email_verified, asked for with the email scope) reaches /auth/session
// and, inside the session's token, every service the browser calls.
func TestSignInCarriesTheVerifiedEmail(t *testing.T) {
	f := newSignInFixture(t)
	b := browser(t)
	sessionCookieOf(t, f.signIn(t, b, "/"))
	if s := f.session(t, b); s["user"] != "maria-sub" || s["email"] != "maria@example.com" {
		t.Fatalf("/auth/session: %v; want maria's address", s)
	}
	if a := authDo(t, b, "GET", f.url+"/v1/children/abc", nil); a.status != 200 {
		t.Fatalf("/v1 with the cookie: %d %s", a.status, a.body)
	}
	token, _ := strings.CutPrefix(f.lastUpstream(), "Bearer ")
	p, err := f.verifier.VerifyUser(t.Context(), token)
	if err != nil || p.VerifiedEmail() != "maria@example.com" {
		t.Fatalf("the upstream principal: %+v %v; want maria@example.com, verified", p, err)
	}
}
