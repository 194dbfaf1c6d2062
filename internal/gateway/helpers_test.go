package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
	"github.com/nats-io/nats-server/v2/server"
)

// Helpers shared by the end-to-end tests of the protocol (docs: /work/shared/PROTOCOL.md).
// Every wait is bounded by chattest.Timeout; nothing waits by sleeping.

var refSeq atomic.Int64

// newRef makes a ref unique over the test binary.
func newRef(prefix string) string { return fmt.Sprintf("%s%d", prefix, refSeq.Add(1)) }

// gw starts a NATS server and one gateway on it, and marks the test parallel.
func gw(t *testing.T, cfg gateway.Config) *chattest.Gateway {
	t.Helper()
	t.Parallel()
	if cfg.ID == "" {
		cfg.ID = "gw-1"
	}
	return chattest.StartGateway(t, chattest.NATS(t), cfg)
}

// gw2 starts a NATS server and two gateways on it, and marks the test parallel.
func gw2(t *testing.T, cfg gateway.Config) (*chattest.Gateway, *chattest.Gateway, *server.Server) {
	t.Helper()
	t.Parallel()
	ns := chattest.NATS(t)
	cfg.ID = "gw-1"
	g1 := chattest.StartGateway(t, ns, cfg)
	cfg.ID = "gw-2"
	g2 := chattest.StartGateway(t, ns, cfg)
	return g1, g2, ns
}

// connect dials a session and takes its welcome.
func connect(t *testing.T, g *chattest.Gateway, user, session string) *chattest.Client {
	t.Helper()
	c := chattest.Dial(t, g.URL(), user, session)
	w := c.Expect("welcome")
	if w.UserID != user || (session != "" && w.SessionID != session) || w.GatewayID != g.ID() {
		t.Fatalf("welcome %s for %s/%s on %s", w.Raw, user, session, g.ID())
	}
	return c
}

// await returns the next object carrying ref (replies echo it; events never carry one).
// Objects before it are returned as skipped.
func await(t *testing.T, c *chattest.Client, ref string) (chattest.Msg, []chattest.Msg) {
	t.Helper()
	var skipped []chattest.Msg
	for {
		m := c.Next()
		if m.Ref == ref {
			return m, skipped
		}
		skipped = append(skipped, m)
	}
}

// do sends a command with a fresh ref and returns its reply, failing unless its type is want.
func do(t *testing.T, c *chattest.Client, want string, cmd map[string]any) chattest.Msg {
	t.Helper()
	m, _ := doAll(t, c, cmd)
	if m.Type != want {
		t.Fatalf("%v: want %s, got %s", cmd, want, m.Raw)
	}
	return m
}

// doAll sends a command with a fresh ref and returns its reply and what came before it.
func doAll(t *testing.T, c *chattest.Client, cmd map[string]any) (chattest.Msg, []chattest.Msg) {
	t.Helper()
	ref := newRef("r")
	cmd["ref"] = ref
	c.Send(cmd)
	return await(t, c, ref)
}

// doErr sends a command with a fresh ref and checks that it is answered with error code.
func doErr(t *testing.T, c *chattest.Client, code string, cmd map[string]any) {
	t.Helper()
	m := do(t, c, "error", cmd)
	if m.Code != code || m.Message == "" {
		t.Fatalf("%v: want error %s, got %s", cmd, code, m.Raw)
	}
}

// upto sends a marker command (users) and returns everything that came before its reply:
// what the gateway had queued for this session by then.
func upto(t *testing.T, c *chattest.Client) []chattest.Msg {
	t.Helper()
	_, before := doAll(t, c, map[string]any{"type": "users"})
	return before
}

// quiet fails if anything but online/offline notices came before a marker's reply.
func quiet(t *testing.T, c *chattest.Client, why string) {
	t.Helper()
	for _, m := range upto(t, c) {
		if m.Type != "online" && m.Type != "offline" {
			t.Fatalf("%s: unexpected %s", why, m.Raw)
		}
	}
}

// join joins a room and returns the joined reply.
func join(t *testing.T, c *chattest.Client, room string, extra ...any) chattest.Msg {
	t.Helper()
	cmd := map[string]any{"type": "join", "chatroomId": room}
	for i := 0; i+1 < len(extra); i += 2 {
		cmd[extra[i].(string)] = extra[i+1]
	}
	j := do(t, c, "joined", cmd)
	if j.ChatroomID != room {
		t.Fatalf("joined %s for %s", j.Raw, room)
	}
	return j
}

// post sends a message and returns its ack once both the ack and the sender's own copy of
// the event (which may come in either order) have arrived. Objects before them are dropped.
func post(t *testing.T, c *chattest.Client, room, text string) chattest.Msg {
	t.Helper()
	ref := newRef("k")
	c.Send(map[string]any{"type": "message", "chatroomId": room, "message": text, "ref": ref})
	var ack chattest.Msg
	var own []uint64
	for {
		m := c.Next()
		switch {
		case m.Ref == ref:
			if m.Type != "ack" || m.ChatroomID != room || m.ID == 0 {
				t.Fatalf("message %q: %s", text, m.Raw)
			}
			ack = m
		case m.Type == "message" && m.ChatroomID == room:
			own = append(own, m.ID)
		}
		if ack.ID != 0 && slices.Contains(own, ack.ID) {
			return ack
		}
	}
}

// history returns a room's events through the history command.
func hist(t *testing.T, c *chattest.Client, room string, extra ...any) []chattest.Msg {
	t.Helper()
	cmd := map[string]any{"type": "history", "chatroomId": room}
	for i := 0; i+1 < len(extra); i += 2 {
		cmd[extra[i].(string)] = extra[i+1]
	}
	h := do(t, c, "history", cmd)
	if h.ChatroomID != room {
		t.Fatalf("history %s for %s", h.Raw, room)
	}
	return h.Events
}

// messages keeps the message events of evs.
func messages(evs []chattest.Msg) []string {
	var out []string
	for _, e := range evs {
		if e.Type == "message" {
			out = append(out, e.Message)
		}
	}
	return out
}

// event waits for the next event of room (skipping online/offline and other rooms) and
// checks its type, user and session.
func event(t *testing.T, c *chattest.Client, room, typ, user, session string) chattest.Msg {
	t.Helper()
	for {
		m := c.Next()
		if m.Ref != "" || m.ChatroomID != room {
			continue
		}
		if m.Type != typ || m.UserID != user || (session != "" && m.SessionID != session) || m.ID == 0 {
			t.Fatalf("want %s of %s/%s in %s, got %s", typ, user, session, room, m.Raw)
		}
		return m
	}
}

// notice waits for an online/offline notice of user, skipping other objects.
func notice(t *testing.T, c *chattest.Client, typ, user string) chattest.Msg {
	t.Helper()
	return c.Until(typ, func(m chattest.Msg) bool { return m.UserID == user })
}

// exit waits for a user's last exit of a room, as event does for its leave, and for the
// offline notice that goes with it, which may come before or after the leave: notices
// and room events travel apart (core NATS and the stream), and nothing orders one after
// the other.
func exit(t *testing.T, c *chattest.Client, room, user, session string) {
	t.Helper()
	left, offline := false, false
	for !left || !offline {
		m := c.Next()
		switch {
		case m.Type == "offline" && m.UserID == user:
			offline = true
		case m.Ref != "" || m.ChatroomID != room:
		case m.Type != "leave" || m.UserID != user || (session != "" && m.SessionID != session) || m.ID == 0 || left:
			t.Fatalf("want leave of %s/%s in %s, got %s", user, session, room, m.Raw)
		default:
			left = true
		}
	}
}

type userInfo struct {
	UserID   string `json:"userId"`
	Sessions int    `json:"sessions"`
}

type roomInfo struct {
	ChatroomID string `json:"chatroomId"`
	Users      int    `json:"users"`
	Private    bool   `json:"private"`
	Peer       string `json:"peer"`
}

func decodeAll[T any](t *testing.T, raws []json.RawMessage) []T {
	t.Helper()
	out := make([]T, len(raws))
	for i, r := range raws {
		if err := json.Unmarshal(r, &out[i]); err != nil {
			t.Fatalf("%s: %v", r, err)
		}
	}
	return out
}

// eventually polls cond with the given command's reply until it holds (the users and rooms
// replies come from each gateway's copy of the presence bucket, which follows the bucket).
func eventually(t *testing.T, c *chattest.Client, typ string, cond func(chattest.Msg) bool) chattest.Msg {
	t.Helper()
	deadline := time.Now().Add(chattest.Timeout)
	for {
		m := do(t, c, typ, map[string]any{"type": typ})
		if cond(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("condition never held; last %s", m.Raw)
		}
		pause()
	}
}

// pause spaces out the polls of eventually and getEventually.
func pause() { <-time.After(20 * time.Millisecond) }

// get does an HTTP GET and decodes its JSON body into v, returning the status.
func get(t *testing.T, url string, v any) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), chattest.Timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); v != nil && ct != "application/json" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %d %s: %v", url, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode
}

// users returns a users reply as a map.
func usersOf(t *testing.T, m chattest.Msg) map[string]int {
	out := map[string]int{}
	for _, u := range decodeAll[userInfo](t, m.Users) {
		out[u.UserID] = u.Sessions
	}
	return out
}

func roomsOf(t *testing.T, m chattest.Msg) map[string]roomInfo {
	out := map[string]roomInfo{}
	for _, r := range decodeAll[roomInfo](t, m.Rooms) {
		out[r.ChatroomID] = r
	}
	return out
}

func mustUnmarshal(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
}

// lastEvent returns the last event of a joined or history reply.
func lastEvent(t *testing.T, m chattest.Msg) chattest.Msg {
	t.Helper()
	if len(m.Events) == 0 {
		t.Fatalf("no events in %s", m.Raw)
	}
	return m.Events[len(m.Events)-1]
}
