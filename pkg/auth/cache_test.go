package auth

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The token cache may only ever say what a full verification would say at
// the same moment: these tests move the clock around cached tokens.

func TestTokenCacheHonoursExpiry(t *testing.T) {
	f := newBuiltinFixture(t)
	ctx := context.Background()
	tok := f.issueAt(t, 0, "alice", false, time.Hour)
	want := Principal{Subject: "alice", Issuer: Issuer}
	if p, err := f.v.Verify(ctx, tok); err != nil || p != want {
		t.Fatalf("Verify = %+v, %v; want %+v", p, err, want)
	}
	if n := f.v.cache.len(); n != 1 {
		t.Fatalf("%d tokens cached after one verification, want 1", n)
	}
	// Still valid just before exp + leeway, from the cache...
	f.clk.Advance(time.Hour + DefaultLeeway - time.Second)
	if p, err := f.v.Verify(ctx, tok); err != nil || p != want {
		t.Fatalf("Verify just before expiry = %+v, %v; want %+v", p, err, want)
	}
	// ...and refused from the moment it expires, although it is cached.
	f.clk.Advance(time.Second)
	if _, err := f.v.Verify(ctx, tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify at expiry: err = %v, want ErrExpired", err)
	}
}

func TestTokenCacheHonoursNotBefore(t *testing.T) {
	f := newBuiltinFixture(t)
	ctx := context.Background()
	// Issued 20s ahead of the verifier's clock: valid within the leeway.
	tok := f.issueAt(t, 20*time.Second, "alice", false, time.Hour)
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// A clock stepped back puts now before nbf - leeway: the cached
	// verdict does not hold there.
	f.clk.Advance(-time.Minute)
	if _, err := f.v.Verify(ctx, tok); !errors.Is(err, ErrNotValidYet) {
		t.Fatalf("Verify before nbf: err = %v, want ErrNotValidYet", err)
	}
}

func TestTokenCacheStoresNoFailure(t *testing.T) {
	f := newBuiltinFixture(t)
	ctx := context.Background()
	early := f.issueAt(t, 5*time.Minute, "alice", false, time.Hour)
	if _, err := f.v.Verify(ctx, early); !errors.Is(err, ErrNotValidYet) {
		t.Fatalf("err = %v, want ErrNotValidYet", err)
	}
	forged := signed(t, jwt.SigningMethodEdDSA, f.evil, map[string]any{"kid": KeyID(f.userPub)},
		claimsAt(Issuer, UserAudience, "mallory", f.clk.Now()))
	if _, err := f.v.Verify(ctx, forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged token: err = %v, want ErrBadSignature", err)
	}
	if n := f.v.cache.len(); n != 0 {
		t.Fatalf("%d tokens cached after two refusals, want 0", n)
	}
	// Once valid, the token that was refused passes: the refusal did not stick.
	f.clk.Advance(5 * time.Minute)
	if _, err := f.v.Verify(ctx, early); err != nil {
		t.Fatalf("Verify once valid: %v", err)
	}
}

func TestTokenCacheKeyIsTheWholeToken(t *testing.T) {
	f := newBuiltinFixture(t)
	ctx := context.Background()
	tok := f.issueAt(t, 0, "alice", false, time.Hour)
	if _, err := f.v.Verify(ctx, tok); err != nil {
		t.Fatal(err)
	}
	// The same header and claims with another signature are not the
	// cached token.
	sig := []byte(tok)
	if sig[len(sig)-2] == 'A' {
		sig[len(sig)-2] = 'B'
	} else {
		sig[len(sig)-2] = 'A'
	}
	if _, err := f.v.Verify(ctx, string(sig)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("token with a changed signature: err = %v, want ErrBadSignature", err)
	}
}

func TestTokenCacheBound(t *testing.T) {
	userPub, userKey := newEd25519(t)
	v, err := NewVerifier(VerifierConfig{UserKey: userPub, CacheSize: 8})
	if err != nil {
		t.Fatal(err)
	}
	iss := NewUserIssuer(userKey)
	ctx := context.Background()
	for i := range 50 {
		tok, err := iss.Issue(fmt.Sprintf("user-%d", i), false, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second from the cache, if it is still there
			p, err := v.Verify(ctx, tok)
			if err != nil || p.Subject != fmt.Sprintf("user-%d", i) {
				t.Fatalf("token %d: %+v, %v", i, p, err)
			}
		}
		if n := v.cache.len(); n > 8 {
			t.Fatalf("%d tokens cached, over the bound of 8", n)
		}
	}
}

func TestTokenCacheOff(t *testing.T) {
	userPub, userKey := newEd25519(t)
	v, err := NewVerifier(VerifierConfig{UserKey: userPub, CacheSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := NewUserIssuer(userKey).Issue("alice", false, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if v.cache != nil {
		t.Fatal("a verifier with CacheSize -1 has a cache")
	}
}

// OIDC tokens are verified in full every time: a key the provider drops
// must stop its tokens at once (see cache.go).
func TestTokenCacheLeavesOIDCOut(t *testing.T) {
	p := newIDP(t)
	v := p.verifier(nil)
	tok := p.token(jwt.SigningMethodES256, p.ec256, "ec-256", "alice", nil)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	if n := v.cache.len(); n != 0 {
		t.Fatalf("%d OIDC tokens cached, want 0", n)
	}
}
