package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/idptest"
	"github.com/golang-jwt/jwt/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// logged returns the attribute key of the first log line with message msg.
func logged(t *testing.T, log, msg, key string) string {
	t.Helper()
	for _, line := range strings.Split(log, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			v, _ := rec[key].(string)
			return v
		}
	}
	t.Fatalf("no log line %q with %s in:\n%s", msg, key, log)
	return ""
}

// With no --nats-url, the embedded NATS listens where --embedded-nats-addr says (here a
// free port, as tests must not take 4222), so the nats CLI reaches the event stream.
func TestEmbeddedNATSListens(t *testing.T) {
	s := start(t, t.TempDir(), "--embedded-nats-addr", "127.0.0.1:0")
	u := logged(t, s.log.String(), "embedded nats started", "url")
	nc, err := nats.Connect(u)
	if err != nil {
		t.Fatalf("connect to the embedded NATS at %q: %v", u, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Stream(ctx, "CHAT_EVENTS"); err != nil {
		t.Fatalf("stream info over TCP: %v", err)
	}
}

// A port in use is a clear error at once, not a hang.
func TestEmbeddedNATSPortInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cfg, err := parse([]string{"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--embedded-nats-addr", ln.Addr().String()}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	err = run(ctx, cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), ln.Addr().String()) || time.Since(start) > 5*time.Second {
		t.Fatalf("run with the NATS port taken: %v after %v", err, time.Since(start))
	}
}

// The token flags reach the gateway: a JWKS URL, or a PEM public key file.
func TestRunWithPublicKeys(t *testing.T) {
	key := idptest.NewKey(t, "k1", "ES256")
	idp := idptest.Start(t, key)
	file := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(file, key.PEM(t), 0o600); err != nil {
		t.Fatal(err)
	}
	tok := key.Sign(t, jwt.MapClaims{"sub": "alice", "exp": time.Now().Add(time.Hour).Unix(), "iss": "https://id.example"})
	for name, flags := range map[string][]string{
		"jwks": {"--auth-jwks-url", idp.URL},
		"pem":  {"--auth-public-key-file", file},
	} {
		t.Run(name, func(t *testing.T) {
			s := start(t, t.TempDir(), append(flags, "--token-issuer", "https://id.example")...)
			c, err := chattest.DialQuery(t, "ws://"+s.addr+"/ws", url.Values{"token": {tok}})
			if err != nil {
				t.Fatal(err)
			}
			if w := c.Expect("welcome"); w.UserID != "alice" {
				t.Fatalf("welcome %s", w.Raw)
			}
			c, err = chattest.DialQuery(t, "ws://"+s.addr+"/ws", url.Values{"user": {"alice"}})
			if err != nil {
				t.Fatal(err)
			}
			if m := c.Next(); m.Code != "unauthorized" {
				t.Fatalf("open-mode dial to a token-mode gateway: %s", m.Raw)
			}
		})
	}
}
