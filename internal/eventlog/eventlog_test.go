package eventlog

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestLinesInOrder(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	e.append(5) // before Run: read from the start of the stream
	stop := e.start(Config{Path: path})
	e.append(1500) // more than one count-triggered flush
	e.check(e.waitLines(path, 1505), 1505)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(readLines(t, path)[0], `{"id":1,`) {
		t.Fatal("id is not the first field")
	}
}

func TestRestartNeitherRepeatsNorSkips(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	cfg := Config{Path: path, Durable: "test-log"}
	stop := e.start(cfg)
	e.append(10)
	e.check(e.waitLines(path, 10), 10)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if floor, pending := e.ackFloor("test-log"); floor != 10 || pending != 0 {
		t.Fatalf("after stop: ack floor %d, %d pending; want 10, 0", floor, pending)
	}
	e.append(10) // while stopped
	stop = e.start(cfg)
	e.check(e.waitLines(path, 20), 20)
	e.append(5)
	e.check(e.waitLines(path, 25), 25)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.start(cfg) // nothing new: nothing written (stopped by the cleanup)
	e.append(1)
	e.check(e.waitLines(path, 26), 26)
}

func TestTornLineRepaired(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	e.append(5)
	e.writeLines(path, ids(1, 2), `{"id":3,"chatroomId":"ro`)
	e.start(Config{Path: path})
	lines := e.waitLines(path, 5)
	validJSON(t, lines)
	e.check(lines, 5)
}

func TestCrashBetweenWriteAndAck(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	e.append(10)
	e.writeLines(path, ids(1, 6), "") // written, never acked
	e.start(Config{Path: path, Durable: "test-log"})
	e.check(e.waitLines(path, 10), 10)
	e.append(2)
	e.check(e.waitLines(path, 12), 12)
}

func TestFileBehindConsumerIsFilled(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	cfg := Config{Path: path, Durable: "test-log"}
	stop := e.start(cfg)
	e.append(10)
	e.check(e.waitLines(path, 10), 10)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	e.writeLines(path, ids(1, 4), "") // acked lines lost, e.g. an older copy restored
	e.start(cfg)
	e.check(e.waitLines(path, 10), 10)
	e.append(3)
	e.check(e.waitLines(path, 13), 13)
}

// A crash with events delivered but neither written nor acked: after a restart new events are
// delivered before those are redelivered (AckWait later). They are read from the stream first.
func TestOutOfOrderRedeliveryIsFilled(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	cfg, err := Config{Path: path, Durable: "test-log"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	e.append(10)
	stream, cons, err := setup(e.ctx, e.js, cfg)
	if err != nil || stream == nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(10) // delivered to the crashed run, never acked
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range batch.Messages() {
		n++
	}
	if n != 10 {
		t.Fatalf("fetched %d", n)
	}
	e.writeLines(path, ids(1, 4), "") // 5..10 were in its buffer
	e.append(3)
	e.start(cfg)
	e.check(e.waitLines(path, 13), 13) // 5..10 are acked when redelivered, AckWait later
}

func TestBadLastLine(t *testing.T) {
	e := newEnv(t)
	path := filepath.Join(t.TempDir(), "events.log")
	if err := os.WriteFile(path, []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := e.start(Config{Path: path})
	if err := stop(); err == nil || !strings.HasPrefix(err.Error(), "eventlog: ") {
		t.Fatalf("err = %v, want an eventlog error", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	if _, err := (Config{}).withDefaults(); err == nil {
		t.Fatal("empty Path accepted")
	}
	a, err := Config{Path: "events.log"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Config{Path: "./events.log"}.withDefaults()
	c, _ := Config{Path: "other.log"}.withDefaults()
	if a.Durable != b.Durable || a.Durable == c.Durable || a.Stream != "CHAT_EVENTS" {
		t.Fatalf("defaults: %+v %+v %+v", a, b, c)
	}
	if !regexp.MustCompile(`^eventlog-[0-9a-f]{12}$`).MatchString(a.Durable) {
		t.Fatalf("durable %q", a.Durable)
	}
}
