package gateway_test

import (
	"context"
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/idptest"
	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"
)

// Protocol 1.1 tokens, end to end: real gateways on embedded JetStream, real WebSocket
// clients, a real JWKS served over HTTP.

// welcomed dials with q and checks the welcome names user and protocol 1.1.
func welcomed(t *testing.T, g *chattest.Gateway, q url.Values, user string) *chattest.Client {
	t.Helper()
	c, err := chattest.DialQuery(t, g.URL(), q)
	if err != nil {
		t.Fatal(err)
	}
	w := c.Next()
	var v struct{ Protocol string }
	if json.Unmarshal(w.Raw, &v); w.Type != "welcome" || w.UserID != user || v.Protocol != "1.1" {
		t.Fatalf("%v: want the welcome of %s with protocol 1.1, got %s", q, user, w.Raw)
	}
	return c
}

func mapClaims(sub string, exp time.Time, more ...any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": sub, "exp": exp.Unix(), "iss": "https://id.example", "aud": "chat"}
	for i := 0; i+1 < len(more); i += 2 {
		c[more[i].(string)] = more[i+1]
	}
	return c
}

// Each algorithm is accepted against a JWKS; the claims' rules and the algorithms not
// configured are refused with unauthorized and 4501; a new kid is fetched, a second within
// the minute is not.
func TestTokensFromJWKS(t *testing.T) {
	rs, es, ed := idptest.NewKey(t, "r1", "RS256"), idptest.NewKey(t, "e1", "ES256"), idptest.NewKey(t, "d1", "EdDSA")
	idp := idptest.Start(t, rs, es, ed)
	g := gw(t, gateway.Config{AuthJWKSURL: idp.URL, Tokens: auth.Rules{Issuer: "https://id.example", Audience: "chat"}})
	in := time.Now().Add(time.Hour)
	for i, k := range []idptest.Key{rs, es, ed} {
		user := []string{"alice", "bob", "carol"}[i]
		c := welcomed(t, g, url.Values{"token": {k.Sign(t, mapClaims(user, in))}}, user)
		join(t, c, "lobby")
	}
	// Tokens near the leeway's edges are made just before they are presented, 10 s from
	// the edge (30 s): seconds on a busy machine do not move them across it.
	for name, tok := range map[string]func() string{
		"another issuer":        func() string { return rs.Sign(t, mapClaims("alice", in, "iss", "https://evil.example")) },
		"another audience":      func() string { return es.Sign(t, mapClaims("alice", in, "aud", "billing")) },
		"expired beyond leeway": func() string { return ed.Sign(t, mapClaims("alice", time.Now().Add(-40*time.Second))) },
		"nbf beyond leeway":     func() string { return ed.Sign(t, mapClaims("alice", in, "nbf", time.Now().Add(40*time.Second).Unix())) },
		"HS256, not configured": func() string { return claimsToken(t, jwt.SigningMethodHS256, hardSecret, mapClaims("alice", in)) },
		"alg none": func() string {
			return b64(`{"alg":"none","kid":"r1"}`) + "." + b64(`{"sub":"alice","exp":9999999999}`) + "."
		},
		"unknown signer, no kid": func() string { return idptest.NewKey(t, "", "ES256").Sign(t, mapClaims("alice", in)) },
		"ES256 naming an RSA kid": func() string {
			return idptest.Key{KID: "r1", Method: es.Method, Signer: es.Signer}.Sign(t, mapClaims("alice", in))
		},
	} {
		t.Run(name, func(t *testing.T) {
			refused(t, g, url.Values{"token": {tok()}}, "unauthorized", 4501)
		})
	}
	// Within leeway is accepted.
	tok := ed.Sign(t, mapClaims("dave", time.Now().Add(-20*time.Second)))
	welcomed(t, g, url.Values{"token": {tok}}, "dave").Close(websocket.StatusNormalClosure)
	tok = ed.Sign(t, mapClaims("dave", in, "nbf", time.Now().Add(20*time.Second).Unix()))
	welcomed(t, g, url.Values{"token": {tok}}, "dave").Close(websocket.StatusNormalClosure)

	// Rotation: a new kid makes the gateway fetch the JWKS again, once.
	if n := idp.Fetches(); n != 1 {
		t.Fatalf("%d fetches before the rotation", n)
	}
	r2, r3 := idptest.NewKey(t, "r2", "RS256"), idptest.NewKey(t, "r3", "RS256")
	idp.Publish(rs, es, ed, r2)
	welcomed(t, g, url.Values{"token": {r2.Sign(t, mapClaims("erin", in))}}, "erin")
	idp.Publish(rs, es, ed, r2, r3)
	refused(t, g, url.Values{"token": {r3.Sign(t, mapClaims("erin", in))}}, "unauthorized", 4501)
	if n := idp.Fetches(); n != 2 {
		t.Fatalf("%d fetches: want the first and one for r2 (r3 came within the minute)", n)
	}
	// The IdP failing changes nothing for the keys already fetched.
	idp.Fail(true)
	welcomed(t, g, url.Values{"token": {r2.Sign(t, mapClaims("erin", in))}}, "erin")
}

