package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/chathub/chathub/internal/poll"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Helpers of the server API's end-to-end tests: a real JetStream server per test, real
// gateways, real HTTP and NATS requests, real WebSocket clients.

const (
	key1 = "test-key-one-0123456789"
	key2 = "test-key-two-0123456789"
)

// cluster is one NATS server with two gateways and a NATS connection of a "backend".
type cluster struct {
	ns     *server.Server
	g1, g2 *chattest.Gateway
	nc     *nats.Conn
}

// start starts a NATS server and two gateways serving the API with key1 and key2.
func start(t *testing.T, cfg gateway.Config) *cluster {
	t.Helper()
	t.Parallel()
	if cfg.APIKeys == nil {
		cfg.APIKeys = []string{key1, key2}
	}
	c := &cluster{ns: chattest.NATS(t)}
	cfg.ID = "gw-1"
	c.g1 = chattest.StartGateway(t, c.ns, cfg)
	cfg.ID = "gw-2"
	c.g2 = chattest.StartGateway(t, c.ns, cfg)
	c.nc = backend(t, c.ns)
	return c
}

// backend connects to NATS as an application's backend would.
func backend(t *testing.T, ns *server.Server) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// answer is an API answer: its HTTP status (or micro error code) and JSON body.
type answer struct {
	status int
	body   []byte
}

// object decodes the answer's body.
func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d %s: %v", a.status, a.body, err)
	}
	return m
}

// id is the "id" of a publish answer.
func (a answer) id(t *testing.T) uint64 {
	t.Helper()
	id, ok := a.object(t)["id"].(float64)
	if a.status != 200 || !ok || id <= 0 {
		t.Fatalf("publish answered %d %s", a.status, a.body)
	}
	return uint64(id)
}

// code is the error code of an error answer.
func (a answer) code(t *testing.T) string {
	t.Helper()
	e, _ := a.object(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	if code == "" || e["message"] == "" {
		t.Fatalf("not an error answer: %d %s", a.status, a.body)
	}
	return code
}

// call posts body (a string as is, anything else as JSON) to method with key ("" for no
// Authorization header).
func call(t *testing.T, g *chattest.Gateway, key, method string, body any) answer {
	t.Helper()
	return request(t, http.MethodPost, g.HTTP()+"/api/v1/"+method, key, body)
}

func request(t *testing.T, verb, url, key string, body any) answer {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	req, err := http.NewRequest(verb, url, bytes.NewBufferString(raw))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := (&http.Client{Timeout: chattest.Timeout}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, body %s", verb, url, ct, out)
	}
	return answer{resp.StatusCode, out}
}

// natsCall sends a request to chat.api.<method>; a micro error becomes its code as status.
func natsCall(t *testing.T, nc *nats.Conn, method string, body any) answer {
	t.Helper()
	raw, ok := body.(string)
	if !ok {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		raw = string(b)
	}
	m, err := nc.Request("chat.api."+method, []byte(raw), chattest.Timeout)
	if err != nil {
		t.Fatalf("nats request %s: %v", method, err)
	}
	a := answer{200, m.Data}
	if code := m.Header.Get("Nats-Service-Error-Code"); code != "" {
		if m.Header.Get("Nats-Service-Error") == "" {
			t.Fatalf("micro error %s without a description", code)
		}
		if err := json.Unmarshal([]byte(code), &a.status); err != nil {
			t.Fatalf("micro error code %q: %v", code, err)
		}
	}
	return a
}

// connect dials a session and takes its welcome.
func connect(t *testing.T, g *chattest.Gateway, user, session string) *chattest.Client {
	t.Helper()
	c := chattest.Dial(t, g.URL(), user, session)
	if w := c.Expect("welcome"); w.UserID != user {
		t.Fatalf("welcome %s", w.Raw)
	}
	return c
}

// fields decodes a message's raw JSON.
func fields(t *testing.T, m chattest.Msg) map[string]any {
	t.Helper()
	var f map[string]any
	if err := json.Unmarshal(m.Raw, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

// eventually polls cond until it holds or chattest.Timeout passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := poll.Within(context.Background(), chattest.Timeout, 10*time.Millisecond, cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// tokenRules are the token rules of the token-mode tests: minted tokens must carry them.
var tokenRules = auth.Rules{Issuer: "https://shop.example", Audience: "chat"}
