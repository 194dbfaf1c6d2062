package auth_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"strconv"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/idptest"
	"github.com/golang-jwt/jwt/v5"
)

var hmacSecret = []byte("0123456789abcdef0123456789abcdef")

func verifier(t *testing.T, cfg auth.Config) *auth.Verifier {
	t.Helper()
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(v.Close)
	return v
}

func claims(sub string, exp time.Duration) jwt.MapClaims {
	return jwt.MapClaims{"sub": sub, "exp": time.Now().Add(exp).Unix()}
}

func accepts(t *testing.T, v *auth.Verifier, name, tok, user string) auth.Identity {
	t.Helper()
	id, err := v.Verify(context.Background(), tok)
	if err != nil || id.User != user {
		t.Fatalf("%s: refused or wrong user: %+v %v", name, id, err)
	}
	return id
}

func refuses(t *testing.T, v *auth.Verifier, name, tok string) {
	t.Helper()
	if id, err := v.Verify(context.Background(), tok); err == nil {
		t.Errorf("%s: accepted as %+v", name, id)
	}
}

// hsWith signs claims with HS256 and key as the HMAC secret.
func hsWith(t *testing.T, key []byte, c jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func unsigned(c string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + enc([]byte(c)) + "."
}

// Each algorithm from a PEM file verifies its own tokens, and only the algorithm of the
// key's type is accepted: an HS256 token whose secret is the public key file (the classic
// algorithm confusion), another algorithm's token, alg none are refused.
func TestPublicKeyFile(t *testing.T) {
	for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			key := idptest.NewKey(t, "", alg)
			pemBytes := key.PEM(t)
			for name, cfg := range map[string]auth.Config{
				"alone":       {PublicKeyPEM: pemBytes},
				"with secret": {PublicKeyPEM: pemBytes, Secret: hmacSecret},
			} {
				v := verifier(t, cfg)
				accepts(t, v, name, key.Sign(t, claims("alice", time.Hour)), "alice")
				exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
				refuses(t, v, name+": HS256 with the PEM as secret", hsWith(t, pemBytes, claims("alice", time.Hour)))
				refuses(t, v, name+": HS256 with the PEM trimmed as secret", hsWith(t, bytes.TrimSpace(pemBytes), claims("alice", time.Hour)))
				refuses(t, v, name+": alg none", unsigned(`{"sub":"alice","exp":`+exp+`}`))
				for _, other := range []string{"RS256", "ES256", "EdDSA"} {
					if other != alg {
						refuses(t, v, name+": "+other, idptest.NewKey(t, "", other).Sign(t, claims("alice", time.Hour)))
					}
				}
				refuses(t, v, name+": another key", idptest.NewKey(t, "", alg).Sign(t, claims("alice", time.Hour)))
				if _, err := v.Verify(context.Background(), hsWith(t, hmacSecret, claims("bob", time.Hour))); (err == nil) != (cfg.Secret != nil) {
					t.Errorf("%s: HS256 with the secret: %v", name, err)
				}
			}
		})
	}
	// RS512 and PS256 are other algorithms for the same RSA key: not configured.
	key := idptest.NewKey(t, "", "RS256")
	v := verifier(t, auth.Config{PublicKeyPEM: key.PEM(t)})
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS512, jwt.SigningMethodPS256} {
		refuses(t, v, m.Alg(), idptest.Key{Method: m, Signer: key.Signer}.Sign(t, claims("alice", time.Hour)))
	}
}

// A PEM file holds public keys of a usable kind only; several keys (a rotation) all work.
func TestPublicKeyFileContents(t *testing.T) {
	rs, ed := idptest.NewKey(t, "", "RS256"), idptest.NewKey(t, "", "EdDSA")
	rs2 := idptest.NewKey(t, "", "RS256")
	v := verifier(t, auth.Config{PublicKeyPEM: append(append(rs.PEM(t), ed.PEM(t)...), rs2.PEM(t)...)})
	for name, k := range map[string]idptest.Key{"rsa": rs, "ed25519": ed, "second rsa": rs2} {
		accepts(t, v, name, k.Sign(t, claims("alice", time.Hour)), "alice")
	}
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub := func(k any) []byte {
		der, err := x509.MarshalPKIXPublicKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	}
	privDER, _ := x509.MarshalPKCS8PrivateKey(p384)
	for name, data := range map[string][]byte{
		"empty":       {},
		"not PEM":     []byte("hello"),
		"RSA 1024":    pub(&small.PublicKey),
		"P-384":       pub(&p384.PublicKey),
		"private key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: privDER}),
		"bad DER":     pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("x")}),
	} {
		if _, err := auth.NewVerifier(auth.Config{PublicKeyPEM: data}); err == nil {
			t.Errorf("%s: a verifier was made", name)
		}
	}
	if _, err := auth.NewVerifier(auth.Config{}); err == nil {
		t.Error("a verifier without keys was made")
	}
	if _, err := auth.NewVerifier(auth.Config{Secret: []byte("short")}); err == nil {
		t.Error("a verifier with a short secret was made")
	}
	if _, err := auth.NewVerifier(auth.Config{PublicKeyPEM: rs.PEM(t), JWKSURL: "https://id.example/jwks"}); err == nil {
		t.Error("a verifier with a PEM file and a JWKS URL was made")
	}
}

