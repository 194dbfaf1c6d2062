package clustertest

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// finish brings the run to rest and checks its end state.
func (k *Check) finish(ctx context.Context) {
	for _, s := range k.sessions {
		s.SetPublishing(false)
	}
	// One deadline for each phase: clients that are stuck do not add up their waits.
	ctx0 := ctx
	ctx, cancel := context.WithTimeout(ctx0, finalWait)
	defer cancel()
	for i, s := range k.sessions {
		if err := k.waitFor(ctx, finalWait, s.Joined); err != nil {
			k.problem("%s is not in all its rooms at the end: wants %v, joined %v (connected %v, gateway %s)",
				k.name(i), s.Rooms(), k.joinedRooms(i), s.Connected(), s.Gateway())
		}
	}
	ctx, cancel = context.WithTimeout(ctx0, finalWait)
	defer cancel()
	for i, s := range k.sessions {
		if err := k.waitFor(ctx, finalWait, func() bool { return s.PendingIn("") == 0 }); err != nil {
			k.problem("%s: %d messages not acknowledged %v after the schedule ended", k.name(i), s.PendingIn(""), finalWait)
		}
	}
	ctx, cancel = context.WithTimeout(ctx0, finalWait)
	defer cancel()
	k.markers(ctx)
	k.settleExits(ctx0)
	rooms := slices.Clone(checkerRooms)
	for _, s := range k.sessions {
		for _, r := range s.Check().Rooms() {
			rooms = appendNew(rooms, r)
		}
	}
	for _, room := range rooms {
		hist, err := HistoryAs(k.c.LBHTTP(), room, k.reader(room), 0)
		if err != nil {
			k.problem("history of %s: %v", room, err)
			continue
		}
		k.verifyMessages(room, hist)
		k.verifyPresence(room, hist)
	}
	k.verifyCloses()
}

// markers posts one message in every room that has members and waits until every member
// has received it: no client is left without its rooms.
func (k *Check) markers(ctx context.Context) {
	members := map[string][]int{}
	var rooms []string
	for i, s := range k.sessions {
		for _, r := range s.Rooms() {
			if members[r] == nil {
				rooms = append(rooms, r)
			}
			members[r] = append(members[r], i)
		}
	}
	for _, room := range rooms {
		poster := k.sessions[members[room][0]]
		ref := poster.Post(room, "")
		var id uint64
		if err := k.waitFor(ctx, finalWait, func() bool { id = poster.Acked()[ref].ID; return id != 0 }); err != nil {
			k.problem("the end marker of %s (posted by %s) was not acknowledged", room, k.name(members[room][0]))
			continue
		}
		for _, i := range members[room] {
			s := k.sessions[i]
			if err := k.waitFor(ctx, finalWait, func() bool { return s.Check().Last(room) >= id }); err != nil {
				k.problem("%s does not receive %s: the end marker %d has not come in %v (its last id there %d, in the room %v, connected %v on %s)",
					k.name(i), room, id, finalWait, s.Check().Last(room), s.InRoom(room), s.Connected(), s.Gateway())
			}
		}
	}
}

// settleExits waits until the stream holds at least the exits expected of every client and
// room (a session that went away is taken out by the gateways within 15 s of the drop).
func (k *Check) settleExits(ctx context.Context) {
	k.mu.Lock()
	want := map[roomOf]span{}
	for key, sp := range k.exits {
		want[key] = *sp
	}
	k.mu.Unlock()
	var short []string
	poll.UntilNil(ctx, stepWait, 500*time.Millisecond, func() error {
		short = short[:0]
		for key, sp := range want {
			n := k.names[key.client]
			hist, err := HistoryAs(k.c.LBHTTP(), key.room, n.User, 0)
			if err != nil {
				short = append(short, err.Error())
				continue
			}
			if got := countExits(hist, n.User, n.Session); got < sp.min {
				short = append(short, fmt.Sprintf("%s in %s: %d exits, want %d", k.name(key.client), key.room, got, sp.min))
			}
		}
		if len(short) > 0 && ctx.Err() == nil {
			return fmt.Errorf("%d short", len(short))
		}
		return nil
	})
	if len(short) > 0 {
		k.cfg.Logf("presence still short of the expected exits after %v: %v", stepWait, short)
	}
}

