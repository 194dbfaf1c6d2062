package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
)

const tokenSecret = "token-test-secret-0123456789abcdefgh"

func runToken(args []string, vars map[string]string) (string, string, error) {
	var out, errw bytes.Buffer
	err := token(args, func(k string) string { return vars[k] }, &out, &errw)
	return out.String(), errw.String(), err
}

func TestTokenPrintsAVerifiableToken(t *testing.T) {
	before := time.Now()
	out, _, err := runToken([]string{"--user", "alice", "--ttl", "90m"}, map[string]string{"CHAT_AUTH_SECRET": tokenSecret})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("want one line, got %q", out)
	}
	id, err := verify([]byte(tokenSecret), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("token %q: %v", out, err)
	}
	if id.User != "alice" {
		t.Fatalf("sub %q, want alice", id.User)
	}
	if exp := id.Expires.Sub(before); exp < 89*time.Minute || exp > 91*time.Minute {
		t.Fatalf("expires in %v, want 90m", exp)
	}
	if _, err := verify([]byte("another-secret-0123456789abcdefghijk"), strings.TrimSpace(out)); err == nil {
		t.Fatal("verified with another secret")
	}
}

func TestTokenSecretFromFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(tokenSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, err := runToken([]string{"--user", "bob", "--auth-secret-file", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id, err := verify([]byte(tokenSecret), strings.TrimSpace(out))
	if err != nil || id.User != "bob" {
		t.Fatalf("%q: %+v %v", out, id, err)
	}
	if exp := time.Until(id.Expires); exp < 59*time.Minute || exp > 61*time.Minute {
		t.Fatalf("default ttl: expires in %v, want 1h", exp)
	}
}

func TestTokenRefusals(t *testing.T) {
	good := map[string]string{"CHAT_AUTH_SECRET": tokenSecret}
	for name, tc := range map[string]struct {
		args []string
		vars map[string]string
		want string // in the error
	}{
		"no user":           {[]string{}, good, "--user"},
		"empty user":        {[]string{"--user", ""}, good, "--user"},
		"user with a dot":   {[]string{"--user", "al.ice"}, good, "--user"},
		"user with a star":  {[]string{"--user", "*"}, good, "--user"},
		"user with a space": {[]string{"--user", "a b"}, good, "--user"},
		"unicode user":      {[]string{"--user", "café"}, good, "--user"},
		"user of 65":        {[]string{"--user", strings.Repeat("u", 65)}, good, "--user"},
		"no secret":         {[]string{"--user", "alice"}, nil, "secret"},
		"short secret":      {[]string{"--user", "alice"}, map[string]string{"CHAT_AUTH_SECRET": "short"}, "secret"},
		"31-byte secret":    {[]string{"--user", "alice"}, map[string]string{"CHAT_AUTH_SECRET": strings.Repeat("s", 31)}, "secret"},
		"missing file":      {[]string{"--user", "alice", "--auth-secret-file", "/nonexistent/secret"}, nil, "secret"},
		"zero ttl":          {[]string{"--user", "alice", "--ttl", "0s"}, good, "ttl"},
		"negative ttl":      {[]string{"--user", "alice", "--ttl", "-1h"}, good, "ttl"},
		"bad ttl":           {[]string{"--user", "alice", "--ttl", "forever"}, good, "ttl"},
		"unknown flag":      {[]string{"--user", "alice", "--admin"}, good, "admin"},
	} {
		out, errw, err := runToken(tc.args, tc.vars)
		if err == nil {
			t.Errorf("%s: accepted, printed %q", name, out)
			continue
		}
		if out != "" {
			t.Errorf("%s: printed %q with error %v", name, out, err)
		}
		if msg := err.Error() + errw; !strings.Contains(msg, tc.want) {
			t.Errorf("%s: error %q does not mention %q", name, msg, tc.want)
		}
	}
	// A short secret in the file is refused too; its surrounding white space does not count.
	file := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(file, []byte("  "+strings.Repeat("s", 31)+"\n\n"), 0o600)
	if _, _, err := runToken([]string{"--user", "alice", "--auth-secret-file", file}, nil); err == nil {
		t.Error("a 31-byte secret padded with white space was accepted")
	}
	if _, _, err := runToken([]string{"-h"}, nil); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
}

// verify checks a token as a gateway with secret would.
func verify(secret []byte, token string) (auth.Identity, error) {
	v, err := auth.NewVerifier(auth.Config{Secret: secret})
	if err != nil {
		return auth.Identity{}, err
	}
	return v.Verify(context.Background(), token)
}
