package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// A minted token passes Verify under the rules it was minted for, and carries chat_admin
// only when asked.
func TestMint(t *testing.T) {
	rules := Rules{Issuer: "https://id.example", Audience: "chat"}
	for _, admin := range []bool{false, true} {
		tok, exp, err := Mint(secret, Grant{User: "alice", TTL: time.Hour, Admin: admin, Issuer: rules.Issuer, Audience: rules.Audience})
		if err != nil {
			t.Fatal(err)
		}
		id, err := Verify(secret, tok, rules)
		if err != nil || id.User != "alice" || !id.Expires.Equal(exp.Truncate(time.Second)) {
			t.Fatalf("minted token: %+v %v (exp %v)", id, err, exp)
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
		if got := strings.Contains(string(payload), `"chat_admin":true`); got != admin {
			t.Fatalf("admin %v: payload %s", admin, payload)
		}
	}
	if _, _, err := Mint(secret, Grant{User: "a b", TTL: time.Hour}); err != ErrBadUser {
		t.Fatalf("bad user: %v", err)
	}
}
