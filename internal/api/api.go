// Package api is the server API of docs/api.md: the methods an application's backend calls
// (publish, room, room.get, room.delete, history, users, disconnect, ban, token),
// implemented once and served by two transports: HTTP (POST /api/v1/<method> with a bearer key, http.go) and a NATS service
// made with nats.go's micro package (service "chat", subjects chat.api.<method>,
// service.go). Both take the same JSON bodies and give the same JSON answers.
//
// It knows nothing of WebSockets or of the hub: a published message is stored in the event
// stream as a client's message is, and every gateway delivers it from there; a disconnect
// is a notice of the control plane that every gateway hands to its own connections.
package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/chathub/chathub/internal/auth"
	"github.com/chathub/chathub/internal/control"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
	"github.com/nats-io/nats.go"
)

// Store is the event stream as the API uses it (a *history.Store).
type Store interface {
	Append(ctx context.Context, room string, payload []byte, msgID string, hdr nats.Header) (id uint64, dup bool, err error)
	Before(ctx context.Context, room string, before uint64, limit int) ([]history.Stored, error)
	After(ctx context.Context, room string, since, upto uint64, max int) ([]history.Stored, bool, error)
}

// Control is what the API asks of the control plane (a *control.Plane).
type Control interface {
	Access(ctx context.Context, user, room string, create bool) error
	RoomExists(ctx context.Context, room string) (bool, error)
	CloseSessions(ctx context.Context, user, session string, code int, reason string) error
	SetRoom(ctx context.Context, room string, ch control.RoomChange) (control.RoomView, error)
	Room(ctx context.Context, room string) (control.RoomView, []protocol.UserInfo, error)
	DeleteRoom(ctx context.Context, room string) error
	Ban(ctx context.Context, room, user string, on bool) error
	State() *control.State
}

// Config of the API. Zero values are documented per field.
type Config struct {
	// Store and Control are required.
	Store   Store
	Control Control
	// Keys are the API keys, any of which an HTTP request may carry as its bearer token
	// (several at once, for rotation). None switches the HTTP transport off: /api/ answers
	// 404.
	Keys []string
	// Secret signs the tokens of the token method (HS256); nil answers it not_found.
	Secret []byte
	// Tokens are the gateway's token rules: minted tokens carry their issuer and audience,
	// and a ttl over their maximum lifetime is refused.
	Tokens auth.Rules
	// GatewayID names the gateway in the NATS service's metadata.
	GatewayID string
	// Timeout bounds one call; zero means 10s.
	Timeout time.Duration
	// Logger receives the API's logs; nil discards them.
	Logger *slog.Logger
	// Observe, if set, hears every call of a known method: its name, its error code ("" when
	// it succeeded) and how long it took, over either transport (the gateway's metrics).
	Observe func(method, code string, took time.Duration)
}

// API runs the methods. Make it with New; serve it with Handler and Register.
type API struct {
	cfg     Config
	log     *slog.Logger
	keys    keys
	methods map[string]method
}

// method runs one call on a decoded body and returns its JSON answer.
type method func(ctx context.Context, body []byte) ([]byte, *protocol.Error)

// Methods are the API's methods, in the order docs/api.md lists them.
var Methods = []string{"publish", "room", "room.get", "room.delete", "history", "users", "disconnect", "ban", "token"}

// New makes the API.
func New(cfg Config) *API {
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, log: cfg.Logger.With("component", "api"), keys: newKeys(cfg.Keys)}
	a.methods = map[string]method{
		"publish":     a.publish,
		"history":     a.history,
		"users":       a.users,
		"disconnect":  a.disconnect,
		"token":       a.token,
		"room":        a.setRoom,
		"room.get":    a.getRoom,
		"room.delete": a.deleteRoom,
		"ban":         a.ban,
	}
	return a
}

// Enabled reports whether API keys are configured (the HTTP transport answers).
func (a *API) Enabled() bool { return len(a.keys) > 0 }

// Call runs a method on a JSON body, within the API's timeout, and returns the JSON
// answer or the error to send. Both transports call it.
func (a *API) Call(ctx context.Context, name string, body []byte) ([]byte, *protocol.Error) {
	m := a.methods[name]
	if m == nil {
		return nil, protocol.Errorf(CodeNotFound, "no method %q; see docs/api.md", name)
	}
	if len(body) > MaxBody {
		return nil, errBodyTooLarge
	}
	ctx, cancel := context.WithTimeout(ctx, a.cfg.Timeout)
	defer cancel()
	start := time.Now()
	out, e := m(ctx, body)
	took, code := time.Since(start), ""
	if e != nil {
		code = e.Code
		a.log.Debug("api call refused", "method", name, "code", e.Code, "took", took)
	} else {
		a.log.Debug("api call", "method", name, "took", took)
	}
	if a.cfg.Observe != nil {
		a.cfg.Observe(name, code, took)
	}
	return out, e
}
