package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"
)

// FuzzVerify feeds arbitrary bearer tokens to the verifier: it must never
// panic, and must never accept a token the fuzzer could not have signed.
func FuzzVerify(f *testing.F) {
	userPub, userKey := newEd25519(f)
	servicePub, serviceKey := newEd25519(f)
	v, err := NewVerifier(VerifierConfig{UserKey: userPub, ServiceKey: servicePub})
	if err != nil {
		f.Fatal(err)
	}
	user, _ := NewUserIssuer(userKey).Issue("alice", true, time.Hour)
	svc, _ := NewServiceIdentity(serviceKey, "media").Token()
	for _, seed := range []string{
		user, svc, "", "a.b.c", "..", strings.Repeat(".", 5),
		unsigned(map[string]any{"alg": "none"}, map[string]any{"iss": Issuer}),
		user[:strings.LastIndexByte(user, '.')+1],
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		p, err := v.Verify(t.Context(), token)
		if err == nil && token != user && token != svc {
			t.Fatalf("accepted a token nobody signed: %q -> %+v", token, p)
		}
		if err != nil && p != (Principal{}) {
			t.Fatalf("principal %+v returned with error %v", p, err)
		}
	})
}

// FuzzParseJWKS feeds arbitrary documents to the JWKS parser, which reads
// whatever the configured URL returns.
func FuzzParseJWKS(f *testing.F) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	edPub, _ := newEd25519(f)
	f.Add(mustJSON(f, map[string]any{"keys": []any{
		jwkOf(f, "r", &rsaKey.PublicKey), jwkOf(f, "e", &ecKey.PublicKey), jwkOf(f, "o", edPub),
	}}))
	f.Add([]byte(`{"keys":[{"kty":"EC","kid":"a","crv":"P-256","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parseJWKS(data)
		if err != nil {
			return
		}
		if len(keys) == 0 {
			t.Fatal("no error and no keys")
		}
		for kid, ks := range keys {
			for _, k := range ks {
				if kid == "" || k.key == nil || len(k.algs) == 0 {
					t.Fatalf("unusable key %q accepted: %+v", kid, k)
				}
			}
		}
	})
}
