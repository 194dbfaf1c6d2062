package auth

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestVerify(t *testing.T) {
	good, err := Sign(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verify(secret, good)
	if err != nil || id.User != "alice" || time.Until(id.Expires) < 59*time.Minute {
		t.Fatalf("good token: %+v %v", id, err)
	}
	expired, _ := Sign(secret, "alice", -time.Minute)
	other, _ := Sign([]byte("another-secret-another-secret-xx"), "alice", time.Hour)
	noExp, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "alice"}).SignedString(secret)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, jwt.RegisteredClaims{Subject: "alice",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	badSub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.RegisteredClaims{Subject: "al.ice",
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}).SignedString(secret)
	cases := map[string]string{
		"empty":          "",
		"garbage":        "not-a-token",
		"expired":        expired,
		"wrong secret":   other,
		"no exp":         noExp,
		"HS512":          hs512,
		"alg none":       none("alice"),
		"bad subject":    badSub,
		"forged payload": forge(good, "mallory"),
	}
	for name, tok := range cases {
		if id, err := Verify(secret, tok); err == nil {
			t.Errorf("%s: accepted as %q", name, id.User)
		}
	}
}

// none makes an unsigned token with alg "none".
func none(sub string) string {
	enc := base64.RawURLEncoding.EncodeToString
	exp := time.Now().Add(time.Hour).Unix()
	return enc([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
		enc([]byte(`{"sub":"`+sub+`","exp":`+strconv.FormatInt(exp, 10)+`}`)) + "."
}

// forge swaps the payload of a valid token, keeping its signature.
func forge(tok, sub string) string {
	parts := strings.Split(tok, ".")
	exp := time.Now().Add(time.Hour).Unix()
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + sub + `","exp":` + strconv.FormatInt(exp, 10) + `}`))
	return strings.Join(parts, ".")
}
