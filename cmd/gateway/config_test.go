package main

import (
	"io"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestParseDefaults(t *testing.T) {
	c, err := parse(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:8080" || c.SendBudget != 4<<20 || c.Window != 256 || c.NATSURL != "" || c.GatewayID == "" ||
		c.EmbeddedNATS != "127.0.0.1:4222" {
		t.Fatalf("defaults: %+v", c)
	}
}

// Open mode listens on loopback unless told otherwise; token mode on every interface.
func TestDefaultAddressFollowsTheMode(t *testing.T) {
	c, err := parse(nil, env(map[string]string{"CHAT_AUTH_SECRET": strings.Repeat("s", 32)}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" {
		t.Fatalf("token mode address %q, want :8080", c.Addr)
	}
	c, err = parse([]string{"--addr", "0.0.0.0:9000"}, env(nil), io.Discard)
	if err != nil || c.Addr != "0.0.0.0:9000" {
		t.Fatalf("explicit address: %q, %v", c.Addr, err)
	}
}

// Bad values are refused with an error naming the flag (or variable), never a panic.
func TestParseRefusesBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // in the error
	}{
		{args: []string{"--send-budget", "0"}, want: "send-budget"},
		{args: []string{"--send-budget", "-5"}, want: "send-budget"},
		{args: []string{"--window", "0"}, want: "window"},
		{args: []string{"--history-depth", "-1"}, want: "history-depth"},
		{args: []string{"--history-max-age", "0s"}, want: "history-max-age"},
		{args: []string{"--grace", "-1s"}, want: "grace"},
		{args: []string{"--write-timeout", "0"}, want: "write-timeout"},
		{args: []string{"--shutdown-timeout", "0s"}, want: "shutdown-timeout"},
		{args: []string{"--stream-replicas", "0"}, want: "stream-replicas"},
		{args: []string{"--stream-replicas", "9"}, want: "stream-replicas"},
		{args: []string{"--stream-replicas", "3"}, want: "needs a NATS cluster"},
		{args: []string{"--message-rate", "-1"}, want: "message-rate"},
		{args: []string{"--max-conns", "-1"}, want: "max-conns"},
		{args: []string{"--connect-rate", "-1"}, want: "connect-rate"},
		{args: []string{"--user-connect-burst", "-1"}, want: "user-connect-burst"},
		{args: []string{"--room-create-rate", "-0.5"}, want: "room-create-rate"},
		{args: []string{"--history-reads", "-1"}, want: "history-reads"},
		{args: []string{"--room-expiry", "-1h"}, want: "room-expiry"},
		{args: []string{"--send-budget", "many"}, want: "send-budget"},
		{args: []string{"--grace", "10"}, want: "grace"}, // a duration needs a unit
		{args: []string{"--log-level", "loud"}, want: "log-level"},
		{args: []string{"--log-format", "xml"}, want: "log-format"},
		{args: []string{"--gateway-id", "a b"}, want: "gateway-id"},
		{args: []string{"--no-such-flag"}, want: "no-such-flag"},
		{args: []string{"serve"}, want: "unexpected arguments"},
		{env: map[string]string{"CHAT_SEND_BUDGET": "0"}, want: "send-budget"},
		{env: map[string]string{"CHAT_WINDOW": "lots"}, want: "CHAT_WINDOW"},
		{env: map[string]string{"CHAT_LOG_LEVEL": "loud"}, want: "log-level"},
		{args: []string{"--auth-public-key-file", "/no/such/file"}, want: "auth-public-key-file"},
		{args: []string{"--auth-jwks-url", "ftp://id.example/jwks"}, want: "auth-jwks-url"},
		{args: []string{"--auth-jwks-url", "/jwks"}, want: "auth-jwks-url"},
		{args: []string{"--auth-jwks-url", "https://id.example/jwks", "--auth-public-key-file", "k.pem"}, want: "not both"},
	} {
		name := strings.Join(tc.args, " ") + envString(tc.env)
		t.Run(name, func(t *testing.T) {
			var out strings.Builder
			_, err := parse(tc.args, env(tc.env), &out)
			if err == nil {
				t.Fatalf("parse(%q, %v): no error", tc.args, tc.env)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
}

func envString(m map[string]string) string {
	var b strings.Builder
	for k, v := range m {
		b.WriteString(k + "=" + v)
	}
	return b.String()
}

func TestParseEnvironmentAndFlags(t *testing.T) {
	vars := map[string]string{
		"CHAT_ADDR":          "127.0.0.1:9999",
		"CHAT_SEND_BUDGET":   "512",
		"CHAT_WINDOW":        "100",
		"CHAT_GRACE":         "3s",
		"CHAT_LOG_LEVEL":     "debug",
		"CHAT_GATEWAY_ID":    "gw-env",
		"CHAT_NATS_URL":      "nats://a:4222,nats://b:4222",
		"CHAT_HISTORY_DEPTH": "77",
	}
	c, err := parse(nil, env(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.SendBudget != 512 || c.Window != 100 || c.Grace != 3*time.Second ||
		c.LogLevel != "debug" || c.GatewayID != "gw-env" || c.NATSURL != "nats://a:4222,nats://b:4222" || c.HistoryDepth != 77 {
		t.Fatalf("from the environment: %+v", c)
	}
	// A flag wins over its variable; the other variables still apply.
	c, err = parse([]string{"--window", "300", "--gateway-id=gw-flag"}, env(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Window != 300 || c.GatewayID != "gw-flag" || c.SendBudget != 512 {
		t.Fatalf("flags over the environment: %+v", c)
	}
}

// TestNATSURLsAreRedacted checks that passwords and tokens in --nats-url never reach a log
// line or an error.
func TestNATSURLsAreRedacted(t *testing.T) {
	got := redactURLs("nats://user:s3cret@a:4222,nats://t0ken@b:4222,nats://c:4222")
	if strings.Contains(got, "s3cret") || strings.Contains(got, "t0ken") {
		t.Fatalf("a secret is left: %s", got)
	}
	if !strings.Contains(got, "user:") || !strings.Contains(got, "@a:4222") || !strings.Contains(got, "nats://c:4222") {
		t.Fatalf("too much redacted: %s", got)
	}
	if name := natsName(config{NATSURL: "nats://user:s3cret@a:4222"}); strings.Contains(name, "s3cret") {
		t.Fatalf("natsName: %s", name)
	}
}

// The embedded NATS can be kept in-process: an empty flag, or "none" (which an environment
// variable can say).
func TestParseEmbeddedNATSAddr(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "127.0.0.1:4222"},
		{[]string{"--embedded-nats-addr", ""}, nil, ""},
		{[]string{"--embedded-nats-addr", "none"}, nil, ""},
		{nil, map[string]string{"CHAT_EMBEDDED_NATS_ADDR": "none"}, ""},
		{[]string{"--embedded-nats-addr", "0.0.0.0:4333"}, nil, "0.0.0.0:4333"},
	} {
		c, err := parse(tc.args, env(tc.env), io.Discard)
		if err != nil || c.EmbeddedNATS != tc.want {
			t.Errorf("%q %v: %q %v, want %q", tc.args, tc.env, c.EmbeddedNATS, err, tc.want)
		}
	}
}

// --presence-coalesce: 500 ms by default, 0 means never wait (the hub's negative), a
// negative value is refused.
func TestPresenceCoalesceFlag(t *testing.T) {
	c, err := parse(nil, env(nil), io.Discard)
	if err != nil || c.coalesce() != 500*time.Millisecond {
		t.Fatalf("default: %v, %v", c.coalesce(), err)
	}
	c, err = parse([]string{"--presence-coalesce", "0"}, env(nil), io.Discard)
	if err != nil || c.coalesce() >= 0 {
		t.Fatalf("0: %v, %v (want negative: never wait)", c.coalesce(), err)
	}
	c, err = parse(nil, env(map[string]string{"CHAT_PRESENCE_COALESCE": "2s"}), io.Discard)
	if err != nil || c.coalesce() != 2*time.Second {
		t.Fatalf("from the environment: %v, %v", c.coalesce(), err)
	}
	if _, err := parse([]string{"--presence-coalesce", "-1s"}, env(nil), io.Discard); err == nil ||
		!strings.Contains(err.Error(), "presence-coalesce") {
		t.Fatalf("negative: %v", err)
	}
}
