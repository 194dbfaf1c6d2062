package gateway

import (
	"net/http"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/google/uuid"
)

// identity is who a connection or request speaks for.
type identity struct {
	user    string
	session string
	expires time.Time // token mode: the token's exp; zero in open mode
	admin   bool      // token mode: the token's chat_admin
	// awaitToken: token mode, and the request had no ?token=: the token is to come as the
	// connection's first frame, and user, expires and admin are not known yet.
	awaitToken bool
}

var errUnauthorized = protocol.Errorf(protocol.CodeUnauthorized, "token missing, invalid or expired")

// identify reads a /ws request's identity: ?user= in open mode, ?token= in token mode (or
// the first frame, when there is no ?token= at all), and ?session= (made when missing). On
// failure it returns the error and the close code.
func (g *Gateway) identify(r *http.Request) (identity, *protocol.Error, int) {
	q := r.URL.Query()
	var id identity
	switch {
	case g.tokens != nil && q.Has("user"):
		return id, protocol.Errorf(protocol.CodeUnauthorized, "this gateway takes a token, not ?user="), protocol.CloseUnauthorized
	case g.tokens != nil && !q.Has("token"):
		id.awaitToken = true
	case g.tokens != nil:
		who, err := g.tokens.Verify(r.Context(), q.Get("token"))
		if err != nil {
			return id, errUnauthorized, protocol.CloseUnauthorized
		}
		id.user, id.expires, id.admin = who.User, who.Expires, who.Admin
	default:
		id.user = q.Get("user")
		if !protocol.ValidName(id.user) {
			return id, protocol.Errorf(protocol.CodeInvalidUser, "user must be 1 to 64 of A-Z a-z 0-9 _ -"), protocol.CloseProtocol
		}
	}
	id.session = q.Get("session")
	if id.session == "" {
		id.session = uuid.NewString()
	}
	if !protocol.ValidName(id.session) {
		return id, protocol.Errorf(protocol.CodeBadRequest, "session must be 1 to 64 of A-Z a-z 0-9 _ -"), protocol.CloseProtocol
	}
	return id, nil, 0
}

// requester reads the identity of an HTTP request that needs one (a private room's history):
// a bearer token in token mode, ?user= in open mode. It returns "" for an anonymous request.
func (g *Gateway) requester(r *http.Request) (string, *protocol.Error) {
	if g.tokens == nil {
		user := r.URL.Query().Get("user")
		if user != "" && !protocol.ValidName(user) {
			return "", protocol.Errorf(protocol.CodeInvalidUser, "user must be 1 to 64 of A-Z a-z 0-9 _ -")
		}
		return user, nil
	}
	if r.URL.Query().Has("user") {
		return "", protocol.Errorf(protocol.CodeUnauthorized, "this gateway takes a bearer token, not ?user=")
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", nil
	}
	token, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return "", errUnauthorized
	}
	who, err := g.tokens.Verify(r.Context(), token)
	if err != nil {
		return "", errUnauthorized
	}
	return who.User, nil
}
