package auth

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/kinbridge/kinbridge/pkg/testenv"
)

// builtinFixture is a verifier with separate user and service keys, and an
// attacker's key that neither trusts.
type builtinFixture struct {
	clk                       *testenv.Clock
	v                         *Verifier
	users                     *UserIssuer
	services                  *ServiceIdentity
	userPub, servicePub       ed25519.PublicKey
	userKey, serviceKey, evil ed25519.PrivateKey
}

func newBuiltinFixture(t *testing.T) *builtinFixture {
	t.Helper()
	f := &builtinFixture{clk: newClock()}
	userPub, userKey := newEd25519(t)
	servicePub, serviceKey := newEd25519(t)
	_, evil := newEd25519(t)
	f.userPub, f.userKey, f.servicePub, f.serviceKey, f.evil = userPub, userKey, servicePub, serviceKey, evil
	v, err := NewVerifier(VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		t.Fatal(err)
	}
	v.now = f.clk.Now
	f.v = v
	f.users = NewUserIssuer(userKey)
	f.users.now = f.clk.Now
	f.services = NewServiceIdentity(serviceKey, "progress")
	f.services.now = f.clk.Now
	return f
}

// issueAt mints a user token as if the issuer's clock read now+offset.
func (f *builtinFixture) issueAt(t *testing.T, offset time.Duration, user string, admin bool, ttl time.Duration) string {
	t.Helper()
	iss := NewUserIssuer(f.userKey)
	iss.now = func() time.Time { return f.clk.Now().Add(offset) }
	tok, err := iss.Issue(user, admin, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifyBuiltin(t *testing.T) {
	f := newBuiltinFixture(t)
	now := f.clk.Now()
	userKID, serviceKID := KeyID(f.userPub), KeyID(f.servicePub)
	eddsa := jwt.SigningMethodEdDSA
	kid := func(k string) map[string]any { return map[string]any{"kid": k} }
	with := func(c jwt.MapClaims, k string, v any) jwt.MapClaims {
		c[k] = v
		return c
	}
	without := func(c jwt.MapClaims, k string) jwt.MapClaims {
		delete(c, k)
		return c
	}
	mustIssue := func(user string, admin bool) string {
		tok, err := f.users.Issue(user, admin, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	mustService := func() string {
		tok, err := f.services.Token()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	tests := []struct {
		name    string
		token   string
		want    Principal
		wantErr error
	}{
		{name: "valid user token", token: mustIssue("alice", false),
			want: Principal{Subject: "alice", Issuer: Issuer}},
		{name: "valid admin token", token: mustIssue("root", true),
			want: Principal{Subject: "root", Admin: true, Issuer: Issuer}},
		{name: "valid service token", token: mustService(),
			want: Principal{Subject: "service:progress", Service: "progress", Issuer: Issuer}},
		{name: "user token without kid is still a user",
			token: signed(t, eddsa, f.userKey, nil, claimsAt(Issuer, UserAudience, "bob", now)),
			want:  Principal{Subject: "bob", Issuer: Issuer}},
		{name: "expired a while ago", token: f.issueAt(t, -2*time.Hour, "alice", false, time.Hour),
			wantErr: ErrExpired},
		{name: "expired within the leeway", token: f.issueAt(t, -time.Hour+10*time.Second, "alice", false, time.Hour-20*time.Second),
			want: Principal{Subject: "alice", Issuer: Issuer}},
		{name: "nbf in the future", token: f.issueAt(t, time.Hour, "alice", false, time.Hour),
			wantErr: ErrNotValidYet},
		{name: "iat in the future without nbf",
			token:   signed(t, eddsa, f.userKey, kid(userKID), with(without(claimsAt(Issuer, UserAudience, "bob", now), "nbf"), "iat", now.Add(time.Hour).Unix())),
			wantErr: ErrNotValidYet},
		{name: "no exp",
			token:   signed(t, eddsa, f.userKey, kid(userKID), without(claimsAt(Issuer, UserAudience, "bob", now), "exp")),
			wantErr: ErrMissingClaim},
		{name: "wrong audience",
			token:   signed(t, eddsa, f.userKey, kid(userKID), claimsAt(Issuer, "someone-else", "bob", now)),
			wantErr: ErrWrongAudience},
		{name: "no audience",
			token:   signed(t, eddsa, f.userKey, kid(userKID), without(claimsAt(Issuer, UserAudience, "bob", now), "aud")),
			wantErr: ErrMissingClaim},
		{name: "user key claiming the service audience",
			token:   signed(t, eddsa, f.userKey, kid(userKID), claimsAt(Issuer, ServiceAudience, "service:progress", now)),
			wantErr: ErrWrongAudience},
		{name: "unknown issuer",
			token:   signed(t, eddsa, f.userKey, kid(userKID), claimsAt("https://evil.example", UserAudience, "bob", now)),
			wantErr: ErrUnknownIssuer},
		{name: "forged: another key, its own kid",
			token:   signed(t, eddsa, f.evil, kid("evil"), claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrUnknownKey},
		{name: "forged: another key posing as the user key",
			token:   signed(t, eddsa, f.evil, kid(userKID), claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrBadSignature},
		{name: "forged: another key posing as the service key",
			token:   signed(t, eddsa, f.evil, kid(serviceKID), claimsAt(Issuer, ServiceAudience, "service:progress", now)),
			wantErr: ErrBadSignature},
		{name: "forged: another key, no kid",
			token:   signed(t, eddsa, f.evil, nil, claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrBadSignature},
		{name: "user key posing as the service key",
			token:   signed(t, eddsa, f.userKey, kid(serviceKID), claimsAt(Issuer, ServiceAudience, "service:progress", now)),
			wantErr: ErrBadSignature},
		{name: "user key, service audience, no kid",
			token:   signed(t, eddsa, f.userKey, nil, claimsAt(Issuer, ServiceAudience, "service:progress", now)),
			wantErr: ErrBadSignature},
		{name: "user key with a service subject is not a service",
			token:   signed(t, eddsa, f.userKey, kid(userKID), claimsAt(Issuer, UserAudience, "service:progress", now)),
			wantErr: ErrBadSubject},
		{name: "service key with a user subject",
			token:   signed(t, eddsa, f.serviceKey, kid(serviceKID), claimsAt(Issuer, ServiceAudience, "alice", now)),
			wantErr: ErrBadSubject},
		{name: "alg none",
			token:   unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": userKID}, claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrAlgorithm},
		{name: "HS256 keyed with the public user key",
			token:   signed(t, jwt.SigningMethodHS256, []byte(f.userPub), kid(userKID), claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrAlgorithm},
		{name: "admin claim not a boolean",
			token:   signed(t, eddsa, f.userKey, kid(userKID), with(claimsAt(Issuer, UserAudience, "bob", now), "admin", "true")),
			wantErr: ErrMalformed},
		{name: "no subject",
			token:   signed(t, eddsa, f.userKey, kid(userKID), without(claimsAt(Issuer, UserAudience, "bob", now), "sub")),
			wantErr: ErrMissingClaim},
		{name: "critical header",
			token:   signed(t, eddsa, f.userKey, map[string]any{"kid": userKID, "crit": []string{"exp"}}, claimsAt(Issuer, UserAudience, "bob", now)),
			wantErr: ErrMalformed},
		{name: "not a JWT", token: "hello", wantErr: ErrMalformed},
		{name: "garbage segments", token: "a.b.c", wantErr: ErrMalformed},
		{name: "empty", token: "", wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := f.v.Verify(t.Context(), tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify() error = %v, want %v", err, tt.wantErr)
				}
				if got != (Principal{}) {
					t.Errorf("Verify() returned principal %+v with an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify() error = %v", err)
			}
			if got != tt.want {
				t.Errorf("Verify() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestVerifyErrorsReadWell(t *testing.T) {
	f := newBuiltinFixture(t)
	tests := []struct {
		token string
		want  string
	}{
		{f.issueAt(t, -2*time.Hour, "alice", false, time.Hour), "token expired at 2026-03-01T11:00:00Z"},
		{f.issueAt(t, time.Hour, "alice", false, time.Hour), "token not valid yet (valid from 2026-03-01T13:00:00Z)"},
		{signed(t, jwt.SigningMethodEdDSA, f.evil, map[string]any{"kid": "k1"}, claimsAt(Issuer, UserAudience, "bob", f.clk.Now())), `unknown signing key (kid "k1")`},
		{signed(t, jwt.SigningMethodEdDSA, f.evil, nil, claimsAt(Issuer, UserAudience, "bob", f.clk.Now())), "bad signature"},
		{signed(t, jwt.SigningMethodEdDSA, f.userKey, nil, claimsAt(Issuer, "web", "bob", f.clk.Now())), `wrong audience: want "kinbridge"`},
	}
	for _, tt := range tests {
		if _, err := f.v.Verify(t.Context(), tt.token); err == nil || err.Error() != tt.want {
			t.Errorf("Verify() error = %v, want %q", err, tt.want)
		}
	}
}

func TestVerifyUser(t *testing.T) {
	f := newBuiltinFixture(t)
	svc, _ := f.services.Token()
	if _, err := f.v.VerifyUser(t.Context(), svc); !errors.Is(err, ErrServiceToken) {
		t.Errorf("VerifyUser(service token) error = %v, want ErrServiceToken", err)
	}
	user, _ := f.users.Issue("alice", false, time.Hour)
	if p, err := f.v.VerifyUser(t.Context(), user); err != nil || p.Subject != "alice" {
		t.Errorf("VerifyUser(user token) = %+v, %v", p, err)
	}
	if _, err := f.v.VerifyUser(t.Context(), "x.y.z"); !errors.Is(err, ErrMalformed) {
		t.Errorf("VerifyUser(garbage) error = %v, want ErrMalformed", err)
	}
}

// A verifier given only one key accepts only that kind of token.
func TestVerifierAcceptsOnlyConfiguredKinds(t *testing.T) {
	f := newBuiltinFixture(t)
	user, _ := f.users.Issue("alice", false, time.Hour)
	svc, _ := f.services.Token()

	onlyServices, err := NewVerifier(VerifierConfig{ServiceKey: f.servicePub})
	if err != nil {
		t.Fatal(err)
	}
	onlyServices.now = f.clk.Now
	if _, err := onlyServices.Verify(t.Context(), user); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("service-only verifier: user token error = %v, want ErrUnknownKey", err)
	}
	if _, err := onlyServices.Verify(t.Context(), svc); err != nil {
		t.Errorf("service-only verifier: service token error = %v", err)
	}

	onlyUsers, err := NewVerifier(VerifierConfig{UserKey: f.userPub})
	if err != nil {
		t.Fatal(err)
	}
	onlyUsers.now = f.clk.Now
	if _, err := onlyUsers.Verify(t.Context(), svc); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("user-only verifier: service token error = %v, want ErrUnknownKey", err)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	pub, _ := newEd25519(t)
	other, _ := newEd25519(t)
	oidc := func(mod func(*OIDCConfig)) *OIDCConfig {
		c := &OIDCConfig{Issuer: "https://idp.example", Audience: "kinbridge-web"}
		mod(c)
		return c
	}
	tests := []struct {
		name string
		cfg  VerifierConfig
	}{
		{"nothing to accept", VerifierConfig{}},
		{"same user and service key", VerifierConfig{UserKey: pub, ServiceKey: pub}},
		{"short user key", VerifierConfig{UserKey: pub[:10]}},
		{"short service key", VerifierConfig{UserKey: pub, ServiceKey: other[:31]}},
		{"negative leeway", VerifierConfig{UserKey: pub, Leeway: -time.Second}},
		{"OIDC without issuer", VerifierConfig{OIDC: oidc(func(c *OIDCConfig) { c.Issuer = "" })}},
		{"OIDC posing as the built-in issuer", VerifierConfig{OIDC: oidc(func(c *OIDCConfig) { c.Issuer = Issuer })}},
		{"OIDC without audience", VerifierConfig{OIDC: oidc(func(c *OIDCConfig) { c.Audience = "" })}},
		{"OIDC issuer not http", VerifierConfig{OIDC: oidc(func(c *OIDCConfig) { c.Issuer = "file:///etc/idp" })}},
		{"OIDC issuer with a query", VerifierConfig{OIDC: oidc(func(c *OIDCConfig) { c.Issuer = "https://idp.example?x=1" })}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewVerifier(tt.cfg); err == nil {
				t.Error("NewVerifier succeeded")
			}
		})
	}
}
