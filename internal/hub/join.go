package hub

import (
	"context"
	"errors"
)

// ErrNotJoined is returned by Join when the session left, or was removed, before the join
// could complete.
var ErrNotJoined = errors.New("hub: session gone before the join completed")

// Ticket is the hub's answer to a join: the session is a pending member of the room and
// receives every event with an id above Upto once Joined is called with this Gen.
type Ticket struct {
	Gen    uint64
	Upto   uint64 // the id of the last event of the room the hub has fanned out
	From   uint64 // Window holds every event of the room with From < id <= Upto
	Window []Event
}

// Join makes s a pending member of room once the hub has fanned out the room's event
// minID (its own join event, or 0). The caller then builds the joined reply from the
// ticket and hands it to Joined. If ctx ends first, the caller must Leave the room.
func (h *Hub) Join(ctx context.Context, s *Session, room string, minID uint64) (Ticket, error) {
	req := &joinReq{s: s, room: room, minID: minID, reply: make(chan Ticket, 1)}
	t, err := ask(ctx, h, req, req.reply)
	if err == nil && t.Gen == 0 {
		err = ErrNotJoined
	}
	return t, err
}

type joinReq struct {
	s     *Session
	room  string
	minID uint64
	reply chan Ticket // closed when the join is abandoned
}

func (j *joinReq) apply(h *Hub) {
	if _, ok := h.sessions[j.s]; !ok {
		close(j.reply)
		return
	}
	r := h.rooms[j.room]
	if r == nil {
		h.epoch++
		r = &room{name: j.room, epoch: h.epoch, members: make(map[*Session]*member)}
		h.rooms[j.room] = r
		h.cfg.Feeds.Start(j.room, r.epoch, h)
	}
	j.s.rooms.Add(j.room)
	r.waiting = append(r.waiting, j)
	h.admit(r)
}

// admit completes the waiting joins whose event the room has reached.
func (h *Hub) admit(r *room) {
	if !r.ready {
		return
	}
	kept := r.waiting[:0]
	for _, w := range r.waiting {
		if w.minID > r.lastID {
			kept = append(kept, w)
			continue
		}
		m := r.members[w.s]
		if m == nil {
			m = &member{}
			r.members[w.s] = m
		}
		h.gen++
		m.gen = h.gen
		m.pending, m.buf, m.held = true, nil, 0
		w.reply <- Ticket{Gen: m.gen, Upto: r.lastID, From: r.from, Window: r.snapshot()}
	}
	r.waiting = kept
}

// Reply is what a joining session receives, in order: Reply, then Tail, then the live events.
type Reply struct {
	Session *Session
	Room    string
	Gen     uint64
	Reply   *Frame
	Tail    []*Frame
	// Older, when not empty, are events read from the stream that end just where the
	// ticket's window began (at its From) and follow OlderFrom: the hub keeps them.
	Older     []Event
	OlderFrom uint64
}

// Joined queues the joined reply and makes the session a live member of the room. If the
// session joined the room again meanwhile, only the reply is queued.
func (h *Hub) Joined(r Reply) error { return h.send(h.reqc, joinedReq{r}) }

type joinedReq struct{ Reply }

func (j joinedReq) apply(h *Hub) {
	r := h.rooms[j.Room]
	if r == nil {
		return
	}
	m := r.members[j.Session]
	if m == nil {
		return
	}
	r.prepend(j.Older, j.OlderFrom, h.cfg.Window)
	j.Session.Reply(j.Reply.Reply)
	if m.gen != j.Gen || !m.pending {
		return
	}
	if !j.Session.SendAll(j.Tail) || !j.Session.SendAll(m.buf) {
		h.remove(j.Session)
		return
	}
	m.pending, m.buf, m.held = false, nil, 0
}

// Leave takes s out of room and then queues reply (which may be nil): after it, the
// session receives no event of the room.
//
// It returns once the hub has applied it, like Unregister: a session leaving a room stores
// its remove or leave right after, and must not receive it. (Sent and not waited for, a
// leave could be applied after the hub fanned out an event stored later, since the hub
// takes requests and feed deliveries as they come.)
func (h *Hub) Leave(s *Session, room string, reply *Frame) error {
	done := make(chan struct{}, 1)
	_, err := ask(context.Background(), h, leaveReq{s, room, reply, done}, done)
	return err
}

type leaveReq struct {
	s     *Session
	room  string
	reply *Frame
	done  chan struct{}
}

func (l leaveReq) apply(h *Hub) {
	h.leaveRoom(l.s, l.room)
	if l.reply != nil {
		l.s.Reply(l.reply)
	}
	l.done <- struct{}{}
}
