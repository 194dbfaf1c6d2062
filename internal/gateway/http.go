package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

func (g *Gateway) routes() *http.ServeMux {
	mux := http.NewServeMux()
	if g.cfg.Page != nil {
		mux.Handle("GET /", g.cfg.Page)
	}
	mux.HandleFunc("GET /ws", g.serveWS)
	mux.HandleFunc("GET /history", g.serveHistory)
	mux.HandleFunc("GET /rooms", g.serveRooms)
	mux.HandleFunc("GET /users", g.serveUsers)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", g.serveReady)
	mux.Handle("GET /metrics", g.metrics.handler())
	return mux
}

// serveHistory answers GET /history?chatroomId=&limit=&before=[&user=].
func (g *Gateway) serveHistory(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	room := q.Get("chatroomId")
	if room == "" {
		writeError(w, protocol.Errorf(protocol.CodeBadRequest, "chatroomId is missing"))
		return
	}
	if !protocol.ValidName(room) {
		writeError(w, protocol.Errorf(protocol.CodeInvalidRoom, "chatroomId must be 1 to 64 of A-Z a-z 0-9 _ -"))
		return
	}
	user, e := g.requester(r)
	if e != nil {
		writeError(w, e)
		return
	}
	limit, e := intParam(q.Get("limit"), protocol.DefaultLimit, 1, protocol.MaxLimit)
	if e != nil {
		writeError(w, e)
		return
	}
	var before *int64
	if s := q.Get("before"); s != "" {
		b, e := intParam(s, 0, 0, 1<<62)
		if e != nil {
			writeError(w, e)
			return
		}
		v := int64(b)
		before = &v
	}
	evs, e := g.page(r.Context(), user, room, before, limit)
	if e != nil {
		writeError(w, e)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(protocol.EncodeEvents(protocol.History{}, evs))
}

func (g *Gateway) serveRooms(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, protocol.Rooms{Rooms: g.control.State().Rooms("")})
}

func (g *Gateway) serveUsers(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, protocol.Users{Users: g.control.State().Users()})
}

// serveReady answers 200 while NATS is connected and the event stream answers.
func (g *Gateway) serveReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if !g.nc.IsConnected() {
		writeError(w, protocol.Errorf(protocol.CodeUnavailable, "not connected to NATS"))
		return
	}
	if _, err := g.store.LastID(ctx, "readyz"); err != nil {
		writeError(w, protocol.Errorf(protocol.CodeUnavailable, "event stream unavailable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "gatewayId": g.cfg.ID})
}

func intParam(s string, def, lo, hi int) (int, *protocol.Error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, protocol.Errorf(protocol.CodeBadRequest, "%q is out of range %d..%d", s, lo, hi)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers an HTTP error as {"error":{"code","message"}} with a fitting status.
func writeError(w http.ResponseWriter, e *protocol.Error) {
	writeJSON(w, httpStatus(e.Code), map[string]*protocol.Error{"error": e})
}

func httpStatus(code string) int {
	switch code {
	case protocol.CodeBadRequest, protocol.CodeInvalidRoom, protocol.CodeInvalidUser, protocol.CodeTooLarge:
		return http.StatusBadRequest
	case protocol.CodeUnauthorized:
		return http.StatusUnauthorized
	case protocol.CodeForbidden:
		return http.StatusForbidden
	case protocol.CodeRateLimited:
		return http.StatusTooManyRequests
	case protocol.CodeUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}
