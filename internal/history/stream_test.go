package history

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/chathub/chathub/internal/subject"
)

func TestDepthTrimsPerRoom(t *testing.T) {
	st, _ := open(t, Config{Depth: 5})
	ids, data := fill(t, st, 40, func(i int) string {
		if i%4 == 0 {
			return "quiet"
		}
		return "busy"
	})
	ctx := testContext(t)
	for room, all := range ids {
		kept := all[max(0, len(all)-5):]
		got, err := st.Latest(ctx, room, 100, 0)
		check(t, "Latest("+room+")", got, err, kept, data)
		got, more, err := st.After(ctx, room, 0, 0, 100)
		check(t, "After("+room+")", got, err, kept, data)
		if more {
			t.Fatalf("After(%s): more", room)
		}
		ri, err := st.Info(ctx, room)
		if err != nil {
			t.Fatal(err)
		}
		if ri.First != kept[0] || ri.Last != kept[len(kept)-1] || ri.Count != 5 || ri.Depth != 5 || ri.StreamFirst == 0 {
			t.Fatalf("Info(%s) = %+v, kept %v", room, ri, kept)
		}
	}
}

func TestInfoAndIDs(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	ri, err := st.Info(ctx, "empty")
	if err != nil || ri.First != 0 || ri.Last != 0 || ri.Count != 0 || ri.Depth != DefaultDepth {
		t.Fatalf("Info(empty) = %+v, %v", ri, err)
	}
	if first, err := st.FirstID(ctx, "empty"); err != nil || first != 0 {
		t.Fatalf("FirstID(empty) = %d, %v", first, err)
	}
	if last, err := st.LastID(ctx, "empty"); err != nil || last != 0 {
		t.Fatalf("LastID(empty) = %d, %v", last, err)
	}
	ids, _ := fill(t, st, 30, func(i int) string { return "r" + strconv.Itoa(i%3) })
	all := ids["r1"]
	ri, err = st.Info(ctx, "r1")
	if err != nil || ri.First != all[0] || ri.Last != all[9] || ri.Count != 10 || ri.StreamFirst != 1 {
		t.Fatalf("Info(r1) = %+v, %v; ids %v", ri, err, all)
	}
	first, err1 := st.FirstID(ctx, "r1")
	last, err2 := st.LastID(ctx, "r1")
	if err1 != nil || err2 != nil || first != all[0] || last != all[9] {
		t.Fatalf("FirstID, LastID = %d, %d (%v, %v); ids %v", first, last, err1, err2, all)
	}
}

func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := testContext(t)
	ns := startServer(t, dir)
	st, err := Open(ctx, connect(t, ns), Config{})
	if err != nil {
		t.Fatal(err)
	}
	ids, data := fill(t, st, 50, func(i int) string { return "r" + strconv.Itoa(i%2) })
	ns.Shutdown()
	ns.WaitForShutdown()

	ns = startServer(t, dir)
	st, err = Open(ctx, connect(t, ns), Config{})
	if err != nil {
		t.Fatal(err)
	}
	for room, all := range ids {
		got, err := st.Latest(ctx, room, 100, 0)
		check(t, "Latest("+room+") after restart", got, err, all, data)
	}
	id, _, err := st.Append(ctx, "r0", []byte(`{}`), "", nil)
	if err != nil || id != 51 {
		t.Fatalf("append after restart: id %d, %v", id, err)
	}
}

func TestRepublishFeed(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	live := make(chan *nats.Msg, 16)
	sub, err := st.nc.ChanSubscribe(subject.LiveAll, live)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := st.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	type want struct {
		subj      string
		seq, prev string
	}
	var wants []want
	appendTo := func(room, msgID string, prev uint64) uint64 {
		id, dup, err := st.Append(ctx, room, []byte(`{"chatroomId":"`+room+`"}`), msgID, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !dup {
			wants = append(wants, want{subject.Live(room), strconv.FormatUint(id, 10), strconv.FormatUint(prev, 10)})
		}
		return id
	}
	a1 := appendTo("a", "m1", 0)
	b1 := appendTo("b", "", 0)
	appendTo("a", "m1", a1) // a duplicate: not republished
	a2 := appendTo("a", "", a1)
	appendTo("b", "", b1)
	appendTo("a", "", a2)
	for _, w := range wants {
		select {
		case m := <-live:
			got := want{m.Subject, m.Header.Get("Nats-Sequence"), m.Header.Get("Nats-Last-Sequence")}
			if got != w {
				t.Fatalf("live %+v, want %+v", got, w)
			}
		case <-ctx.Done():
			t.Fatalf("no live message, want %+v", w)
		}
	}
	select {
	case m := <-live:
		t.Fatalf("unexpected live message %s %v", m.Subject, m.Header)
	default:
	}
}

// Reads of events too big for one direct get (maxBatchBytes) go on batch after batch: every
// read returns all the events asked for, in order.
func TestReadsOfBigEventsSpanBatches(t *testing.T) {
	st, _ := open(t, Config{})
	ctx := testContext(t)
	big := strings.Repeat("x", 100<<10) // ten of them fill a batch
	var want []uint64
	data := map[uint64]string{}
	for i := range 35 {
		room := "big"
		if i%5 == 0 {
			room = "other"
		}
		payload := fmt.Sprintf(`{"chatroomId":%q,"n":%d,"pad":%q}`, room, i, big)
		id, _, err := st.Append(ctx, room, []byte(payload), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if room == "big" {
			want = append(want, id)
		}
		data[id] = payload
	}
	got, err := st.Latest(ctx, "big", 1000, 0)
	check(t, "Latest(big)", got, err, want, data)
	got, more, err := st.After(ctx, "big", 0, 0, 1000)
	check(t, "After(big)", got, err, want, data)
	if more {
		t.Fatal("After(big): more")
	}
	got, err = st.Before(ctx, "big", want[len(want)-1], 1000)
	check(t, "Before(big)", got, err, want[:len(want)-1], data)
}