// A PEM public key alongside an HS256 secret: both kinds of token work, and an HS256
// token signed with the public key file (algorithm confusion) does not.
func TestTokensFromPublicKeyFile(t *testing.T) {
	key := idptest.NewKey(t, "", "RS256")
	pemBytes := key.PEM(t)
	g := gw(t, gateway.Config{AuthPublicKey: pemBytes, AuthSecret: hardSecret})
	in := time.Now().Add(time.Hour)
	welcomed(t, g, url.Values{"token": {key.Sign(t, jwt.MapClaims{"sub": "alice", "exp": in.Unix()})}}, "alice")
	welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, "bob", time.Hour)}}, "bob")
	refused(t, g, url.Values{"token": {claimsToken(t, jwt.SigningMethodHS256, pemBytes, jwt.MapClaims{"sub": "mallory", "exp": in.Unix()})}}, "unauthorized", 4501)
	refused(t, g, url.Values{"token": {idptest.NewKey(t, "", "EdDSA").Sign(t, jwt.MapClaims{"sub": "mallory", "exp": in.Unix()})}}, "unauthorized", 4501)
}

// firstFrameGW is a token-mode gateway that waits authWait for a first-frame token.
func firstFrameGW(t *testing.T, authWait time.Duration) *chattest.Gateway {
	return gw(t, gateway.Config{AuthSecret: hardSecret, AuthTimeout: authWait})
}

// The token as the first frame: the welcome follows it, and commands sent right behind
// it are run after the welcome.
func TestFirstFrameAuth(t *testing.T) {
	g := firstFrameGW(t, 10*time.Second)
	c, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	c.Send(map[string]any{"type": "auth", "token": signFor(t, hardSecret, "alice", time.Hour)})
	c.Send(map[string]any{"type": "join", "chatroomId": "lobby", "ref": "j1"})
	w := c.Expect("welcome")
	var v struct{ Protocol string }
	if json.Unmarshal(w.Raw, &v); w.UserID != "alice" || w.SessionID != "s1" || v.Protocol != "1.1" {
		t.Fatalf("welcome %s", w.Raw)
	}
	if j, _ := await(t, c, "j1"); j.Type != "joined" {
		t.Fatalf("join behind auth: %s", j.Raw)
	}
	post(t, c, "lobby", "hi")
	// auth again, once in: an error, the connection stays.
	doErr(t, c, "bad_request", map[string]any{"type": "auth", "token": signFor(t, hardSecret, "bob", time.Hour)})
	if u := do(t, c, "users", map[string]any{"type": "users"}); len(u.Users) != 1 {
		t.Fatalf("users: %s", u.Raw)
	}
}

