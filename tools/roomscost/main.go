// Command roomscost measures, from outside the gateway process, what a `rooms` command costs a
// user with read markers in many full rooms (issue 12: "say what a rooms call costs with 200
// rooms of 10,000 events"). It fills the rooms through NATS (straight into the event stream,
// as stored events), marks each room read some messages before its end, then times `rooms`
// calls over a WebSocket and reads the gateway's CPU time from /proc.
//
//	go run ./tools/roomscost --url ws://127.0.0.1:8080 --nats nats://127.0.0.1:4222 --pid $(pgrep gateway)
//
// The gateway needs --message-rate 0 --command-rate 0 --room-create-rate 0 (the reader joins
// every room once to place its marker).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type config struct {
	url, natsURL string
	rooms        int
	events       int
	unread       int
	calls        int
	pid          int
	prefix       string
}

func main() {
	var cfg config
	flag.StringVar(&cfg.url, "url", "ws://127.0.0.1:8080", "gateway WebSocket base URL")
	flag.StringVar(&cfg.natsURL, "nats", "nats://127.0.0.1:4222", "the gateway's NATS (its embedded one listens here by default)")
	flag.IntVar(&cfg.rooms, "rooms", 200, "rooms the user has a marker in")
	flag.IntVar(&cfg.events, "events", 10_000, "message events per room")
	flag.IntVar(&cfg.unread, "unread", 50, "messages after the user's marker in each room (over 100 shows as 100)")
	flag.IntVar(&cfg.calls, "calls", 50, "rooms commands timed")
	flag.IntVar(&cfg.pid, "pid", 0, "gateway process id: report its CPU time per call from /proc")
	flag.StringVar(&cfg.prefix, "prefix", "rc", "room name prefix (rooms are <prefix>0 .. <prefix>N-1)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "roomscost:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg config) error {
	if cfg.rooms < 1 || cfg.events < 1 || cfg.unread < 0 || cfg.unread >= cfg.events || cfg.calls < 1 {
		return errors.New("need rooms, events, calls >= 1 and 0 <= unread < events")
	}
	nc, err := nats.Connect(cfg.natsURL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	reader, err := chatclient.Dial(ctx, cfg.url, "reader", "r1", chatclient.Options{})
	if err != nil {
		return err
	}
	defer reader.Close(1000)

	start := time.Now()
	rooms := make([]string, cfg.rooms)
	for i := range rooms {
		rooms[i] = cfg.prefix + strconv.Itoa(i)
		// A join makes the room's record (rooms lists recorded rooms); the leave right after
		// keeps the reader within its room limit.
		if err := do(ctx, reader, map[string]any{"type": "join", "chatroomId": rooms[i], "limit": 1}, "joined"); err != nil {
			return fmt.Errorf("join %s: %w", rooms[i], err)
		}
		if err := do(ctx, reader, map[string]any{"type": "leave", "chatroomId": rooms[i]}, "left"); err != nil {
			return fmt.Errorf("leave %s: %w", rooms[i], err)
		}
	}
	fmt.Fprintf(os.Stderr, "%d rooms made in %v; filling %d events each\n", cfg.rooms, time.Since(start).Round(time.Millisecond), cfg.events)

	start = time.Now()
	marks := make([]uint64, cfg.rooms)
	for i, room := range rooms {
		if marks[i], err = fill(ctx, js, room, cfg.events, cfg.events-cfg.unread); err != nil {
			return fmt.Errorf("fill %s: %w", room, err)
		}
		if (i+1)%20 == 0 {
			fmt.Fprintf(os.Stderr, "  %d/%d rooms filled (%v)\n", i+1, cfg.rooms, time.Since(start).Round(time.Second))
		}
	}
	fmt.Fprintf(os.Stderr, "%d events stored in %v\n", cfg.rooms*cfg.events, time.Since(start).Round(time.Millisecond))

	for i, room := range rooms {
		if err := do(ctx, reader, map[string]any{"type": "join", "chatroomId": room, "limit": 1}, "joined"); err != nil {
			return err
		}
		if err := do(ctx, reader, map[string]any{"type": "read", "chatroomId": room, "id": marks[i]}, "read"); err != nil {
			return fmt.Errorf("read marker in %s: %w", room, err)
		}
		if err := do(ctx, reader, map[string]any{"type": "leave", "chatroomId": room}, "left"); err != nil {
			return err
		}
	}

	var took []time.Duration
	var size, unread int
	cpu0 := cpuTicks(cfg.pid)
	for range cfg.calls {
		t0 := time.Now()
		m, err := reader.Request(ctx, map[string]any{"type": "rooms"})
		if err != nil {
			return err
		}
		took = append(took, time.Since(t0))
		if m.Type != "rooms" {
			return fmt.Errorf("rooms answered %s %s: %s", m.Type, m.Code, m.Message)
		}
		size, unread = len(m.Raw), 0
		for _, r := range m.Rooms {
			var e struct {
				ChatroomID string `json:"chatroomId"`
				Unread     *int   `json:"unread"`
			}
			if json.Unmarshal(r, &e) == nil && strings.HasPrefix(e.ChatroomID, cfg.prefix) && e.Unread != nil {
				unread += *e.Unread
			}
		}
	}
	cpu := cpuTicks(cfg.pid) - cpu0
	slices.Sort(took)
	var total time.Duration
	for _, d := range took {
		total += d
	}
	fmt.Printf("rooms with %d rooms of %d events, %d unread each (sum of unread seen %d), reply %d bytes, %d calls:\n",
		cfg.rooms, cfg.events, cfg.unread, unread, size, cfg.calls)
	fmt.Printf("  latency p50 %v, p99 %v, mean %v\n", took[len(took)/2].Round(time.Microsecond),
		took[min(len(took)-1, len(took)*99/100)].Round(time.Microsecond), (total / time.Duration(len(took))).Round(time.Microsecond))
	if cfg.pid != 0 {
		fmt.Printf("  gateway CPU %v per call (from /proc/%d/stat)\n", (time.Duration(cpu) * 10 * time.Millisecond / time.Duration(cfg.calls)).Round(time.Microsecond), cfg.pid)
	}
	return nil
}

// fill stores n message events in room by user "filler", as a client's messages are
// stored, and returns the id of the markAt-th of them.
func fill(ctx context.Context, js jetstream.JetStream, room string, n, markAt int) (uint64, error) {
	subj := subject.Events(room)
	acks := make([]jetstream.PubAckFuture, 0, n)
	for i := range n {
		ev := protocol.Event{ChatroomID: room, Type: protocol.TypeMessage, UserID: "filler", Message: "message " + strconv.Itoa(i), UnixTime: time.Now().Unix()}
		msg := &nats.Msg{Subject: subj, Data: ev.Marshal(), Header: history.Headers(protocol.TypeMessage, "filler", "")}
		f, err := js.PublishMsgAsync(msg)
		if err != nil {
			return 0, err
		}
		acks = append(acks, f)
	}
	var mark uint64
	for i, f := range acks {
		select {
		case a := <-f.Ok():
			if i == markAt-1 {
				mark = a.Sequence
			}
		case err := <-f.Err():
			return 0, err
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return mark, nil
}

// do sends cmd and wants a reply of type want.
func do(ctx context.Context, c *chatclient.Conn, cmd map[string]any, want string) error {
	m, err := c.Request(ctx, cmd)
	if err != nil {
		return err
	}
	if m.Type != want {
		return fmt.Errorf("got %s %s: %s", m.Type, m.Code, m.Message)
	}
	return nil
}

// cpuTicks is the process's user+system CPU time in clock ticks (1/100 s), 0 without pid.
func cpuTicks(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ut + st
}
