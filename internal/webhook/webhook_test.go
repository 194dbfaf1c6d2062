package webhook

import (
	"log/slog"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestSignedBatchesInStreamOrder(t *testing.T) {
	e := newEnv(t)
	e.append(250) // before the consumer exists: delivered because FromStart
	g := e.start(e.config("a"))
	e.append(60)
	checkOrder(t, e.waitDelivered(310), 1, 310, 100, false)
	e.waitFor("lag 0", func() bool { return g.d.lag() == 0 })
	if n := counter(t, g.d, "chat_webhook_delivered_total"); n != 310 {
		t.Fatalf("delivered_total %v, want 310", n)
	}
	if n := counter(t, g.d, "chat_webhook_failed_attempts_total"); n != 0 {
		t.Fatalf("failed_attempts_total %v, want 0", n)
	}
}

func TestNewEventsOnlyByDefault(t *testing.T) {
	e := newEnv(t)
	e.append(5)
	cfg := e.config("a")
	cfg.FromStart = false
	e.start(cfg)
	e.append(3)
	got := e.waitDelivered(8)
	checkOrder(t, got, 6, 8, 100, false)
}

func TestReceiverDownNothingSkipped(t *testing.T) {
	e := newEnv(t)
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusInternalServerError })
	g := e.start(e.config("a"))
	e.append(40)
	e.waitFor("3 failed attempts", func() bool { return counter(t, g.d, "chat_webhook_failed_attempts_total") >= 3 })
	e.append(150) // arrives while the first batch is being retried
	e.waitFor("lag 190", func() bool { return g.d.lag() == 190 })
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusNoContent })
	got := e.waitDelivered(190)
	checkOrder(t, got, 1, 190, 100, false)
	e.waitFor("lag 0", func() bool { return g.d.lag() == 0 })
	e.rcv.mu.Lock()
	tries := e.rcv.tries
	e.rcv.mu.Unlock()
	if failed := counter(t, g.d, "chat_webhook_failed_attempts_total"); int(failed) != tries-len(got) {
		t.Fatalf("failed_attempts_total %v; the receiver refused %d", failed, tries-len(got))
	}
}

// An answer later than Timeout is a failure: the batch is sent again.
func TestSlowReceiverIsRetried(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("a")
	cfg.Timeout = 300 * time.Millisecond
	slow := true
	e.rcv.setAnswer(func(r *http.Request) int {
		if slow {
			slow = false
			<-r.Context().Done() // answers only once the gateway gave up
			return http.StatusOK
		}
		return http.StatusOK
	})
	g := e.start(cfg)
	e.append(10)
	got := e.waitDelivered(10)
	if failed := counter(t, g.d, "chat_webhook_failed_attempts_total"); failed != 1 {
		t.Fatalf("failed_attempts_total %v, want 1", failed)
	}
	// The slow answer was recorded as accepted before the client gave up; the retry repeats it.
	checkOrder(t, got, 1, 10, 100, true)
}

// Two gateways share the consumer: one of them delivers, the other waits; when the one
// delivering dies holding a batch, the other delivers it, and nothing is skipped.
func TestTwoGatewaysOneDelivers(t *testing.T) {
	e := newEnv(t)
	a := e.start(e.config("a"))
	e.append(1)
	e.waitDelivered(1) // a or b is pinned now
	b := e.start(e.config("b"))
	for range 5 {
		e.append(60)
	}
	got := e.waitDelivered(301)
	checkOrder(t, got, 1, 301, 100, false)
	pinned := got[0].agent
	for _, bt := range got {
		if bt.agent != pinned {
			t.Fatalf("batch %s from %s, others from %s", bt.delivery, bt.agent, pinned)
		}
	}

	// The pinned gateway dies holding a batch the receiver refuses.
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
	dead, other := a, b
	if pinned == "chat-gateway/b" {
		dead, other = b, a
	}
	e.append(30)
	e.waitFor("a failed attempt", func() bool { return counter(t, dead.d, "chat_webhook_failed_attempts_total") > 0 })
	dead.nc.Close() // no Nak, no unpin: a crash
	dead.stop()
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusOK })
	e.append(20)
	got = e.waitDelivered(351)
	// The dead one's batch, and events it delivered without its acks reaching the server
	// yet, may come twice; nothing may be skipped or come out of order.
	checkOrder(t, got, 1, 351, 100, true)
	for _, bt := range got[len(got)-1:] {
		if bt.agent != "chat-gateway/"+other.d.cfg.Gateway {
			t.Fatalf("batch %s after the crash from %s", bt.delivery, bt.agent)
		}
	}
}

