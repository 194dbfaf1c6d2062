package api

import (
	"bytes"
	"context"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
)

// historyRequest is the body of history. Pointer fields are nil when absent.
type historyRequest struct {
	ChatroomID string `json:"chatroomId"`
	Before     *int64 `json:"before"`
	Since      *int64 `json:"since"`
	Limit      *int64 `json:"limit"`
}

func (r *historyRequest) validate() *protocol.Error {
	if e := room(r.ChatroomID); e != nil {
		return e
	}
	for name, v := range map[string]*int64{"before": r.Before, "since": r.Since} {
		if v != nil && *v < 0 {
			return protocol.Errorf(protocol.CodeBadRequest, "%s must not be negative", name)
		}
	}
	if r.Limit != nil && (*r.Limit < 1 || *r.Limit > protocol.MaxLimit) {
		return protocol.Errorf(protocol.CodeBadRequest, "limit must be 1 to %d", protocol.MaxLimit)
	}
	return nil
}

// history reads any room's stored events, oldest first. Without since it pages backwards:
// the limit events just before before (default: the newest). With since it pages forwards:
// the first limit events after since (and before before, when given).
func (a *API) history(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r historyRequest
	if e := firstError(decode(body, &r), r.validate()); e != nil {
		return nil, e
	}
	limit := protocol.DefaultLimit
	if r.Limit != nil {
		limit = int(*r.Limit)
	}
	var st []history.Stored
	var err error
	switch {
	case r.Before != nil && *r.Before <= 1:
		// nothing is before the first id
	case r.Since != nil:
		var upto uint64
		if r.Before != nil {
			upto = uint64(*r.Before) - 1
		}
		st, _, err = a.cfg.Store.After(ctx, r.ChatroomID, uint64(*r.Since), upto, limit)
	default:
		var before uint64
		if r.Before != nil {
			before = uint64(*r.Before)
		}
		st, err = a.cfg.Store.Before(ctx, r.ChatroomID, before, limit)
	}
	if err != nil {
		return nil, failure(a.log, "history", err)
	}
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	var buf []byte
	for i, s := range st {
		if i > 0 {
			b.WriteByte(',')
		}
		buf = protocol.AppendWithID(buf[:0], s.Data, s.ID)
		b.Write(buf)
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}

// users answers as GET /users: the users online on any gateway.
func (a *API) users(_ context.Context, body []byte) ([]byte, *protocol.Error) {
	var r struct{}
	if e := decode(body, &r); e != nil {
		return nil, e
	}
	return encode(protocol.Users{Users: a.cfg.Control.State().Users()}), nil
}

// disconnectRequest is the body of disconnect.
type disconnectRequest struct {
	UserID    string `json:"userId"`
	SessionID string `json:"sessionId"`
}

// disconnectReason is the close reason of a disconnect.
const disconnectReason = "disconnected by the server"

// disconnect closes a user's connections (or one session's) on every gateway with 4002.
func (a *API) disconnect(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r disconnectRequest
	if e := firstError(decode(body, &r), user(r.UserID)); e != nil {
		return nil, e
	}
	if r.SessionID != "" && !protocol.ValidName(r.SessionID) {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "sessionId must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	err := a.cfg.Control.CloseSessions(ctx, r.UserID, r.SessionID, protocol.CloseDisconnected, disconnectReason)
	if err != nil {
		return nil, failure(a.log, "disconnect", err)
	}
	a.log.Info("api: disconnect", "user", r.UserID, "session", r.SessionID)
	return []byte("{}"), nil
}

// tokenRequest is the body of token.
type tokenRequest struct {
	UserID string `json:"userId"`
	TTL    string `json:"ttl"`
	Admin  bool   `json:"admin"`
}

// token mints an HS256 token with the gateway's secret.
func (a *API) token(_ context.Context, body []byte) ([]byte, *protocol.Error) {
	var r tokenRequest
	if e := firstError(decode(body, &r), user(r.UserID)); e != nil {
		return nil, e
	}
	if a.cfg.Secret == nil {
		return nil, protocol.Errorf(CodeNotFound, "this gateway has no token secret (open mode): it takes no tokens")
	}
	maxLife := a.cfg.Tokens.MaxLifetime
	if maxLife <= 0 {
		maxLife = auth.DefaultMaxLifetime
	}
	ttl, err := time.ParseDuration(r.TTL)
	if err != nil || ttl <= 0 || ttl > maxLife {
		return nil, protocol.Errorf(protocol.CodeBadRequest, "ttl must be a duration such as \"1h\", above zero and at most %v", maxLife)
	}
	tok, exp, err := auth.Mint(a.cfg.Secret, auth.Grant{User: r.UserID, TTL: ttl, Admin: r.Admin,
		Issuer: a.cfg.Tokens.Issuer, Audience: a.cfg.Tokens.Audience})
	if err != nil {
		return nil, failure(a.log, "token", err)
	}
	a.log.Info("api: token minted", "user", r.UserID, "admin", r.Admin, "ttl", ttl)
	return encode(struct {
		Token string `json:"token"`
		Exp   int64  `json:"exp"`
	}{tok, exp.Unix()}), nil
}
