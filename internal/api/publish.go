package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
)

// Limits of publish.
const (
	// MaxData is the largest data object, in bytes as sent.
	MaxData = 4096
	// MaxIdempotencyKey is the longest idempotencyKey, in bytes.
	MaxIdempotencyKey = 256
)

// publishRequest is the body of publish. Pointer fields are nil when absent.
type publishRequest struct {
	ChatroomID     string          `json:"chatroomId"`
	Message        *string         `json:"message"`
	UserID         *string         `json:"userId"`
	Data           json.RawMessage `json:"data"`
	ReplyTo        *int64          `json:"replyTo"`
	IdempotencyKey *string         `json:"idempotencyKey"`
}

func (r *publishRequest) validate() *protocol.Error {
	if e := room(r.ChatroomID); e != nil {
		return e
	}
	if r.UserID != nil && !protocol.ValidName(*r.UserID) {
		return protocol.Errorf(protocol.CodeInvalidUser, "userId must be 1 to 64 of A-Z a-z 0-9 _ - (leave it out for a system message)")
	}
	if r.Message == nil {
		return protocol.Errorf(protocol.CodeBadRequest, "message is missing")
	}
	if e := protocol.CheckMessage(*r.Message); e != nil {
		return e
	}
	if r.ReplyTo != nil && *r.ReplyTo <= 0 {
		return protocol.Errorf(protocol.CodeBadRequest, "replyTo must be the id of a message")
	}
	if k := r.IdempotencyKey; k != nil && (*k == "" || len(*k) > MaxIdempotencyKey) {
		return protocol.Errorf(protocol.CodeBadRequest, "idempotencyKey must be 1 to %d bytes", MaxIdempotencyKey)
	}
	return r.data()
}

// data checks data and keeps it compact (a gateway frame never holds a raw newline).
func (r *publishRequest) data() *protocol.Error {
	raw := bytes.TrimSpace(r.Data)
	if len(raw) == 0 || string(raw) == "null" {
		r.Data = nil
		return nil
	}
	if len(r.Data) > MaxData || raw[0] != '{' {
		return protocol.Errorf(protocol.CodeBadRequest, "data must be a JSON object of at most %d bytes", MaxData)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "data is not valid JSON")
	}
	r.Data = buf.Bytes()
	return nil
}

// publish stores a message as a client's message is stored: the same event shape, subject
// and headers, in the same stream, whence every gateway delivers it to the room's members.
func (a *API) publish(ctx context.Context, body []byte) ([]byte, *protocol.Error) {
	var r publishRequest
	if e := firstError(decode(body, &r), r.validate()); e != nil {
		return nil, e
	}
	var who string
	if r.UserID != nil {
		who = *r.UserID
	}
	ev := protocol.Event{ChatroomID: r.ChatroomID, Type: protocol.TypeMessage, UserID: who, Message: *r.Message,
		UnixTime: time.Now().Unix(), System: who == "", Data: r.Data}
	if r.ReplyTo != nil {
		ev.ReplyTo = uint64(*r.ReplyTo)
		if e := a.checkReplyTo(ctx, r.ChatroomID, ev.ReplyTo); e != nil {
			return nil, e
		}
	}
	if e := a.roomFor(ctx, r.ChatroomID, who); e != nil {
		return nil, e
	}
	var msgID string
	if r.IdempotencyKey != nil {
		msgID = messageID(r.ChatroomID, *r.IdempotencyKey)
	}
	hdr := history.Headers(protocol.TypeMessage, who, "")
	if who == "" {
		hdr.Del("Chat-User")
		hdr.Set("Chat-System", "true")
	}
	id, _, err := a.cfg.Store.Append(ctx, r.ChatroomID, ev.Marshal(), msgID, hdr)
	if err != nil {
		if unconfirmed(err) {
			a.log.Warn("publish: the stream did not confirm", "room", r.ChatroomID, "err", err)
			return nil, protocol.Errorf(protocol.CodeUnavailable, "the event stream did not confirm the message in time; it may have been stored: "+
				"send it again with the same idempotencyKey, which stores it at most once")
		}
		return nil, failure(a.log, "publish", err)
	}
	return encode(map[string]uint64{"id": id}), nil
}

// roomFor checks that a message may be published to room as user ("" for a system
// message): a public room is created when it does not exist; a private room must exist,
// and a user posting to it must be one of its two.
func (a *API) roomFor(ctx context.Context, room, user string) *protocol.Error {
	if protocol.IsPrivate(room) {
		ok, err := a.cfg.Control.RoomExists(ctx, room)
		if err != nil {
			return failure(a.log, "publish", err)
		}
		if !ok {
			return protocol.Errorf(CodeNotFound, "private room %s does not exist; private rooms are made by the private command", room)
		}
		if user == "" {
			return nil
		}
	}
	if user == "" {
		// A system message goes to any room that exists, members-mode rooms included.
		ok, err := a.cfg.Control.RoomExists(ctx, room)
		switch {
		case err != nil:
			return failure(a.log, "publish", err)
		case ok:
			return nil
		}
	}
	if err := a.cfg.Control.Access(ctx, user, room, true); err != nil {
		return failure(a.log, "publish", err)
	}
	return nil
}

// checkReplyTo checks that id is a message of room that is still stored.
func (a *API) checkReplyTo(ctx context.Context, room string, id uint64) *protocol.Error {
	st, _, err := a.cfg.Store.After(ctx, room, id-1, id, 1)
	if err != nil {
		return failure(a.log, "publish", err)
	}
	var ev struct {
		Type string `json:"type"`
	}
	if len(st) != 1 || st[0].ID != id || json.Unmarshal(st[0].Data, &ev) != nil || ev.Type != protocol.TypeMessage {
		return protocol.Errorf(CodeNotFound, "replyTo %d is not a stored message of %s", id, room)
	}
	return nil
}

// messageID is the Nats-Msg-Id of a published message with an idempotency key: the stream
// stores it once per room and key within its deduplication window. A key that is not
// printable ASCII without spaces or colons is replaced by its hash (a header value must not
// hold line breaks).
func messageID(room, key string) string {
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' || c == ':' || len(key) > 64 {
			sum := sha256.Sum256([]byte(key))
			return "api:" + room + ":sha256-" + hex.EncodeToString(sum[:12])
		}
	}
	return "api:" + room + ":" + key
}