// reader is a user who may read room's history: any for a public room, one of the two of a
// private room (a client that has been in it).
func (k *Check) reader(room string) string {
	for i, s := range k.sessions {
		if slices.Contains(s.Check().Rooms(), room) {
			return k.names[i].User
		}
	}
	return ""
}

func countExits(hist []chatclient.Msg, user, session string) int {
	n := 0
	for _, e := range hist {
		if (e.Type == "remove" || e.Type == "leave") && e.UserID == user && e.SessionID == session {
			n++
		}
	}
	return n
}

// verifyMessages checks every acknowledged message and every client's runs of events in
// room against its history. A rejoin that was not recovered is allowed (the client was
// told) and logged.
func (k *Check) verifyMessages(room string, hist []chatclient.Msg) {
	var sessions []*chatclient.Session
	for i, s := range k.sessions {
		if slices.Contains(s.Check().Rooms(), room) {
			sessions = append(sessions, s)
			for _, g := range s.Room(room).Gaps {
				k.cfg.Logf("%s in %s: a rejoin since %d was not recovered (first id %d): a gap it was told of", k.name(i), room, g.Since, g.First)
			}
		}
	}
	for _, p := range VerifyRoom(room, hist, sessions, true) {
		k.problem("%s", p)
	}
}

// verifyPresence replays the presence events of room: a user's first session enters with
// join and the others with add, a session leaves with remove while the user has others
// there and with leave when it is the last; no session enters twice or leaves twice. Each
// client's exits must be what its schedule made (leaves, quits, grace periods that ran
// out; a client back within its grace period makes none), and it must be in the room at the
// end exactly when it wants it.
func (k *Check) verifyPresence(room string, hist []chatclient.Msg) {
	in := map[string]map[string]uint64{} // user → session → id of its enter
	for _, e := range hist {
		if !e.Presence() {
			continue
		}
		sessions := in[e.UserID]
		if sessions == nil {
			sessions = map[string]uint64{}
			in[e.UserID] = sessions
		}
		who := e.UserID + "/" + e.SessionID
		switch e.Type {
		case "join", "add":
			if prev, ok := sessions[e.SessionID]; ok {
				k.problem("presence in %s: %s %s entered again (id %d) without leaving since its enter %d", room, e.Type, who, e.ID, prev)
			} else if (e.Type == "join") != (len(sessions) == 0) {
				k.problem("presence in %s: %s of %s (id %d) while the user has %d other sessions there", room, e.Type, who, e.ID, len(sessions))
			}
			sessions[e.SessionID] = e.ID
		case "remove", "leave":
			if _, ok := sessions[e.SessionID]; !ok {
				k.problem("presence in %s: %s of %s (id %d), which was not in the room", room, e.Type, who, e.ID)
			} else {
				delete(sessions, e.SessionID)
				if (e.Type == "leave") != (len(sessions) == 0) {
					k.problem("presence in %s: %s of %s (id %d) while the user has %d other sessions there", room, e.Type, who, e.ID, len(sessions))
				}
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, n := range k.names {
		s := k.sessions[i]
		var exits []string
		var last chatclient.Msg
		for _, e := range hist {
			if e.Presence() && e.UserID == n.User && e.SessionID == n.Session {
				last = e
				if e.Type == "remove" || e.Type == "leave" {
					exits = append(exits, fmt.Sprintf("%s %d", e.Type, e.ID))
				}
			}
		}
		sp := span{}
		if p := k.exits[roomOf{i, room}]; p != nil {
			sp = *p
		}
		sp.max += k.slowComebacks(i, room)
		if len(exits) < sp.min || len(exits) > sp.max {
			k.problems = append(k.problems, fmt.Sprintf("presence in %s: %s has %d exits %v; its schedule makes %d to %d (%s) [seed %d]",
				room, k.name(i), len(exits), exits, sp.min, sp.max, k.comebacks(i, room), k.cfg.Seed))
		}
		wants := slices.Contains(s.Rooms(), room)
		counted := last.ID != 0 && (last.Type == "join" || last.Type == "add")
		if wants != counted {
			k.problems = append(k.problems, fmt.Sprintf("presence in %s: %s wants the room %v, but the stream counts it %v (its last presence event: %s) [seed %d]",
				room, k.name(i), wants, counted, last, k.cfg.Seed))
		}
	}
}

// slowComebacks counts the times client i came back to room after a drop it did not make
// (a gateway killed or drained, say) later than half the grace period: the gateways may
// have taken it out meanwhile (on a busy machine a comeback can be slow), so an exit and an
// enter there are not a fault.
func (k *Check) slowComebacks(i int, room string) int {
	n := 0
	for _, c := range k.gaps(i, room) {
		if c.cause != "away" && c.gap >= k.cfg.Grace/2 {
			n++
		}
	}
	return n
}

type comeback struct {
	at    time.Time
	gap   time.Duration
	cause string
}

// gaps lists client i's comebacks to room: from the end of a connection on which the room
// was joined to the next joined reply of the room on a later connection.
func (k *Check) gaps(i int, room string) []comeback {
	var out []comeback
	var end time.Time
	var cause string
	for _, l := range k.sessions[i].ConnLogs() {
		if l.Err != "" {
			continue
		}
		at, joined := l.Joined[room]
		if !joined {
			continue
		}
		if !end.IsZero() {
			out = append(out, comeback{at: at, gap: at.Sub(end), cause: cause})
		}
		end, cause = time.Time{}, ""
		if left, ok := l.Left[room]; ok && !left.Before(at) {
			continue // it left the room: no comeback to it
		}
		// A take-over's old connection ends a run too: its new connection usually joins at
		// once (a gap of nothing), but when NATS refused the new one (1013) the session
		// was without a connection until a later one joined, and its grace could run out.
		if l.Cause != "quit" && !l.Ended.IsZero() {
			end, cause = l.Ended, l.Cause
		}
	}
	return out
}

func (k *Check) comebacks(i int, room string) string {
	var s []string
	for _, c := range k.gaps(i, room) {
		s = append(s, fmt.Sprintf("back after %v (%s)", c.gap.Round(100*time.Millisecond), orNone(c.cause)))
	}
	if len(s) == 0 {
		return "no comebacks"
	}
	return fmt.Sprint(s)
}

func orNone(s string) string {
	if s == "" {
		return "dropped"
	}
	return s
}

// verifyCloses checks how every connection ended: a takeover with 4001, a drained gateway
// with 1001, a killed gateway by a cut; 1011, or a cut or 1001 with no fault of the
// connection's gateway, is a problem. Repeats (a client closed with 1011 at every
// reconnect, say) are one problem per client and code.
func (k *Check) verifyCloses() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for i, s := range k.sessions {
		byCode := map[int]*badCloses{}
		var codes []int
		for _, l := range s.ConnLogs() {
			if l.Err != "" || l.Ended.IsZero() || l.Cause == "stop" {
				continue
			}
			faulted := k.faultedLocked(l.Gateway, l.Opened, l.Ended)
			ok := false
			switch {
			case l.Cause == "takeover":
				ok = l.Code == 4001 || (faulted && (l.Code == -1 || l.Code == 1001))
			case l.Cause != "":
				ok = true // the client ended it
			case l.Code == 1001, l.Code == -1, l.Code == 1006:
				ok = faulted
			case l.Code == 1013:
				// Presence could not be recorded (try again later): right while a NATS node's
				// death keeps the buckets' leaders in election for longer than a connection's
				// opening waits (10 s; two kills in a row did it once in a 30-minute run).
				ok = k.natsFaultedLocked(l.Opened, l.Ended)
			}
			if ok {
				continue
			}
			b := byCode[l.Code]
			if b == nil {
				b = &badCloses{first: l}
				byCode[l.Code] = b
				codes = append(codes, l.Code)
			}
			b.n++
			b.last = l
			b.gateways = appendNew(b.gateways, orUnknown(l.Gateway))
		}
		for _, code := range codes {
			b := byCode[code]
			l := b.first
			p := fmt.Sprintf("%s: connection %d on %s (opened at %s, ended at %s) ended with close code %d%s; faults then: %s",
				k.name(i), l.Gen, orUnknown(l.Gateway), k.at(l.Opened), k.at(l.Ended), l.Code, causeNote(l.Cause), k.faultsLocked(l.Opened, l.Ended))
			if b.n > 1 {
				p += fmt.Sprintf("; and %d more of its connections until %s (on %v)", b.n-1, k.at(b.last.Ended), b.gateways)
			}
			k.problems = append(k.problems, p+fmt.Sprintf(" [seed %d]", k.cfg.Seed))
		}
	}
}

// badCloses are a client's connections that ended with one unexpected close code.
type badCloses struct {
	first, last chatclient.ConnLog
	n           int
	gateways    []string
}

func orUnknown(gw string) string {
	if gw == "" {
		return "an unknown gateway (no welcome)"
	}
	return gw
}

func causeNote(cause string) string {
	if cause == "takeover" {
		return " (replaced by its own takeover: want 4001)"
	}
	return ""
}

// at is a moment as an offset into the run.
func (k *Check) at(t time.Time) string {
	return "+" + t.Sub(k.started).Round(time.Millisecond).String()
}

// faultedLocked reports whether gateway gw (any, when unknown) was killed or stopped
// between from and to. Called with mu held.
func (k *Check) faultedLocked(gw string, from, to time.Time) bool {
	for _, f := range k.faults {
		if f.gateway != "" && (gw == "" || f.gateway == gw) && !f.at.Before(from.Add(-time.Second)) && !f.at.After(to) {
			return true
		}
	}
	return false
}

// natsFaultedLocked reports whether a NATS node was killed or stopped from a second before
// from until to.
func (k *Check) natsFaultedLocked(from, to time.Time) bool {
	for _, f := range k.faults {
		if f.gateway == "" && !f.at.Before(from.Add(-time.Second)) && !f.at.After(to) {
			return true
		}
	}
	return false
}

func (k *Check) faultsLocked(from, to time.Time) string {
	var s []string
	for _, f := range k.faults {
		if !f.at.Before(from.Add(-time.Second)) && !f.at.After(to.Add(time.Second)) {
			s = append(s, fmt.Sprintf("%s %s at %s", f.what, orNATS(f.gateway), k.at(f.at)))
		}
	}
	if len(s) == 0 {
		return "none"
	}
	return fmt.Sprint(s)
}

func orNATS(gw string) string {
	if gw == "" {
		return "(a NATS node)"
	}
	return gw
}

// scanBack pages backwards through room's history at base (newest first), as user, until fn
// returns true or the history ends.
func scanBack(base, room, user string, fn func(chatclient.Msg) bool) error {
	before := ""
	for {
		q := url.Values{"chatroomId": {room}, "limit": {"1000"}, "user": {user}}
		if before != "" {
			q.Set("before", before)
		}
		var page struct {
			Events []chatclient.Msg `json:"events"`
		}
		if err := getJSON(base+"/history?"+q.Encode(), &page); err != nil {
			return fmt.Errorf("history of %s: %w", room, err)
		}
		for i := len(page.Events) - 1; i >= 0; i-- {
			if fn(page.Events[i]) {
				return nil
			}
		}
		if len(page.Events) < 1000 {
			return nil
		}
		before = strconv.FormatUint(page.Events[0].ID, 10)
	}
}
