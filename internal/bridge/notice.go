package bridge

import (
	"context"
	"encoding/json"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// listen subscribes to the notices every gateway hears: online/offline, private rooms, and
// take-overs addressed to this gateway.
func (b *Bridge) listen() ([]*nats.Subscription, error) {
	handlers := map[string]nats.MsgHandler{
		subject.Users:                    b.onUsers,
		subject.Private:                  b.onPrivate,
		subject.Gateway(b.cfg.GatewayID): b.onKick,
	}
	var subs []*nats.Subscription
	for subj, h := range handlers {
		s, err := b.nc.Subscribe(subj, h)
		if err != nil {
			for _, s := range subs {
				s.Unsubscribe()
			}
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, b.nc.Flush()
}

// onUsers passes an online/offline notice to every local session, coalesced in bursts.
func (b *Bridge) onUsers(m *nats.Msg) { b.notices.add(m.Data, b.broadcast) }

func (b *Bridge) onPrivate(m *nats.Msg) {
	var n privateNotice
	if json.Unmarshal(m.Data, &n) != nil || !protocol.ValidName(n.Peer) || !protocol.ValidName(n.UserID) {
		return
	}
	if b.cfg.OnPrivate != nil {
		go b.cfg.OnPrivate(n.ChatroomID, n.UserID, n.Peer)
	}
}

// kickNotice asks a gateway to close a connection another gateway took over.
type kickNotice struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	Conn      string `json:"conn"`
}

func (b *Bridge) onKick(m *nats.Msg) {
	var k kickNotice
	if json.Unmarshal(m.Data, &k) != nil {
		return
	}
	b.hub.Kick(k.UserID, k.SessionID, k.Conn)
}

// Kick closes, with 4001, the connection t names on whichever gateway holds it.
func (b *Bridge) Kick(ctx context.Context, user, session string, t *Takeover) {
	if t == nil {
		return
	}
	if t.GatewayID == b.cfg.GatewayID {
		b.hub.Kick(user, session, t.Conn)
		return
	}
	data, _ := json.Marshal(kickNotice{UserID: user, SessionID: session, Conn: t.Conn})
	if err := b.nc.Publish(subject.Gateway(t.GatewayID), data); err != nil {
		b.log.Warn("take-over notice not sent", "gateway", t.GatewayID, "err", err)
	}
}
