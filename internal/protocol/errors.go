package protocol

import "fmt"

// Error codes of the protocol.
const (
	CodeBadRequest   = "bad_request"
	CodeInvalidRoom  = "invalid_room"
	CodeInvalidUser  = "invalid_user"
	CodeTooLarge     = "too_large"
	CodeNotMember    = "not_member"
	CodeForbidden    = "forbidden"
	CodeRateLimited  = "rate_limited"
	CodeUnavailable  = "unavailable"
	CodeUnauthorized = "unauthorized"
	CodeInternal     = "internal"
	CodeNotFound     = "not_found" // version 1.1: the event named does not exist or is no longer stored
)

// Close codes of the protocol.
const (
	CloseNormal       = 1000
	CloseGoingAway    = 1001 // gateway draining: reconnect and rejoin with since
	CloseTooBig       = 1009
	CloseInternal     = 1011
	CloseTryLater     = 1013 // over a connection limit
	CloseSlow         = 4000 // too slow to keep up: reconnect and rejoin with since
	CloseReplaced     = 4001 // a newer connection of the same session took over
	CloseDisconnected = 4002 // disconnected by the server API: reconnecting is allowed
	CloseProtocol     = 4500 // protocol violation: do not reconnect as is
	CloseUnauthorized = 4501 // do not reconnect without a new token
	CloseBanned       = 4503 // banned by the server API: do not reconnect
)

// Error is what a client sees of a failure: a protocol code and a short message, never an
// internal error string.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Errorf makes an Error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }
