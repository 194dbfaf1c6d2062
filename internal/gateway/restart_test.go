package gateway_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

type roomEntry struct {
	ChatroomID string `json:"chatroomId"`
	Private    bool   `json:"private"`
	Peer       string `json:"peer"`
}

func restartRooms(t *testing.T, m chattest.Msg) []roomEntry {
	t.Helper()
	var out []roomEntry
	for _, raw := range m.Rooms {
		var r roomEntry
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func restartGet(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil && resp.StatusCode == http.StatusOK {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatal(err)
		}
	}
	return resp.StatusCode
}

// History, rooms and private rooms survive a restart of the gateway and of NATS on the same
// data directory.
func TestRestartKeepsHistoryRoomsAndPrivateRooms(t *testing.T) {
	dir := t.TempDir()
	ns := chattest.NATSAt(t, dir)
	g := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-a"})

	alice := chattest.Dial(t, g.URL(), "alice", "a1")
	alice.Expect("welcome")
	alice.Join("lobby")
	lobby := postN(t, alice, "lobby", 3, "lobby-")
	alice.Send(map[string]any{"type": "private", "userId": "bob", "ref": "p"})
	pj := alice.Until("joined", func(m chattest.Msg) bool { return m.Ref == "p" })
	dm := pj.ChatroomID
	if !pj.Private || pj.Peer != "bob" {
		t.Fatalf("private: %s", pj.Raw)
	}
	secret := postN(t, alice, dm, 2, "dm-")
	var before struct{ Events []chattest.Msg }
	restartGet(t, g.HTTP()+"/history?chatroomId=lobby&limit=1000", &before)

	g.Close()
	ns.Shutdown()
	ns.WaitForShutdown()

	ns = chattest.NATSAt(t, dir)
	g = chattest.StartGateway(t, ns, gateway.Config{ID: "gw-b"})

	var after struct{ Events []chattest.Msg }
	if code := restartGet(t, g.HTTP()+"/history?chatroomId=lobby&limit=1000", &after); code != http.StatusOK {
		t.Fatalf("GET /history: %d", code)
	}
	if !slices.Equal(chatclient.IDs(after.Events), chatclient.IDs(before.Events)) || !containsAll(chatclient.IDs(after.Events), lobby) {
		t.Fatalf("lobby history after restart %v, before %v", chatclient.IDs(after.Events), chatclient.IDs(before.Events))
	}
	var pub struct{ Rooms []roomEntry }
	restartGet(t, g.HTTP()+"/rooms", &pub)
	if !slices.ContainsFunc(pub.Rooms, func(r roomEntry) bool { return r.ChatroomID == "lobby" }) ||
		slices.ContainsFunc(pub.Rooms, func(r roomEntry) bool { return r.ChatroomID == dm }) {
		t.Fatalf("GET /rooms after restart: %+v", pub.Rooms)
	}
	if code := restartGet(t, g.HTTP()+"/history?chatroomId="+dm+"&user=carol", nil); code != http.StatusForbidden {
		t.Fatalf("GET /history of %s as carol: %d, want 403", dm, code)
	}

	bob := chattest.Dial(t, g.URL(), "bob", "b1")
	bob.Expect("welcome")
	bob.Send(map[string]any{"type": "rooms", "ref": "r"})
	rooms := restartRooms(t, bob.Until("rooms", nil))
	if !slices.Contains(rooms, roomEntry{ChatroomID: dm, Private: true, Peer: "alice"}) ||
		!slices.ContainsFunc(rooms, func(r roomEntry) bool { return r.ChatroomID == "lobby" }) {
		t.Fatalf("bob's rooms after restart: %+v", rooms)
	}
	bj := bob.Join(dm)
	if !bj.Private || bj.Peer != "alice" || !containsAll(chatclient.IDs(bj.Events), secret) {
		t.Fatalf("bob joins %s after restart: %s", dm, bj.Raw)
	}

	carol := chattest.Dial(t, g.URL(), "carol", "c1")
	carol.Expect("welcome")
	carol.Send(map[string]any{"type": "rooms", "ref": "r"})
	if rooms := restartRooms(t, carol.Until("rooms", nil)); slices.ContainsFunc(rooms, func(r roomEntry) bool { return r.ChatroomID == dm }) {
		t.Fatalf("carol sees %s: %+v", dm, rooms)
	}
	carol.Send(map[string]any{"type": "join", "chatroomId": dm, "ref": "j"})
	if e := carol.Until("error", nil); e.Code != "forbidden" || e.Ref != "j" {
		t.Fatalf("carol joins %s: %s", dm, e.Raw)
	}

	// Alice, back on the new gateway, resumes the lobby where she was.
	alice = chattest.Dial(t, g.URL(), "alice", "a1")
	alice.Expect("welcome")
	j := resumeJoin(alice, "lobby", lobby[2], 0)
	for _, ev := range j.Events {
		if ev.Type == "message" {
			t.Fatalf("resume after restart repeats a message: %s", j.Raw)
		}
	}
	next := postN(t, alice, "lobby", 1, "after-")
	if next[0] <= secret[1] {
		t.Fatalf("id after restart %d, not above %d", next[0], secret[1])
	}
}

func containsAll(have, want []uint64) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}