// Anything but a good auth frame first, or nothing in time: unauthorized, then 4501.
func TestFirstFrameAuthRefused(t *testing.T) {
	// Frames are judged on a gateway that waits long for them: on a busy machine a frame
	// can take more than a short wait to arrive, and would be refused for being late.
	g := firstFrameGW(t, chattest.Timeout)
	dial := func(t *testing.T, g *chattest.Gateway) *chattest.Client {
		c, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	expectRefusal := func(t *testing.T, c *chattest.Client, ref string) {
		t.Helper()
		if m := c.Next(); m.Type != "error" || m.Code != "unauthorized" || m.Ref != ref {
			t.Fatalf("want unauthorized (ref %q), got %s", ref, m.Raw)
		}
		if got := c.Closed(); got != 4501 {
			t.Fatalf("closed with %d, want 4501", got)
		}
	}
	for name, frame := range map[string]string{
		"another command":     `{"type":"join","chatroomId":"lobby"}`,
		"refresh":             `{"type":"refresh","token":"` + signFor(t, hardSecret, "alice", time.Hour) + `"}`,
		"not JSON":            `hello`,
		"auth without token":  `{"type":"auth"}`,
		"auth, bad token":     `{"type":"auth","token":"a.b.c","ref":"a1"}`,
		"auth, expired token": `{"type":"auth","token":"` + signFor(t, hardSecret, "alice", -time.Minute) + `","ref":"a1"}`,
		"auth, wrong secret":  `{"type":"auth","token":"` + signFor(t, []byte("some-other-secret-0123456789abcdef"), "alice", time.Hour) + `","ref":"a1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			c := dial(t, g)
			c.SendRaw([]byte(frame))
			ref := ""
			if name[:5] == "auth," {
				ref = "a1"
			}
			expectRefusal(t, c, ref)
		})
	}
	t.Run("binary", func(t *testing.T) {
		c := dial(t, g)
		ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
		defer cancel()
		if err := c.WS.Write(ctx, websocket.MessageBinary, []byte(`{"type":"auth","token":"x"}`)); err != nil {
			t.Fatal(err)
		}
		expectRefusal(t, c, "")
	})
	t.Run("silence", func(t *testing.T) {
		wait := 300 * time.Millisecond
		quick := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-1", AuthSecret: hardSecret, AuthTimeout: wait})
		start := time.Now()
		c := dial(t, quick)
		expectRefusal(t, c, "")
		if took := time.Since(start); took < wait {
			t.Fatalf("refused after %v, before the %v allowed", took, wait)
		}
	})
	t.Run("token in the URL still works", func(t *testing.T) {
		welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, "alice", time.Hour)}}, "alice")
	})
}

// refresh: a newer token of the same user is answered with its exp; a token of another
// user or a bad one ends the connection with unauthorized and 4501.
func TestRefresh(t *testing.T) {
	g := tokenGW(t)
	c := welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, "alice", time.Hour)}}, "alice")
	exp := time.Now().Add(2 * time.Hour).Truncate(time.Second)
	newer := claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: "alice", ExpiresAt: jwt.NewNumericDate(exp)})
	c.Send(map[string]any{"type": "refresh", "token": newer, "ref": "t1"})
	m, _ := await(t, c, "t1")
	var r struct{ Exp int64 }
	if json.Unmarshal(m.Raw, &r); m.Type != "refreshed" || r.Exp != exp.Unix() {
		t.Fatalf("refresh: %s, want exp %d", m.Raw, exp.Unix())
	}
	join(t, c, "lobby")

	for name, tok := range map[string]string{
		"another user": signFor(t, hardSecret, "bob", time.Hour),
		"bad":          withPayload(newer, `{"sub":"alice","exp":9999999999}`),
		"expired":      signFor(t, hardSecret, "alice", -time.Minute),
	} {
		t.Run(name, func(t *testing.T) {
			c := welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, "alice", time.Hour)}}, "alice")
			c.Send(map[string]any{"type": "refresh", "token": tok, "ref": "t2"})
			if m, _ := await(t, c, "t2"); m.Type != "error" || m.Code != "unauthorized" {
				t.Fatalf("refresh with a token of %s: %s", name, m.Raw)
			}
			if got := c.Closed(); got != 4501 {
				t.Fatalf("closed with %d, want 4501", got)
			}
		})
	}
}

// refresh in open mode is a bad request; the connection stays.
func TestRefreshInOpenMode(t *testing.T) {
	g := gw(t, gateway.Config{})
	c := connect(t, g, "alice", "s1")
	doErr(t, c, "bad_request", map[string]any{"type": "refresh", "token": signFor(t, hardSecret, "alice", time.Hour)})
	do(t, c, "users", map[string]any{"type": "users"})
}

// expiringToken is a token that the gateway takes for between one and two more seconds:
// its exp is 28 to 29 s ago, within the 30 s of leeway.
func expiringToken(t *testing.T, user string) (string, time.Time) {
	exp := time.Now().Add(-28 * time.Second).Truncate(time.Second)
	tok := claimsToken(t, jwt.SigningMethodHS256, hardSecret, jwt.RegisteredClaims{Subject: user, ExpiresAt: jwt.NewNumericDate(exp)})
	return tok, exp.Add(auth.Leeway)
}

// A connection whose token runs out is told "token expired" and closed with 4501, without
// sending anything; its session keeps its grace period: reconnecting at once with a new
// token and rejoining emits no presence event and loses no message.
func TestTokenExpiryKeepsTheSession(t *testing.T) {
	t.Run("same gateway", func(t *testing.T) {
		g := tokenGW(t)
		expiryKeepsTheSession(t, g, g)
	})
	t.Run("another gateway", func(t *testing.T) {
		g1, g2, _ := gw2(t, gateway.Config{AuthSecret: hardSecret})
		expiryKeepsTheSession(t, g1, g2)
	})
}

// expiryKeepsTheSession: alice's token runs out on g, and she comes back on again.
func expiryKeepsTheSession(t *testing.T, g, again *chattest.Gateway) {
	bob := welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, "bob", time.Hour)}, "session": {"b1"}}, "bob")
	join(t, bob, "lobby")
	tok, _ := expiringToken(t, "alice")
	alice := welcomed(t, g, url.Values{"token": {tok}, "session": {"a1"}}, "alice")
	last := join(t, alice, "lobby").Events
	event(t, bob, "lobby", "join", "alice", "a1")

	m := alice.Until("error", nil)
	if m.Code != "unauthorized" || m.Message != "token expired" {
		t.Fatalf("at expiry: %s", m.Raw)
	}
	if got := alice.Closed(); got != 4501 {
		t.Fatalf("closed with %d, want 4501", got)
	}
	missed := post(t, bob, "lobby", "while you were away")

	alice = welcomed(t, again, url.Values{"token": {signFor(t, hardSecret, "alice", time.Hour)}, "session": {"a1"}}, "alice")
	j := join(t, alice, "lobby", "since", last[len(last)-1].ID)
	if !j.Recovered || len(j.Events) != 1 || j.Events[0].ID != missed.ID {
		t.Fatalf("rejoin: %s", j.Raw)
	}
	quiet(t, bob, "alice's expiry and return")
	if u := do(t, bob, "users", map[string]any{"type": "users"}); len(u.Users) != 2 {
		t.Fatalf("users: %s", u.Raw)
	}
}

// A refresh before expiry keeps the connection past the old token's end.
func TestRefreshOutlivesTheOldToken(t *testing.T) {
	g := tokenGW(t)
	tok, end := expiringToken(t, "alice")
	c := welcomed(t, g, url.Values{"token": {tok}}, "alice")
	do(t, c, "refreshed", map[string]any{"type": "refresh", "token": signFor(t, hardSecret, "alice", time.Hour)})
	// Waiting for a clock, not for another goroutine: the old token must be past its end.
	<-time.After(time.Until(end) + 200*time.Millisecond)
	do(t, c, "users", map[string]any{"type": "users"})
	quiet(t, c, "after the old token's end")
}

// A connection still waiting for its token when the gateway drains is closed with 1001,
// like every other: reconnect elsewhere.
func TestDrainClosesConnectionsAwaitingTheirToken(t *testing.T) {
	g := firstFrameGW(t, time.Minute)
	c, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}})
	if err != nil {
		t.Fatal(err)
	}
	g.Close()
	if got := c.Closed(); got != 1001 {
		t.Fatalf("closed with %d, want 1001", got)
	}
}

// A connection waiting for its token counts against --max-conns.
func TestConnectionsAwaitingTheirTokenCount(t *testing.T) {
	g := gw(t, gateway.Config{AuthSecret: hardSecret, Limits: gateway.Limits{MaxConns: 1}})
	if _, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The first connection is counted once its upgrade is served, just after the dial returns.
	waitFor(t, ctx, "a second connection refused", func() bool {
		c, err := chattest.DialQuery(t, g.URL(), url.Values{"token": {signFor(t, hardSecret, "bob", time.Hour)}})
		if err == nil {
			c.Cut()
		}
		return err != nil
	})
}
