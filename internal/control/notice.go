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

// kickNotice asks a gateway to close one of its connections: one another gateway took
// over (4001), or one whose session a sweeper expired (1001).
type kickNotice struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
	Conn      string `json:"conn"`
	Code      int    `json:"code,omitempty"` // 0: 4001
	Reason    string `json:"reason,omitempty"`
}

// Reasons of the kicks.
const (
	reasonReplaced = "replaced by a newer connection of this session"
	reasonExpired  = "this gateway was out of reach and the session was taken for gone: reconnect and join again with since"
)

func (p *Plane) onKick(m *nats.Msg) {
	var k kickNotice
	if json.Unmarshal(m.Data, &k) != nil {
		return
	}
	if k.Code == 0 {
		k.Code, k.Reason = protocol.CloseReplaced, reasonReplaced
	}
	p.local.Kick(k.UserID, k.SessionID, k.Conn, k.Code, k.Reason)
}

// Kick closes, with 4001, the connection t names on whichever gateway holds it.
func (p *Plane) Kick(ctx context.Context, user, session string, t *Takeover) {
	if t == nil {
		return
	}
	p.kick(kickNotice{UserID: user, SessionID: session, Conn: t.Conn, Code: protocol.CloseReplaced, Reason: reasonReplaced}, t.GatewayID)
}

// kick closes connection k.Conn on gateway gw, this one or another (through NATS).
func (p *Plane) kick(k kickNotice, gw string) {
	if gw == p.cfg.GatewayID {
		p.local.Kick(k.UserID, k.SessionID, k.Conn, k.Code, k.Reason)
		return
	}
	data, _ := json.Marshal(k)
	if err := p.nc.Publish(subject.Gateway(gw), data); err != nil {
		p.log.Warn("kick notice not sent", "gateway", gw, "code", k.Code, "err", err)
	}
}
