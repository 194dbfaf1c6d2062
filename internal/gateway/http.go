package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/api"
	"github.com/chathub/chathub/internal/history"
	"github.com/chathub/chathub/internal/protocol"
)

func (g *Gateway) routes() http.Handler {
	mux := http.NewServeMux()
	if g.cfg.Page != nil {
		mux.Handle("GET /", g.cfg.Page)
	}
	mux.HandleFunc("GET /ws", g.serveWS)
	mux.HandleFunc("GET /history", g.serveHistory)
	mux.HandleFunc("GET /rooms", g.member(g.serveRooms))
	mux.HandleFunc("GET /users", g.member(g.serveUsers))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", g.serveReady)
	if !g.cfg.SeparateMetrics && g.tokens == nil {
		mux.Handle("GET /metrics", g.metrics.handler())
	}
	if g.tokens != nil {
		return mux
	}
	return g.checkHost(mux)
}

// MetricsHandler serves the Prometheus metrics, for a separate address (SeparateMetrics).
func (g *Gateway) MetricsHandler() http.Handler { return g.metrics.handler() }

// member lets through, in token mode, only requests with a valid bearer token.
func (g *Gateway) member(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if g.tokens != nil {
			if user, e := g.requester(r); e != nil || user == "" {
				writeError(w, errUnauthorized)
				return
			}
		}
		next(w, r)
	}
}

// checkHost guards open mode against DNS rebinding: a page on another site that resolves
// its own name to this gateway reaches it with its own name in Host. Only IP addresses,
// localhost and the hosts of AllowedOrigins are served, and requests without a Host (HTTP
// 1.0, as health checks send; a browser always sends one); /healthz and /readyz always.
func (g *Gateway) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		probe := r.URL.Path == "/healthz" || r.URL.Path == "/readyz" // load balancers' checks
		if !probe && !hostAllowed(r.Host, g.cfg.AllowedOrigins) {
			writeError(w, protocol.Errorf(protocol.CodeForbidden,
				"open mode serves only localhost, IP addresses and the hosts of --allowed-origins; not %q", r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}

func hostAllowed(hostport string, patterns []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" || host == "localhost" || strings.HasSuffix(host, ".localhost") || net.ParseIP(host) != nil {
		return true
	}
	for _, p := range patterns {
		if ok, _ := path.Match(strings.ToLower(p), host); ok {
			return true
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(hostport)); ok {
			return true
		}
	}
	return false
}

// serveHistory answers GET /history?chatroomId=&limit=&before=[&user=].
func (g *Gateway) serveHistory(w http.ResponseWriter, r *http.Request) {
	hq, e := parseHistoryQuery(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	user, e := g.requester(r)
	if e == nil && user == "" && g.tokens != nil {
		e = errUnauthorized
	}
	if e != nil {
		writeError(w, e)
		return
	}
	release, e := g.historySlot(r.Context())
	if e != nil {
		writeError(w, e)
		return
	}
	defer release()
	st, e := g.stored(r.Context(), user, hq.room, hq.before, hq.limit)
	if e != nil {
		writeError(w, e)
		return
	}
	// A reply can be megabytes: a client that does not read it gives up its slot, and
	// the reply's memory, after historyWriteTimeout rather than the server's WriteTimeout.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(historyWriteTimeout))
	w.Header().Set("Content-Type", "application/json")
	writeEvents(w, st)
}

// writeEvents writes {"events":[...]} event by event, so that a reply is held once (as
// read from the stream), not copied whole again to be sent.
func writeEvents(w io.Writer, st []history.Stored) error {
	bw := bufio.NewWriterSize(w, 32<<10)
	bw.WriteString(`{"events":[`)
	var buf []byte
	for i, s := range st {
		if i > 0 {
			bw.WriteByte(',')
		}
		buf = protocol.AppendWithID(buf[:0], s.Data, s.ID)
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	bw.WriteString("]}")
	return bw.Flush()
}

// historyWriteTimeout bounds the write of one GET /history reply.
const historyWriteTimeout = 10 * time.Second

// historyQuery is what GET /history asks for.
type historyQuery struct {
	room   string
	limit  int
	before *int64
}

func parseHistoryQuery(q url.Values) (historyQuery, *protocol.Error) {
	hq := historyQuery{room: q.Get("chatroomId")}
	if hq.room == "" {
		return hq, protocol.Errorf(protocol.CodeBadRequest, "chatroomId is missing")
	}
	if !protocol.ValidName(hq.room) {
		return hq, protocol.Errorf(protocol.CodeInvalidRoom, "chatroomId must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	var e *protocol.Error
	if hq.limit, e = intParam(q.Get("limit"), protocol.DefaultLimit, 1, protocol.MaxLimit); e != nil {
		return hq, e
	}
	if s := q.Get("before"); s != "" {
		b, e := intParam[int64](s, 0, 0, 1<<62)
		if e != nil {
			return hq, e
		}
		hq.before = &b
	}
	return hq, nil
}

// serveRooms answers GET /rooms[?limit=&after=]: the public rooms in id order, a page at
// a time; "next" is the after= of the next page.
func (g *Gateway) serveRooms(w http.ResponseWriter, r *http.Request) {
	after, limit, e := parseRoomsQuery(r.URL.Query())
	if e != nil {
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusOK, roomsPage(g.control.State().Rooms(""), after, limit))
}

func parseRoomsQuery(q url.Values) (after string, limit int, e *protocol.Error) {
	if limit, e = intParam(q.Get("limit"), maxRoomsPage, 1, maxRoomsPage); e != nil {
		return "", 0, e
	}
	after = q.Get("after")
	if after != "" && !protocol.ValidName(after) {
		return "", 0, protocol.Errorf(protocol.CodeInvalidRoom, "after must be a chatroomId")
	}
	return after, limit, nil
}

// maxRoomsPage is the most rooms GET /rooms answers at once.
const maxRoomsPage = 1000

// roomsPage returns the rooms after the id after (all sorted by id), at most limit.
func roomsPage(all []protocol.RoomInfo, after string, limit int) protocol.Rooms {
	i, _ := slices.BinarySearchFunc(all, after, func(r protocol.RoomInfo, id string) int {
		return strings.Compare(r.ChatroomID, id)
	})
	if i < len(all) && all[i].ChatroomID == after {
		i++
	}
	page := protocol.Rooms{Rooms: all[i:min(i+limit, len(all))]}
	if i+limit < len(all) {
		page.Next = page.Rooms[len(page.Rooms)-1].ChatroomID
	}
	return page
}

// historySlot waits, up to a second, for one of the HistoryReads slots of GET /history.
func (g *Gateway) historySlot(ctx context.Context) (release func(), e *protocol.Error) {
	slots := g.limits.historyReads
	if slots == nil {
		return func() {}, nil
	}
	release = func() { slots.Release(1) }
	if slots.TryAcquire(1) {
		return release, nil
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := slots.Acquire(ctx, 1); err != nil {
		return nil, protocol.Errorf(protocol.CodeRateLimited, "too many history reads at once, retry shortly")
	}
	return release, nil
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

func intParam[T int | int64](s string, def, lo, hi T) (T, *protocol.Error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < int64(lo) || n > int64(hi) {
		return 0, protocol.Errorf(protocol.CodeBadRequest, "%q is out of range %d..%d", s, lo, hi)
	}
	return T(n), nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError answers an HTTP error as {"error":{"code","message"}} with a fitting status.
func writeError(w http.ResponseWriter, e *protocol.Error) {
	writeJSON(w, api.Status(e.Code), map[string]*protocol.Error{"error": e})
}
