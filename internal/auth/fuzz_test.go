package auth

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// FuzzVerify checks that Verify never panics and never accepts a token that is not an
// HS256 token signed with the secret, unexpired, whose sub is a valid user id.
func FuzzVerify(f *testing.F) {
	good, _ := Sign(secret, "alice", time.Hour)
	expired, _ := Sign(secret, "alice", -time.Hour)
	other, _ := Sign([]byte("another-secret-another-secret-xx"), "alice", time.Hour)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Subject: "alice",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	for _, s := range []string{good, expired, other, hs512, none("alice"), forge(good, "mallory"), "", ".", "..", "a.b.c",
		good + "=", strings.ToUpper(good), good[:len(good)-1]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := Verify(secret, token, Rules{})
		if err != nil {
			if id != (Identity{}) {
				t.Fatalf("an identity with an error: %+v %v", id, err)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts: %q", len(parts), token)
		}
		sig, err := base64.RawURLEncoding.DecodeString(parts[2])
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(parts[0] + "." + parts[1]))
		if err != nil || !hmac.Equal(sig, mac.Sum(nil)) {
			t.Fatalf("accepted a token not signed with the secret: %q", token)
		}
		var head struct {
			Alg string `json:"alg"`
		}
		var claims struct {
			Sub string  `json:"sub"`
			Exp float64 `json:"exp"`
		}
		if decode(parts[0], &head) != nil || head.Alg != "HS256" {
			t.Fatalf("accepted alg %q: %q", head.Alg, token)
		}
		if decode(parts[1], &claims) != nil || claims.Sub != id.User || claims.Exp == 0 {
			t.Fatalf("accepted claims %+v as %+v: %q", claims, id, token)
		}
		if time.Until(id.Expires) < -Leeway-time.Second {
			t.Fatalf("accepted an expired token: %+v", id)
		}
	})
}

func decode(part string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// FuzzVerifyPublicKey checks the public-key path the same way: a verifier with an Ed25519
// key file and an HS256 secret accepts only EdDSA tokens the key signed and HS256 tokens
// the secret signed, never one whose algorithm picks the other key (the PEM as a secret).
func FuzzVerifyPublicKey(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	der, _ := x509.MarshalPKIXPublicKey(priv.Public())
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	v, err := NewVerifier(Config{Secret: secret, PublicKeyPEM: pemBytes})
	if err != nil {
		f.Fatal(err)
	}
	c := jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "chat_admin": true}
	good, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(priv)
	hs, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	confused, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(pemBytes)
	expired, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"sub": "alice", "exp": 1}).SignedString(priv)
	for _, s := range []string{good, hs, confused, expired, none("alice"), forge(good, "mallory"), good[:len(good)-2]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		id, err := v.Verify(context.Background(), token)
		if err != nil {
			if id != (Identity{}) {
				t.Fatalf("an identity with an error: %+v %v", id, err)
			}
			return
		}
		parts := strings.Split(token, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted a token of %d parts: %q", len(parts), token)
		}
		var head struct {
			Alg string `json:"alg"`
		}
		sig, serr := base64.RawURLEncoding.DecodeString(parts[2])
		if decode(parts[0], &head) != nil || serr != nil {
			t.Fatalf("accepted an undecodable token: %q", token)
		}
		signed := []byte(parts[0] + "." + parts[1])
		switch head.Alg {
		case "EdDSA":
			if !ed25519.Verify(priv.Public().(ed25519.PublicKey), signed, sig) {
				t.Fatalf("accepted an EdDSA token the key did not sign: %q", token)
			}
		case "HS256":
			mac := hmac.New(sha256.New, secret)
			mac.Write(signed)
			if !hmac.Equal(sig, mac.Sum(nil)) {
				t.Fatalf("accepted an HS256 token not signed with the secret: %q", token)
			}
		default:
			t.Fatalf("accepted alg %q: %q", head.Alg, token)
		}
		if time.Until(id.Expires) < -Leeway-time.Second {
			t.Fatalf("accepted an expired token: %+v", id)
		}
	})
}
