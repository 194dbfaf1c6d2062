package control

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// A ban is exact: once Ban returns, nothing of the banned user is stored in the room any
// more (until the ban is lifted), whichever gateway the user's sessions are on and however
// fast they post. Every gateway enforces bans from its own copy of the bans bucket, which
// its watch keeps current within a second; that alone would let a gateway whose watch is
// a moment behind store a message after the ban was answered. So a ban is
//
//  1. written to the bans bucket (gateways that start later read it there);
//  2. sent to every live gateway (those with a heartbeat key) as a rules notice, which
//     each applies to its copy at once, under the lock every sender holds from its check
//     until its event is handed to NATS (State.Sending): after that, no event of the user
//     is published there, and every one published before is on the gateway's connection;
//  3. confirmed by each gateway only after a barrier: an empty message the gateway stores
//     on its own fence subject of the event stream, on the same NATS connection as its
//     events. The stream stores a connection's messages in the order sent, so the barrier's
//     acknowledgement means every event published before it has been stored (or refused);
//  4. answered once every live gateway has confirmed (a gateway whose heartbeat key expires
//     meanwhile is dead and not waited for). Nothing confirmed in time: an error, and the
//     caller must not claim the ban is in force everywhere (it is stored, and will be).

// Kinds of rules notices.
const (
	kindBan    = "ban"
	kindDelete = "delete"
)

// rulesNotice is a change every live gateway applies before the change is answered.
type rulesNotice struct {
	Kind string `json:"kind"`
	Room string `json:"chatroomId,omitempty"` // ban: "" bans from the whole chat
	User string `json:"userId,omitempty"`
	On   bool   `json:"on,omitempty"`
	Val  []byte `json:"val,omitempty"` // ban: the bans key's value, nil when lifted
	Rev  uint64 `json:"rev,omitempty"` // ban: the bans key's revision
}

// confirmWait bounds how long a gateway waits for its barrier, or for its sessions to
// leave a deleted room, before it confirms all the same.
const confirmWait = 5 * time.Second

// Ban bans user from room (on), or lifts the ban; room "" bans from the whole chat (the
// server API's ban, whose connections are closed with 4503). It returns once every live
// gateway applies it (see above); the banned user's local sessions are told by each.
func (p *Plane) Ban(ctx context.Context, room, user string, on bool) error {
	key := userBanKey(user)
	if room != "" {
		key = roomBanKey(room, user)
	}
	n := rulesNotice{Kind: kindBan, Room: room, User: user, On: on}
	var err error
	if on {
		n.Val, _ = json.Marshal(banRecord{UserID: user, ChatroomID: room, UnixTime: p.cfg.Now().Unix()})
		n.Rev, err = p.bans.Put(ctx, key, n.Val)
	} else if err = p.bans.Delete(ctx, key); err == nil {
		// The delete's revision, so that no older news of the key undoes it in a copy.
		_, n.Rev, err = getLeader[banRecord](ctx, bucket{kv: p.bans, nc: p.nc}, key)
	}
	if err != nil {
		return fmt.Errorf("control: ban %s: %w", key, err)
	}
	p.state.apply(p.state.applyBan, key, n.Val, n.Rev, false)
	return p.confirm(ctx, n)
}

// confirm sends a rules notice to every gateway and waits until each live one answers.
func (p *Plane) confirm(ctx context.Context, n rulesNotice) error {
	data, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("control: encode rules notice: %w", err)
	}
	replies := make(chan *nats.Msg, 64)
	inbox := p.nc.NewRespInbox()
	sub, err := p.nc.ChanSubscribe(inbox, replies)
	if err != nil {
		return fmt.Errorf("control: rules notice: %w", err)
	}
	defer sub.Unsubscribe()
	// Listed after the change is stored: a gateway that is not listed started after it,
	// and reads it from the bucket.
	want, err := p.liveGateways(ctx)
	if err != nil {
		return err
	}
	if err := p.nc.PublishMsg(&nats.Msg{Subject: subject.Rules, Reply: inbox, Data: data}); err != nil {
		return fmt.Errorf("control: rules notice: %w", err)
	}
	recheck := time.NewTicker(500 * time.Millisecond)
	defer recheck.Stop()
	for len(want) > 0 {
		select {
		case m := <-replies:
			delete(want, string(m.Data))
		case <-recheck.C:
			if live, err := p.liveGateways(ctx); err == nil {
				for id := range want {
					if !live[id] {
						delete(want, id) // dead meanwhile
					}
				}
			}
		case <-ctx.Done():
			return fmt.Errorf("control: %d gateways did not confirm the %s: %w", len(want), n.Kind, ctx.Err())
		}
	}
	return nil
}

// liveGateways lists the gateways with a heartbeat key.
func (p *Plane) liveGateways(ctx context.Context) (map[string]bool, error) {
	lister, err := p.gateways.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("control: listing gateways: %w", err)
	}
	live := make(map[string]bool)
	for k := range lister.Keys() { // the lister stops itself after the last key
		live[k] = true
	}
	if err := ctx.Err(); err != nil { // the list may be cut short
		return nil, fmt.Errorf("control: listing gateways: %w", err)
	}
	return live, nil
}

// onRules applies a rules notice and answers it, with this gateway's id, once it is in
// force here. The answer waits (for a barrier, or for sessions to leave) on a goroutine of
// its own, bounded by confirmWait, so the notices' subscription is never held up.
func (p *Plane) onRules(m *nats.Msg) {
	var n rulesNotice
	if json.Unmarshal(m.Data, &n) != nil || n.Room != "" && !protocol.ValidName(n.Room) {
		return
	}
	var wait func(ctx context.Context) bool // false: not in force here, no answer
	switch {
	case n.Kind == kindBan && protocol.ValidName(n.User):
		key := userBanKey(n.User)
		if n.Room != "" {
			key = roomBanKey(n.Room, n.User)
		}
		if (n.Val != nil) != n.On {
			return
		}
		p.state.apply(p.state.applyBan, key, n.Val, n.Rev, false) // no event of the user is sent from here on
		if !n.On {
			break
		}
		p.local.Banned(n.Room, n.User)
		if n.Room != "" {
			wait = func(ctx context.Context) bool {
				if err := p.store.Barrier(ctx, p.cfg.GatewayID); err != nil {
					p.log.Warn("ban: barrier not stored; not confirmed", "room", n.Room, "user", n.User, "err", err)
					return false
				}
				return true
			}
		}
	case n.Kind == kindDelete && n.Room != "":
		done := p.local.RoomDeleted(n.Room)
		wait = func(ctx context.Context) bool {
			select {
			case <-done:
			case <-ctx.Done():
				p.log.Warn("room delete: local sessions did not leave in time", "room", n.Room)
			}
			return true
		}
	default:
		return
	}
	go func() {
		if wait != nil {
			ctx, cancel := context.WithTimeout(context.Background(), confirmWait)
			ok := wait(ctx)
			cancel()
			if !ok {
				return
			}
		}
		if err := m.Respond([]byte(p.cfg.GatewayID)); err != nil {
			p.log.Warn("rules notice not confirmed", "kind", n.Kind, "err", err)
		}
	}()
}
