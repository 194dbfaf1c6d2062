package history

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

func TestOpenDefaults(t *testing.T) {
	st, _ := open(t, Config{})
	si, err := st.stream.Info(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	c := si.Config
	if c.MaxMsgsPerSubject != 10_000 || c.MaxAge != 30*24*time.Hour || c.Duplicates != 2*time.Minute ||
		c.Replicas != 1 || !c.AllowDirect || c.Storage != jetstream.FileStorage || c.Discard != jetstream.DiscardOld {
		t.Fatalf("config = %+v", c)
	}
	if c.RePublish == nil || c.RePublish.Source != subject.EventsAll || c.RePublish.Destination != subject.LiveAll {
		t.Fatalf("republish = %+v", c.RePublish)
	}
	if _, err := Open(testContext(t), st.js, Config{Depth: -1}); err == nil {
		t.Fatal("negative depth accepted")
	}
}

func TestAppendDedup(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	hdr := nats.Header{"Chat-Session": []string{"s1"}}
	id1, dup, err := st.Append(ctx, "lobby", []byte(`{"n":1}`), "alice-s1-k1", hdr)
	if err != nil || dup {
		t.Fatalf("first append: id %d dup %v err %v", id1, dup, err)
	}
	id2, dup, err := st.Append(ctx, "lobby", []byte(`{"n":2}`), "alice-s1-k1", hdr)
	if err != nil || !dup || id2 != id1 {
		t.Fatalf("retry: id %d (want %d) dup %v err %v", id2, id1, dup, err)
	}
	id3, dup, err := st.Append(ctx, "lobby", []byte(`{"n":3}`), "", nil)
	if err != nil || dup || id3 <= id1 {
		t.Fatalf("third append: id %d dup %v err %v", id3, dup, err)
	}
	evs, err := st.Latest(ctx, "lobby", 10, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || string(evs[0].Data) != `{"n":1}` || evs[1].ID != id3 {
		t.Fatalf("stored %+v", evs)
	}
	raw, err := st.stream.GetMsg(ctx, id1)
	if err != nil || raw.Header.Get("Chat-Session") != "s1" {
		t.Fatalf("header not stored: %v %v", raw, err)
	}
}

func TestAppendUnavailable(t *testing.T) {
	st, ns := open(t, Config{})
	ctx := testContext(t)
	if _, _, err := st.Append(ctx, "lobby", []byte(`{}`), "", nil); err != nil {
		t.Fatal(err)
	}
	ns.Shutdown()
	ns.WaitForShutdown()

	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, _, err := st.Append(short, "lobby", []byte(`{}`), "", nil)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append with server down: %v, want ErrUnavailable", err)
	}
	short, cancel = context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := st.Latest(short, "lobby", 50, 0); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("latest with server down: %v, want ErrUnavailable", err)
	}

	st.nc.Close()
	if _, _, err := st.Append(ctx, "lobby", []byte(`{}`), "", nil); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append on closed connection: %v, want ErrUnavailable", err)
	}
	if _, err := st.Info(ctx, "lobby"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("info on closed connection: %v, want ErrUnavailable", err)
	}
}

func TestCanceledIsNotUnavailable(t *testing.T) {
	st, _ := open(t, Config{})
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	_, _, err := st.Append(ctx, "lobby", []byte(`{}`), "", nil)
	if err == nil || errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled append: %v", err)
	}
}
