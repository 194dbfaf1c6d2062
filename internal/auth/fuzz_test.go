package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
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
		if time.Until(id.Expires) < -10*time.Second {
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
