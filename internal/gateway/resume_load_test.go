package gateway_test

import (
	"fmt"
	"testing"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// joiner is one client joining and re-joining a busy room; episodes holds, per joined
// reply, its events followed by the live events up to the next reply.
type joiner struct {
	c        *chattest.Client
	since    bool // leaves and re-joins with since = the last id seen: all episodes chain
	episodes [][]uint64
}

func (j *joiner) last() uint64 {
	for i := len(j.episodes) - 1; i >= 0; i-- {
		if e := j.episodes[i]; len(e) > 0 {
			return e[len(e)-1]
		}
	}
	return 0
}

// leave leaves the room and takes the live events that came before left: after it, the
// client has seen everything it will see of the first part.
func (j *joiner) leave() {
	j.c.Send(map[string]any{"type": "leave", "chatroomId": "busy", "ref": "l"})
	j.take("left", "l")
}

// take reads until the reply of type typ with ref, adding the live events before it to the
// current episode; a joined reply starts a new episode with its events.
func (j *joiner) take(typ, ref string) {
	for {
		m := j.c.Next()
		switch {
		case m.Type == "left" && typ == "left" && m.Ref == ref:
			return
		case m.Type == "joined" && typ == "joined" && m.Ref == ref:
			j.episodes = append(j.episodes, chatclient.IDs(m.Events))
			return
		case m.ID != 0 && m.ChatroomID == "busy" && len(j.episodes) > 0:
			j.episodes[len(j.episodes)-1] = append(j.episodes[len(j.episodes)-1], m.ID)
		}
	}
}

// While a publisher posts without pause, clients join and re-join the room on two
// gateways: what each receives (joined reply, then live) follows the room's stored
// history with no hole and no duplicate.
func TestJoinUnderLoadHasNoGapNoDuplicate(t *testing.T) {
	ns := chattest.NATS(t)
	gws := []*chattest.Gateway{
		chattest.StartGateway(t, ns, gateway.Config{ID: "gw-1"}),
		chattest.StartGateway(t, ns, gateway.Config{ID: "gw-2"}),
	}
	st := storeOf(t, ns)
	p := startPoster(t, gws[0].URL(), "poster", "busy", 16)

	var js []*joiner
	for round := range 4 {
		// Two new clients per round, one per gateway; then everyone (re)joins.
		for k := range 2 {
			n := len(js)
			c := chattest.Dial(t, gws[k].URL(), fmt.Sprint("u", n), "s")
			c.Expect("welcome")
			js = append(js, &joiner{c: c, since: n%2 == 1})
		}
		p.waitCount(t, p.count()+10)
		ref := fmt.Sprint("r", round)
		for _, j := range js {
			cmd := map[string]any{"type": "join", "chatroomId": "busy", "ref": ref}
			if j.since && len(j.episodes) > 0 {
				j.leave()
				cmd["since"] = j.last()
			}
			j.c.Send(cmd)
		}
		for _, j := range js {
			j.take("joined", ref)
		}
	}
	p.waitCount(t, p.count()+20)
	acked := p.finish(t)
	end := acked[len(acked)-1]
	for _, j := range js {
		j.episodes[len(j.episodes)-1] = append(j.episodes[len(j.episodes)-1], collect(t, j.c, "busy", end)...)
	}

	all := storedIDs(t, st, "busy")
	for n, j := range js {
		if j.since {
			var chain []uint64
			for _, e := range j.episodes {
				chain = append(chain, e...)
			}
			if err := chatclient.Contiguous(all, chain); err != nil {
				t.Errorf("u%d (re-joins with since), all episodes: %v", n, err)
			}
		}
		for i, e := range j.episodes {
			if err := chatclient.Contiguous(all, e); err != nil {
				t.Errorf("u%d episode %d (%d events): %v\n%v", n, i, len(e), err, e)
			}
		}
		if last := j.last(); last != end {
			t.Errorf("u%d ends at %d, want %d", n, last, end)
		}
	}
}
