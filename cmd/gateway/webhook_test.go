package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
)

func TestWebhookFlags(t *testing.T) {
	secret := strings.Repeat("w", 16)
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string // in the error; empty: accepted
	}{
		{args: []string{"--webhook-url", "http://x/h"}, want: "needs a secret"},
		{args: []string{"--webhook-url", "http://x/h"}, env: map[string]string{"CHAT_WEBHOOK_SECRET": "short"}, want: "at least 16"},
		{env: map[string]string{"CHAT_WEBHOOK_SECRET": secret}, want: "--webhook-url is not"},
		{args: []string{"--webhook-url", "http://x/h", "--webhook-secret-file", file}, env: map[string]string{"CHAT_WEBHOOK_SECRET": secret}, want: "not both"},
		{args: []string{"--webhook-url", "http://x/h", "--webhook-secret-file", file}},
		{env: map[string]string{"CHAT_WEBHOOK_URL": "http://x/h", "CHAT_WEBHOOK_SECRET": secret}},
	} {
		c, err := parse(tc.args, env(tc.env), io.Discard)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%v %v: %v", tc.args, tc.env, err)
		case tc.want == "" && (c.Webhook.config() == nil || string(c.Webhook.config().Secret) != secret):
			t.Errorf("%v %v: config %+v", tc.args, tc.env, c.Webhook.config())
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%v %v: error %v, want %q", tc.args, tc.env, err, tc.want)
		}
	}
}

// A message sent by a WebSocket client reaches the webhook, signed, with its id.
func TestRunDeliversToTheWebhook(t *testing.T) {
	secret := strings.Repeat("k", 32)
	got := make(chan []byte, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ts, sig, _ := strings.Cut(strings.TrimPrefix(r.Header.Get("Chat-Signature"), "t="), ",v1=")
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write([]byte(ts + "." + string(body)))
		if hex.EncodeToString(mac.Sum(nil)) != sig {
			t.Errorf("bad signature %q", r.Header.Get("Chat-Signature"))
		}
		got <- body
	}))
	defer rcv.Close()
	file := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(file, []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	s := start(t, t.TempDir(), "--webhook-url", rcv.URL, "--webhook-secret-file", file)
	c := chattest.Dial(t, "ws://"+s.addr+"/ws", "alice", "a1")
	c.Expect("welcome")
	c.Join("lobby")
	c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "hooked", "ref": "h"})
	ack := c.Until("ack", nil)
	deadline := time.After(30 * time.Second)
	for {
		select {
		case body := <-got:
			var msg struct{ Events []chattest.Msg }
			if err := json.Unmarshal(body, &msg); err != nil {
				t.Fatalf("%q: %v", body, err)
			}
			for _, ev := range msg.Events {
				if ev.ID == ack.ID && ev.Message == "hooked" {
					return
				}
			}
		case <-deadline:
			t.Fatalf("event %d not delivered in 30s; log:\n%s", ack.ID, s.log)
		}
	}
}
