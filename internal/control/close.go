package control

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
)

// closeNotice asks every gateway to close the connections of a user, or of one session
// of it, with a close code (the server API's disconnect).
type closeNotice struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId,omitempty"`
	Code      int    `json:"code"`
	Reason    string `json:"reason"`
}

// CloseSessions closes, on every gateway this one included, the connections of user (of
// its session only, when session is not empty) with code and reason. It returns once NATS
// has the notice; the gateways close the connections as they hear it. A session of the
// user that is not connected anywhere at that moment is not touched.
func (p *Plane) CloseSessions(ctx context.Context, user, session string, code int, reason string) error {
	data, err := json.Marshal(closeNotice{UserID: user, SessionID: session, Code: code, Reason: reason})
	if err != nil {
		return fmt.Errorf("control: encode close notice: %w", err)
	}
	if err := p.nc.Publish(subject.Close, data); err != nil {
		return fmt.Errorf("control: close notice: %w", err)
	}
	if err := p.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("control: close notice: %w", err)
	}
	return nil
}

func (p *Plane) onClose(m *nats.Msg) {
	var n closeNotice
	if json.Unmarshal(m.Data, &n) != nil || !protocol.ValidName(n.UserID) || n.Code < 4000 || n.Code > 4999 {
		return
	}
	if n.SessionID != "" && !protocol.ValidName(n.SessionID) {
		return
	}
	p.local.CloseSessions(n.UserID, n.SessionID, n.Code, n.Reason)
}

// RoomExists reports whether room was created (by a join, the server API, or Private).
func (p *Plane) RoomExists(ctx context.Context, room string) (bool, error) {
	rec, err := p.roomRecord(ctx, room)
	return rec != nil, err
}
