package main

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// API keys come from a file (one a line, comments and blank lines skipped) or from
// CHAT_API_KEY; both at once, an empty file or a short key are refused.
func TestAPIKeys(t *testing.T) {
	dir := t.TempDir()
	file := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := file("keys", "# rotated 2026-12\nold-key-0123456789abcdef\n\n  new-key-0123456789abcdef  \n")
	c, err := parse([]string{"--api-key-file", good}, env(nil), io.Discard)
	if err != nil || !slices.Equal(c.APIKeys, []string{"old-key-0123456789abcdef", "new-key-0123456789abcdef"}) {
		t.Fatalf("keys %q, %v", c.APIKeys, err)
	}
	c, err = parse(nil, env(map[string]string{"CHAT_API_KEY_FILE": good}), io.Discard)
	if err != nil || len(c.APIKeys) != 2 {
		t.Fatalf("CHAT_API_KEY_FILE: keys %q, %v", c.APIKeys, err)
	}
	c, err = parse(nil, env(map[string]string{"CHAT_API_KEY": "env-key-0123456789abcdef"}), io.Discard)
	if err != nil || !slices.Equal(c.APIKeys, []string{"env-key-0123456789abcdef"}) {
		t.Fatalf("CHAT_API_KEY: keys %q, %v", c.APIKeys, err)
	}
	if c, err = parse(nil, env(nil), io.Discard); err != nil || c.APIKeys != nil {
		t.Fatalf("no keys: %q, %v", c.APIKeys, err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--api-key-file", good}, map[string]string{"CHAT_API_KEY": "env-key-0123456789abcdef"}, "not both"},
		{[]string{"--api-key-file", file("empty", "# none yet\n\n")}, nil, "no key"},
		{[]string{"--api-key-file", file("short", "short\n")}, nil, "at least 16"},
		{[]string{"--api-key-file", filepath.Join(dir, "missing")}, nil, "api-key-file"},
		{nil, map[string]string{"CHAT_API_KEY": "short"}, "at least 16"},
	} {
		if _, err := parse(tc.args, env(tc.env), io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: %v, want an error about %q", tc.args, tc.env, err, tc.want)
		}
	}
}
