package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go"
)

// Error codes of the API besides protocol's.
const (
	// CodeNotFound: the room, method or token secret named does not exist (protocol 1.1).
	CodeNotFound = protocol.CodeNotFound
)

// MaxBody is the largest request body taken, in bytes.
const MaxBody = 64 << 10

var (
	errBodyTooLarge  = protocol.Errorf(protocol.CodeTooLarge, "the body is over 64 KiB")
	errUnauthorized  = protocol.Errorf(protocol.CodeUnauthorized, "missing or wrong API key (Authorization: Bearer <key>)")
	errNotConfigured = protocol.Errorf(CodeNotFound, "the server API is not enabled on this gateway (--api-key-file)")
)

// Status is the HTTP status of an error code, for the API and the gateway's other
// endpoints alike; the NATS service sends it as its error code.
func Status(code string) int {
	switch code {
	case protocol.CodeBadRequest, protocol.CodeInvalidRoom, protocol.CodeInvalidUser, protocol.CodeTooLarge:
		return http.StatusBadRequest
	case protocol.CodeUnauthorized:
		return http.StatusUnauthorized
	case protocol.CodeForbidden:
		return http.StatusForbidden
	case CodeNotFound:
		return http.StatusNotFound
	case protocol.CodeRateLimited:
		return http.StatusTooManyRequests
	case protocol.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// failure logs an internal error once and turns it into what the caller may see.
func failure(log *slog.Logger, what string, err error) *protocol.Error {
	switch {
	case errors.Is(err, control.ErrForbidden):
		return protocol.Errorf(protocol.CodeForbidden, "userId is not one of the two users of this private room")
	case errors.Is(err, control.ErrNotListed):
		return protocol.Errorf(protocol.CodeForbidden, "userId is not a member of this members-mode room")
	case errors.Is(err, control.ErrBanned):
		return protocol.Errorf(protocol.CodeForbidden, "userId is banned from this room")
	case errors.Is(err, history.ErrUnavailable), history.IsOutage(err), errors.Is(err, control.ErrContended):
		log.Warn(what+": NATS unavailable", "err", err)
		return protocol.Errorf(protocol.CodeUnavailable, "%s: the event stream or the control plane cannot be reached; retry later", what)
	case errors.Is(err, context.DeadlineExceeded):
		log.Warn(what+": timed out", "err", err)
		return protocol.Errorf(protocol.CodeUnavailable, "%s: timed out; retry later", what)
	}
	log.Warn(what+" failed", "err", err)
	return protocol.Errorf(protocol.CodeInternal, "internal error")
}

// unconfirmed reports whether a failed append may still have stored the event: the
// stream did not answer in time.
func unconfirmed(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)
}
