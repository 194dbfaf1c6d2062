package control

import (
	"context"
	"encoding/json"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// listen subscribes to the notices every gateway hears: online/offline, private rooms, and
// take-overs addressed to this gateway.
func (p *Plane) listen() ([]*nats.Subscription, error) {
	handlers := map[string]nats.MsgHandler{
		subject.Users:                    p.onUsers,
		subject.Private:                  p.onPrivate,
		subject.Close:                    p.onClose,
		subject.Rules:                    p.onRules,
		subject.Gateway(p.cfg.GatewayID): p.onKick,
	}
	var subs []*nats.Subscription
	for subj, h := range handlers {
		s, err := p.nc.Subscribe(subj, h)
		if err != nil {
			for _, s := range subs {
				s.Unsubscribe()
			}
			return nil, err
		}
		subs = append(subs, s)
	}
	return subs, p.nc.Flush()
}

// onUsers passes an online/offline notice to every local session, coalesced in bursts.
func (p *Plane) onUsers(m *nats.Msg) { p.notices.add(m.Data, p.local.Notice) }

func (p *Plane) onPrivate(m *nats.Msg) {
	var n privateNotice
	if json.Unmarshal(m.Data, &n) != nil || !protocol.ValidName(n.Peer) || !protocol.ValidName(n.UserID) {
		return
	}
	p.local.PrivateOpened(n.ChatroomID, n.UserID, n.Peer)
}

// kickNotice asks a gateway to close a connection another gateway took over.
type kickNotice struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	Conn      string `json:"conn"`
}

func (p *Plane) onKick(m *nats.Msg) {
	var k kickNotice
	if json.Unmarshal(m.Data, &k) != nil {
		return
	}
	p.local.Kick(k.UserID, k.SessionID, k.Conn)
}

// Kick closes, with 4001, the connection t names on whichever gateway holds it.
func (p *Plane) Kick(ctx context.Context, user, session string, t *Takeover) {
	if t == nil {
		return
	}
	if t.GatewayID == p.cfg.GatewayID {
		p.local.Kick(user, session, t.Conn)
		return
	}
	data, _ := json.Marshal(kickNotice{UserID: user, SessionID: session, Conn: t.Conn})
	if err := p.nc.Publish(subject.Gateway(t.GatewayID), data); err != nil {
		p.log.Warn("take-over notice not sent", "gateway", t.GatewayID, "err", err)
	}
}
