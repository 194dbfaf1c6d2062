package auth_test

import (
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/idptest"
	"github.com/golang-jwt/jwt/v5"
)

// Tokens of each algorithm verify against a JWKS served over HTTP, by kid or without one,
// whether the key states its alg or not; a key is used only for its own algorithm.
func TestJWKSAlgorithms(t *testing.T) {
	rs, es, ed := idptest.NewKey(t, "r1", "RS256"), idptest.NewKey(t, "e1", "ES256"), idptest.NewKey(t, "d1", "EdDSA")
	rsNoAlg := idptest.NewKey(t, "r2", "RS256")
	rsNoAlg.NoAlg = true
	idp := idptest.Start(t, rs, es, ed, rsNoAlg)
	v := verifier(t, auth.Config{JWKSURL: idp.URL})
	for _, k := range []idptest.Key{rs, es, ed, rsNoAlg} {
		accepts(t, v, k.KID, k.Sign(t, claims("alice", time.Hour)), "alice")
		noKID := k
		noKID.KID = ""
		accepts(t, v, k.KID+" without kid", noKID.Sign(t, claims("alice", time.Hour)), "alice")
	}
	// es's private key signing an ES256 token that names rs's kid: the key named is RSA.
	lying := es
	lying.KID = "r2"
	refuses(t, v, "kid of another key type", lying.Sign(t, claims("alice", time.Hour)))
	refuses(t, v, "HS256 without a secret", hsWith(t, hmacSecret, claims("alice", time.Hour)))
	refuses(t, v, "unknown signer", idptest.NewKey(t, "", "EdDSA").Sign(t, claims("alice", time.Hour)))
	if n := idp.Fetches(); n != 1 {
		t.Fatalf("%d fetches: a token without a kid, or naming a known one, fetched again", n)
	}
}

// A token naming an unknown kid makes the JWKS be fetched again (a key rotation), at most
// once a minute; a failed fetch keeps the keys there were.
func TestJWKSRefetch(t *testing.T) {
	k1, k2, k3 := idptest.NewKey(t, "k1", "RS256"), idptest.NewKey(t, "k2", "ES256"), idptest.NewKey(t, "k3", "EdDSA")
	idp := idptest.Start(t, k1)
	v := verifier(t, auth.Config{JWKSURL: idp.URL})
	if n := idp.Fetches(); n != 1 {
		t.Fatalf("%d fetches at start", n)
	}
	accepts(t, v, "k1", k1.Sign(t, claims("alice", time.Hour)), "alice")
	idp.Publish(k1, k2) // rotation: k2 is new
	accepts(t, v, "k2 after rotation", k2.Sign(t, claims("alice", time.Hour)), "alice")
	accepts(t, v, "k2 again", k2.Sign(t, claims("bob", time.Hour)), "bob")
	if n := idp.Fetches(); n != 2 {
		t.Fatalf("%d fetches after the rotation, want 2", n)
	}
	idp.Publish(k1, k2, k3)
	refuses(t, v, "k3 within the minute", k3.Sign(t, claims("alice", time.Hour)))
	refuses(t, v, "a made-up kid", withKID(t, k1, "nope"))
	if n := idp.Fetches(); n != 2 {
		t.Fatalf("%d fetches: unknown kids within a minute of a fetch fetched again", n)
	}
	accepts(t, v, "k1 still", k1.Sign(t, claims("alice", time.Hour)), "alice")
}

// With a shorter refetch interval: a failed fetch keeps the keys, and the next allowed
// fetch after the IdP is back brings the new key.
func TestJWKSFailedFetchKeepsKeys(t *testing.T) {
	k1, k2 := idptest.NewKey(t, "k1", "EdDSA"), idptest.NewKey(t, "k2", "RS256")
	idp := idptest.Start(t, k1)
	every := 100 * time.Millisecond
	v := verifier(t, auth.Config{JWKSURL: idp.URL, RefetchEvery: every})
	idp.Publish(k1, k2)
	idp.Fail(true)
	refuses(t, v, "k2 while the IdP fails", k2.Sign(t, claims("alice", time.Hour)))
	if n := idp.Fetches(); n != 2 {
		t.Fatalf("%d fetches, want the first and one failed", n)
	}
	accepts(t, v, "k1 while the IdP fails", k1.Sign(t, claims("alice", time.Hour)), "alice")
	idp.Fail(false)
	// The limiter makes the next unknown kid wait for its turn (under 10 s), then fetch.
	start := time.Now()
	accepts(t, v, "k2 once the IdP is back", k2.Sign(t, claims("alice", time.Hour)), "alice")
	if n := idp.Fetches(); n != 3 {
		t.Fatalf("%d fetches, want 3", n)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatalf("waited %v for a refetch", time.Since(start))
	}
	idp.Fail(true)
	if _, err := auth.NewVerifier(auth.Config{JWKSURL: idp.URL}); err == nil {
		t.Fatal("a verifier was made while its JWKS could not be fetched")
	}
}

func withKID(t *testing.T, k idptest.Key, kid string) string {
	t.Helper()
	k.KID = kid
	return k.Sign(t, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix()})
}
