package api

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/chathub/chathub/internal/protocol"
)

// Prefix is the path under which the HTTP transport serves: POST /api/v1/<method>.
const Prefix = "/api/"

// Handler serves POST /api/v1/<method>. Without keys every request under /api/ is 404; a
// missing or wrong key is 401 before anything else is looked at.
func (a *API) Handler() http.Handler { return http.HandlerFunc(a.serveHTTP) }

func (a *API) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !a.Enabled() {
		writeError(w, errNotConfigured)
		return
	}
	if !a.keys.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="chat server API"`)
		writeError(w, errUnauthorized)
		return
	}
	name, ok := strings.CutPrefix(r.URL.Path, Prefix+"v1/")
	if !ok || a.methods[name] == nil {
		writeError(w, protocol.Errorf(CodeNotFound, "no method at %s; see docs/api.md", r.URL.Path))
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, errorBody(protocol.Errorf(protocol.CodeBadRequest, "use POST")))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorBody(errBodyTooLarge))
		return
	case err != nil:
		writeError(w, protocol.Errorf(protocol.CodeBadRequest, "the body could not be read"))
		return
	}
	out, e := a.Call(r.Context(), name, body)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(append(out, '\n'))
}

// errorBody is the error shape of version 1's HTTP endpoints: {"error":{"code","message"}}.
func errorBody(e *protocol.Error) []byte {
	return encode(map[string]*protocol.Error{"error": e})
}

func writeError(w http.ResponseWriter, e *protocol.Error) {
	writeJSON(w, Status(e.Code), errorBody(e))
}

func writeJSON(w http.ResponseWriter, status int, body json.RawMessage) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
