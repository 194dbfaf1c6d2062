package auth

import (
	"context"
	"encoding/base64"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

// Verify checks token with an HS256 verifier of secret and rules.
func Verify(secret []byte, token string, rules Rules) (Identity, error) {
	v, err := NewVerifier(Config{Secret: secret, Rules: rules})
	if err != nil {
		return Identity{}, err
	}
	return v.Verify(context.Background(), token)
}

func TestVerify(t *testing.T) {
	good, err := Sign(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	id, err := Verify(secret, good, Rules{})
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
		if id, err := Verify(secret, tok, Rules{}); err == nil {
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

// TestVerifyRules checks the rules besides the signature: a token for another issuer or
// audience, one valid for longer than the maximum lifetime, and one whose exp is a string.
func TestVerifyRules(t *testing.T) {
	mk := func(c jwt.MapClaims) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	rules := Rules{Issuer: "https://id.example", Audience: "chat", MaxLifetime: 24 * time.Hour}
	good := mk(jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://id.example", "aud": []string{"chat", "other"}})
	if id, err := Verify(secret, good, rules); err != nil || id.User != "alice" {
		t.Fatalf("good token: %v %v", id, err)
	}
	bad := map[string]string{
		"another issuer":   mk(jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://evil.example", "aud": "chat"}),
		"no issuer":        mk(jwt.MapClaims{"sub": "alice", "exp": exp, "aud": "chat"}),
		"another audience": mk(jwt.MapClaims{"sub": "alice", "exp": exp, "iss": "https://id.example", "aud": "billing"}),
		"too long":         mk(jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(48 * time.Hour).Unix(), "iss": "https://id.example", "aud": "chat"}),
		"exp in 9999":      mk(jwt.MapClaims{"sub": "alice", "exp": int64(253402300799), "iss": "https://id.example", "aud": "chat"}),
		"exp a string":     mk(jwt.MapClaims{"sub": "alice", "exp": strconv.FormatInt(exp, 10), "iss": "https://id.example", "aud": "chat"}),
	}
	for name, tok := range bad {
		if id, err := Verify(secret, tok, rules); err == nil {
			t.Errorf("%s: accepted as %q", name, id.User)
		}
	}
	// Without rules, the lifetime is still bounded.
	if _, err := Verify(secret, bad["exp in 9999"], Rules{}); err == nil {
		t.Error("a token valid until 9999 accepted with the default rules")
	}
	if _, err := Verify(secret, bad["exp a string"], Rules{}); err == nil {
		t.Error("exp as a string accepted with the default rules")
	}
}

// The leeway's edges, on a stopped clock: a token is taken until Leeway after its exp (not
// at that instant), and from Leeway before its nbf (at that instant too); its exp may be
// at most the longest lifetime and Leeway ahead.
func TestLeewayEdges(t *testing.T) {
	now := time.Unix(1_900_000_000, 0) // a whole second: exp and nbf are whole seconds
	clock = func() time.Time { return now }
	t.Cleanup(func() { clock = time.Now })
	mk := func(exp, nbf time.Duration) string {
		c := jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(now.Add(exp))}
		if nbf != 0 {
			c.NotBefore = jwt.NewNumericDate(now.Add(nbf))
		}
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	life := DefaultMaxLifetime
	for _, tc := range []struct {
		name     string
		exp, nbf time.Duration
		ok       bool
	}{
		{"exp Leeway-1s ago", -Leeway + time.Second, 0, true},
		{"exp Leeway ago", -Leeway, 0, false},
		{"nbf Leeway ahead", time.Hour, Leeway, true},
		{"nbf Leeway+1s ahead", time.Hour, Leeway + time.Second, false},
		{"exp the longest lifetime and Leeway ahead", life + Leeway, 0, true},
		{"exp a second beyond", life + Leeway + time.Second, 0, false},
	} {
		_, err := Verify(secret, mk(tc.exp, tc.nbf), Rules{})
		if (err == nil) != tc.ok {
			t.Errorf("%s: accepted %v, want %v (%v)", tc.name, err == nil, tc.ok, err)
		}
	}
}