// A gateway that stops cleanly hands its held batch over at once.
func TestCleanStopHandsOver(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("a")
	cfg.AckWait, cfg.PinnedTTL = 20*time.Second, 30*time.Second // a takeover by expiry would time the test out
	a := e.start(cfg)
	e.append(1)
	e.waitDelivered(1)
	e.start(func() Config { c := cfg; c.Gateway = "b"; return c }())
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusServiceUnavailable })
	e.append(10)
	e.waitFor("a failed attempt", func() bool { return counter(t, a.d, "chat_webhook_failed_attempts_total") > 0 })
	stopped := time.Now()
	a.stop()
	e.rcv.setAnswer(func(*http.Request) int { return http.StatusOK })
	got := e.waitDelivered(11)
	if took := time.Since(stopped); took > cfg.AckWait/2 {
		t.Fatalf("taken over after %v: by the ack wait's expiry, not by the hand-over", took)
	}
	checkOrder(t, got, 1, 11, 100, false)
	if last := got[len(got)-1]; last.agent != "chat-gateway/b" {
		t.Fatalf("batch %s from %s, want b", last.delivery, last.agent)
	}
}

func TestConfigRefused(t *testing.T) {
	for name, c := range map[string]Config{
		"no url":       {Secret: secret},
		"short secret": {URL: "http://x", Secret: []byte("short")},
		"not http":     {URL: "ftp://x", Secret: secret},
		"poll >= ack":  {URL: "http://x", Secret: secret, AckWait: time.Second, Poll: time.Second},
	} {
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// What a stopping gateway gives back (giveBack, for what reaches it during the hand-over's
// last drain) is only what it has not delivered: a redelivery of an event it has (its first
// ack lost) is acknowledged, so the next gateway does not post that one again.
func TestGiveBackKeepsWhatWasDelivered(t *testing.T) {
	e := newEnv(t)
	e.append(3)
	nc, err := nats.Connect(e.ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("a")
	cfg.AckWait = 30 * time.Second // only a give-back hands an event out again within the test
	d, err := Open(e.ctx, js, cfg, slog.New(slog.NewTextHandler(testWriter{t}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(n int) []jetstream.Msg {
		b, err := d.cons.Fetch(n, jetstream.FetchMaxWait(2*time.Second), jetstream.FetchPriorityGroup(group))
		if err != nil {
			t.Fatal(err)
		}
		var msgs []jetstream.Msg
		for m := range b.Messages() {
			msgs = append(msgs, m)
		}
		if err := b.Error(); err != nil {
			t.Fatal(err)
		}
		return msgs
	}
	msgs := fetch(3)
	if len(msgs) != 3 {
		t.Fatalf("fetched %d events, want 3", len(msgs))
	}
	r := &runner{d: d, done: 2} // events 1 and 2 were posted; their acks never arrived
	for _, m := range msgs {
		r.giveBack(m)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var seqs []uint64
	for _, m := range fetch(3) {
		md, err := m.Metadata()
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, md.Sequence.Stream)
	}
	if !slices.Equal(seqs, []uint64{3}) {
		t.Fatalf("handed out again: %v, want only the undelivered 3", seqs)
	}
}
