package gateway_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// Token mode: a client is who its token says, and nobody else.

var hardSecret = []byte("hardening-secret-0123456789abcdefghij")

func tokenGW(t *testing.T) *chattest.Gateway {
	t.Helper()
	t.Parallel()
	return chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-tok", AuthSecret: hardSecret})
}

func signFor(t *testing.T, secret []byte, user string, ttl time.Duration) string {
	t.Helper()
	tok, err := auth.Sign(secret, user, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// claimsToken signs arbitrary claims with method and key.
func claimsToken(t *testing.T, m jwt.SigningMethod, key any, c jwt.Claims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// withPayload swaps a token's payload for another, keeping header and signature.
func withPayload(tok, payload string) string {
	p := strings.Split(tok, ".")
	p[1] = b64(payload)
	return strings.Join(p, ".")
}

// refused dials with q and checks the gateway answers an error frame with code, then
// closes with close.
func refused(t *testing.T, g *chattest.Gateway, q url.Values, code string, close websocket.StatusCode) {
	t.Helper()
	c, err := chattest.DialQuery(t, g.URL(), q)
	if err != nil {
		t.Fatalf("%v: dial: %v", q, err)
	}
	if m := c.Next(); m.Type != "error" || m.Code != code {
		t.Fatalf("%v: want error %s, got %s", q, code, m.Raw)
	}
	if got := c.Closed(); got != close {
		t.Fatalf("%v: closed with %d, want %d", q, got, close)
	}
}

func tokenClient(t *testing.T, g *chattest.Gateway, tok, session string) *chattest.Client {
	t.Helper()
	c, err := chattest.DialQuery(t, g.URL(), url.Values{"token": {tok}, "session": {session}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTokenModeRefusesBadTokens(t *testing.T) {
	g := tokenGW(t)
	good := signFor(t, hardSecret, "alice", time.Hour)
	exp := strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)
	in := jwt.NewNumericDate(time.Now().Add(time.Hour))
	cases := map[string]string{
		"missing":          "",
		"garbage":          "a.b.c",
		"forged payload":   withPayload(good, `{"sub":"mallory","exp":`+exp+`}`),
		"forged exp":       withPayload(signFor(t, hardSecret, "alice", -time.Hour), `{"sub":"alice","exp":`+exp+`}`),
		"expired":          signFor(t, hardSecret, "alice", -time.Minute),
		"wrongly signed":   signFor(t, []byte("some-other-secret-0123456789abcdef"), "alice", time.Hour),
		"alg none":         b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"sub":"alice","exp":`+exp+`}`) + ".",
		"alg none, sig":    b64(`{"alg":"none","typ":"JWT"}`) + "." + b64(`{"sub":"alice","exp":`+exp+`}`) + "." + strings.Split(good, ".")[2],
		"HS512":            claimsToken(t, jwt.SigningMethodHS512, hardSecret, jwt.RegisteredClaims{Subject: "alice", ExpiresAt: in}),
		"HS384":            claimsToken(t, jwt.SigningMethodHS384, hardSecret, jwt.RegisteredClaims{Subject: "alice", ExpiresAt: in}),
		"missing exp":      claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: "alice"}),
		"missing sub":      claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{ExpiresAt: in}),
		"sub with a dot":   claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: "al.ice", ExpiresAt: in}),
		"sub with a star":  claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: "*", ExpiresAt: in}),
		"not yet valid":    claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: "alice", ExpiresAt: in, NotBefore: jwt.NewNumericDate(time.Now().Add(time.Hour))}),
		"truncated":        good[:len(good)-4],
		"two tokens glued": good + "." + good,
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			refused(t, g, url.Values{"token": {tok}, "session": {"s1"}}, "unauthorized", 4501)
		})
	}
	t.Run("user instead of token", func(t *testing.T) {
		refused(t, g, url.Values{"user": {"alice"}}, "unauthorized", 4501)
	})
	t.Run("token and another user", func(t *testing.T) {
		refused(t, g, url.Values{"token": {good}, "user": {"bob"}}, "unauthorized", 4501)
	})
	t.Run("token and the same user", func(t *testing.T) {
		refused(t, g, url.Values{"token": {good}, "user": {"alice"}}, "unauthorized", 4501)
	})
	// The gateway is unharmed: a good token still gets in.
	c := tokenClient(t, g, good, "s1")
	if w := c.Expect("welcome"); w.UserID != "alice" || w.SessionID != "s1" {
		t.Fatalf("welcome %s", w.Raw)
	}
}

// The token's sub is who the client is: it posts, appears in users and in stored events
// as that user only.
func TestTokenSubIsTheUser(t *testing.T) {
	g := tokenGW(t)
	c := tokenClient(t, g, signFor(t, hardSecret, "alice", time.Hour), "")
	w := c.Expect("welcome")
	if w.UserID != "alice" || w.SessionID == "" {
		t.Fatalf("welcome %s", w.Raw)
	}
	if j := c.Call(map[string]any{"type": "join", "chatroomId": "lobby"}); j.Type != "joined" {
		t.Fatalf("join: %s", j.Raw)
	}
	// A userId field in a message command is not a way to speak for someone else.
	c.Send(map[string]any{"type": "message", "chatroomId": "lobby", "message": "hi", "userId": "bob", "ref": "k1"})
	ack := c.UntilMatch(func(m chattest.Msg) bool { return m.Ref == "k1" })
	if ack.Type != "ack" {
		t.Fatalf("message: %s", ack.Raw)
	}
	h := c.Call(map[string]any{"type": "history", "chatroomId": "lobby"})
	for _, ev := range h.Events {
		if ev.UserID != "alice" {
			t.Fatalf("stored event of %q from alice's token: %s", ev.UserID, ev.Raw)
		}
	}
	if len(h.Events) != 2 || h.Events[1].ID != ack.ID || h.Events[1].Message != "hi" {
		t.Fatalf("history %s", h.Raw)
	}
}

// A token that runs out while connected ends the connection, and a command sent at that
// moment is not run, whichever of the two the gateway sees first.
func TestTokenExpiringDuringTheConnection(t *testing.T) {
	g := tokenGW(t)
	tok, end := expiringToken(t, "alice")
	c := tokenClient(t, g, tok, "s1")
	c.Expect("welcome")
	if m := c.Call(map[string]any{"type": "users"}); m.Type != "users" {
		t.Fatalf("before expiry: %s", m.Raw)
	}
	// Waiting for a clock, not for another goroutine: the token must be past its end.
	<-time.After(time.Until(end))
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	_ = c.Conn.Send(ctx, map[string]any{"type": "join", "chatroomId": "lobby", "ref": "late"}) // the socket may be closing
	m := c.UntilMatch(func(m chattest.Msg) bool { return m.Type == "error" || m.Ref == "late" })
	if m.Type != "error" || m.Code != "unauthorized" || m.Message != "token expired" {
		t.Fatalf("after expiry: %s", m.Raw)
	}
	if got := c.Closed(); got != 4501 {
		t.Fatalf("closed with %d, want 4501", got)
	}
	// Nothing was done for the refused command: lobby was never joined.
	other := http.Header{"Authorization": {"Bearer " + signFor(t, hardSecret, "bob", time.Minute)}}
	if code, body := chattest.GetJSON(t, g.HTTP()+"/history?chatroomId=lobby", other, nil); code != 200 || strings.Contains(string(body), "alice") {
		t.Fatalf("history after a refused join: %d %s", code, body)
	}
}

// Private rooms in token mode: only their two users read or post, over WebSocket or HTTP.
func TestTokenModePrivateRoomAccess(t *testing.T) {
	g := tokenGW(t)
	alice, bob, carol := signFor(t, hardSecret, "alice", time.Hour), signFor(t, hardSecret, "bob", time.Hour), signFor(t, hardSecret, "carol", time.Hour)
	cb := tokenClient(t, g, bob, "b1")
	cb.Expect("welcome")
	ca := tokenClient(t, g, alice, "a1")
	ca.Expect("welcome")
	j := ca.Call(map[string]any{"type": "private", "userId": "bob"})
	room := j.ChatroomID
	if j.Type != "joined" || !j.Private || j.Peer != "bob" || !strings.HasPrefix(room, "dm-") {
		t.Fatalf("private: %s", j.Raw)
	}
	cb.UntilMatch(func(m chattest.Msg) bool { return m.Type == "joined" && m.ChatroomID == room })
	if m := ca.Call(map[string]any{"type": "message", "chatroomId": room, "message": "secret"}); m.Type != "ack" {
		t.Fatalf("post: %s", m.Raw)
	}
	stored := ca.Call(map[string]any{"type": "history", "chatroomId": room}).Events

	cc := tokenClient(t, g, carol, "c1")
	cc.Expect("welcome")
	for _, cmd := range []map[string]any{
		{"type": "join", "chatroomId": room},
		{"type": "join", "chatroomId": room, "since": 0},
		{"type": "history", "chatroomId": room},
		{"type": "message", "chatroomId": room, "message": "let me in"},
		{"type": "leave", "chatroomId": room},
		{"type": "message", "chatroomId": room, "message": "and now?"},
	} {
		m := cc.Call(cmd)
		if cmd["type"] == "leave" {
			continue // leaving a room one is not in is answered left; it must not let carol in
		}
		if m.Type != "error" || m.Code != "forbidden" || len(m.Events) != 0 || strings.Contains(string(m.Raw), "secret") {
			t.Fatalf("carol %v: %s", cmd, m.Raw)
		}
	}
	if r := cc.Call(map[string]any{"type": "rooms"}); r.Type != "rooms" || strings.Contains(string(r.Raw), room) {
		t.Fatalf("carol's rooms show alice and bob's room: %s", r.Raw)
	}
	if got := ca.Call(map[string]any{"type": "history", "chatroomId": room}).Events; len(got) != len(stored) {
		t.Fatalf("carol's attempts stored something: %d events, then %d", len(stored), len(got))
	}

	u := g.HTTP() + "/history?chatroomId=" + room
	bearer := func(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }
	for name, tc := range map[string]struct {
		url    string
		h      http.Header
		status int
		code   string
	}{
		"alice":            {u, bearer(alice), 200, ""},
		"bob":              {u, bearer(bob), 200, ""},
		"carol":            {u, bearer(carol), 403, "forbidden"},
		"anonymous":        {u, nil, 401, "unauthorized"}, // token mode: every read needs a token
		"user param":       {u + "&user=alice", nil, 401, "unauthorized"},
		"user param+token": {u + "&user=alice", bearer(alice), 401, "unauthorized"},
		"forged bearer":    {u, bearer(withPayload(carol, `{"sub":"alice","exp":9999999999}`)), 401, "unauthorized"},
		"expired bearer":   {u, bearer(signFor(t, hardSecret, "alice", -time.Minute)), 401, "unauthorized"},
		"basic auth":       {u, http.Header{"Authorization": {"Basic YWxpY2U6eA=="}}, 401, "unauthorized"},
		"raw token":        {u, http.Header{"Authorization": {alice}}, 401, "unauthorized"},
	} {
		status, body := chattest.GetJSON(t, tc.url, tc.h, nil)
		if status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", name, status, tc.status, body)
			continue
		}
		if tc.code != "" {
			var e chattest.HTTPError
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("%s: %s: %v", name, body, err)
			}
			if e.Error.Code != tc.code || strings.Contains(string(body), "secret") {
				t.Errorf("%s: %s", name, body)
			}
		} else if !strings.Contains(string(body), `"secret"`) {
			t.Errorf("%s: history without the message: %s", name, body)
		}
	}
	if _, body := chattest.GetJSON(t, g.HTTP()+"/rooms", nil, nil); strings.Contains(string(body), room) {
		t.Fatalf("GET /rooms shows a private room: %s", body)
	}
}