// exp and nbf are honoured with 30 s of leeway: 20 s past exp is taken, 40 s is not; an
// nbf 20 s ahead is taken, 40 s is not (10 s from the edge either way, for a busy machine:
// TestLeewayEdges checks the edges themselves on a stopped clock). iss and aud must match
// when configured.
func TestClaimsRules(t *testing.T) {
	key := idptest.NewKey(t, "", "ES256")
	rules := auth.Rules{Issuer: "https://id.example", Audience: "chat"}
	v := verifier(t, auth.Config{PublicKeyPEM: key.PEM(t), Rules: rules})
	now := time.Now()
	mk := func(mod func(jwt.MapClaims)) string {
		c := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix(), "iss": "https://id.example", "aud": "chat"}
		mod(c)
		return key.Sign(t, c)
	}
	good := map[string]string{
		"plain":                     mk(func(jwt.MapClaims) {}),
		"expired 20 s ago":          mk(func(c jwt.MapClaims) { c["exp"] = now.Add(-20 * time.Second).Unix() }),
		"nbf in 20 s":               mk(func(c jwt.MapClaims) { c["nbf"] = now.Add(20 * time.Second).Unix() }),
		"aud a list":                mk(func(c jwt.MapClaims) { c["aud"] = []string{"billing", "chat"} }),
		"chat_admin false":          mk(func(c jwt.MapClaims) { c["chat_admin"] = false }),
		"other claims are ignored":  mk(func(c jwt.MapClaims) { c["realm_access"] = map[string]any{"roles": []string{"x"}} }),
		"chat_admin null, no admin": mk(func(c jwt.MapClaims) { c["chat_admin"] = nil }),
	}
	for name, tok := range good {
		if id := accepts(t, v, name, tok, "alice"); id.Admin {
			t.Errorf("%s: admin", name)
		}
	}
	bad := map[string]string{
		"expired 40 s ago":      mk(func(c jwt.MapClaims) { c["exp"] = now.Add(-40 * time.Second).Unix() }),
		"nbf in 40 s":           mk(func(c jwt.MapClaims) { c["nbf"] = now.Add(40 * time.Second).Unix() }),
		"no exp":                mk(func(c jwt.MapClaims) { delete(c, "exp") }),
		"another issuer":        mk(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }),
		"no issuer":             mk(func(c jwt.MapClaims) { delete(c, "iss") }),
		"another audience":      mk(func(c jwt.MapClaims) { c["aud"] = "billing" }),
		"no audience":           mk(func(c jwt.MapClaims) { delete(c, "aud") }),
		"beyond max lifetime":   mk(func(c jwt.MapClaims) { c["exp"] = now.Add(8 * 24 * time.Hour).Unix() }),
		"chat_admin a string":   mk(func(c jwt.MapClaims) { c["chat_admin"] = "true" }),
		"chat_admin a number":   mk(func(c jwt.MapClaims) { c["chat_admin"] = 1 }),
		"sub not a user id":     mk(func(c jwt.MapClaims) { c["sub"] = "al ice" }),
		"exp a string":          mk(func(c jwt.MapClaims) { c["exp"] = strconv.FormatInt(now.Add(time.Hour).Unix(), 10) }),
		"nbf a string":          mk(func(c jwt.MapClaims) { c["nbf"] = "0" }),
		"iss a number":          mk(func(c jwt.MapClaims) { c["iss"] = 7 }),
		"sub missing":           mk(func(c jwt.MapClaims) { delete(c, "sub") }),
		"exp far in the future": mk(func(c jwt.MapClaims) { c["exp"] = int64(253402300799) }),
	}
	for name, tok := range bad {
		refuses(t, v, name, tok)
	}
	admin := accepts(t, v, "admin", mk(func(c jwt.MapClaims) { c["chat_admin"] = true }), "alice")
	if !admin.Admin || admin.Expires.Unix() != now.Add(time.Hour).Unix() {
		t.Fatalf("admin token: %+v", admin)
	}
}
