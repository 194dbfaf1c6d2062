package clustertest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// NATS paused (SIGSTOP) while a message is on its way: the gateway cannot know whether it
// was stored, and its answer must not say it was not. It answers that the message may have
// been stored and is to be sent again with the same ref; once NATS resumes (SIGCONT), the
// same ref is acknowledged with one id, and the room holds the message exactly once.
func TestPausedNATSLeavesAMessageUnconfirmed(t *testing.T) {
	bins, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	dir := testDir(t)
	ports, err := freePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	nats := &Proc{Name: "nats", Bin: bins.NATSEmbed, LogPath: filepath.Join(dir, "nats.log"),
		Args: []string{"--addr", "127.0.0.1:" + strconv.Itoa(ports[0]), "--store-dir", filepath.Join(dir, "nats")}}
	gw := &Proc{Name: "gateway", Bin: bins.Gateway, LogPath: filepath.Join(dir, "gateway.log"),
		Args: []string{"--addr", "127.0.0.1:" + strconv.Itoa(ports[1]), "--gateway-id", "gw-paused",
			"--nats-url", "nats://127.0.0.1:" + strconv.Itoa(ports[0]), "--data-dir", filepath.Join(dir, "gw")}}
	for _, p := range []*Proc{nats, gw} {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Kill()
		if p == nats {
			if err := poll.UntilNil(t.Context(), 30*time.Second, 20*time.Millisecond, func() error {
				c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(ports[0]))
				if err == nil {
					c.Close()
				}
				return err
			}); err != nil {
				t.Fatalf("NATS not listening: %v\n%s", err, nats.Tail(20))
			}
		}
	}
	defer nats.Signal(syscall.SIGCONT) // never leave a stopped process behind
	base := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	if err := poll.UntilNil(t.Context(), 60*time.Second, 50*time.Millisecond, func() error { return httpOK(base + "/readyz") }); err != nil {
		t.Fatalf("gateway not ready: %v\n%s", err, gw.Tail(20))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	alice := runClient(t, ctx, chatclient.Config{URL: "ws://127.0.0.1:" + strconv.Itoa(ports[1]) + "/ws", User: "alice"})
	if err := poll.UntilNil(ctx, 20*time.Second, 20*time.Millisecond, func() error {
		if alice.Gateway() == "" {
			return fmt.Errorf("alice not connected")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 20*time.Second)
	if f, err := alice.Request(rctx, map[string]any{"type": "join", "chatroomId": "lobby"}); err != nil || f.Type != "joined" {
		t.Fatalf("join: %+v, %v", f, err)
	}
	rcancel()

	if err := nats.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	msg := map[string]any{"type": "message", "chatroomId": "lobby", "message": "sent while NATS sleeps", "ref": "paused-1"}
	rctx, rcancel = context.WithTimeout(ctx, 30*time.Second)
	f, err := alice.Request(rctx, msg)
	rcancel()
	if err != nil || f.Type != "error" || !strings.Contains(f.Message, "may have been stored") || !strings.Contains(f.Message, "same ref") {
		t.Fatalf("message while NATS is paused: %+v, %v; want an error saying it may have been stored", f, err)
	}
	t.Logf("while paused: %s %s", f.Code, f.Message)
	if err := nats.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}

	// Sent again with the same ref, until the stream answers: one id, one stored message.
	var id uint64
	if err := poll.UntilNil(ctx, 60*time.Second, 200*time.Millisecond, func() error {
		rctx, rcancel := context.WithTimeout(ctx, 15*time.Second)
		defer rcancel()
		f, err := alice.Request(rctx, msg)
		if err != nil {
			return err
		}
		if f.Type != "ack" {
			return fmt.Errorf("%s %s", f.Code, f.Message)
		}
		id = f.ID
		return nil
	}); err != nil {
		t.Fatalf("the same ref after NATS resumed: %v\n%s", err, gw.Tail(20))
	}
	hist, err := History(base, "lobby", 0)
	if err != nil {
		t.Fatal(err)
	}
	var stored []uint64
	for _, ev := range hist {
		if ev.Type == "message" && ev.Message == "sent while NATS sleeps" {
			stored = append(stored, ev.ID)
		}
	}
	if len(stored) != 1 || stored[0] != id {
		t.Fatalf("stored as %v, acked as %d: want exactly once, under the acked id", stored, id)
	}
}
