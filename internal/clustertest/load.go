package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chathub/chathub/internal/chatclient"
	"github.com/chathub/chathub/internal/poll"
)

// LoadConfig is steady chat load through one URL. Zero values are documented per field.
type LoadConfig struct {
	URL     string  // the load balancer's /ws URL
	HTTP    string  // base URL for reading history at the end (the load balancer)
	Clients int     // sessions, client i in room i % Rooms; zero means 100
	Rooms   int     // rooms "<Prefix>-0".. ; zero means 10
	Prefix  string  // zero means "room"
	Rate    float64 // messages per second posted to each room (by its first client); zero means 100
}

// Load is a set of clients in rooms, one publisher per room.
type Load struct {
	cfg     LoadConfig
	Clients []*chatclient.Session
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartLoad connects the clients and waits (up to timeout) until every one has joined its
// room; publishing starts with SetPublishing.
func StartLoad(cfg LoadConfig, timeout time.Duration) (*Load, error) {
	if cfg.Clients == 0 {
		cfg.Clients = 100
	}
	if cfg.Rooms == 0 {
		cfg.Rooms = 10
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "room"
	}
	if cfg.Rate == 0 {
		cfg.Rate = 100
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Load{cfg: cfg, cancel: cancel}
	for i := range cfg.Clients {
		room := l.Room(i % cfg.Rooms)
		cc := chatclient.Config{URL: cfg.URL, User: fmt.Sprintf("%s-u%d", cfg.Prefix, i),
			Rooms: []string{room}, Reconnect: true, JoinLimit: 1}
		if i < cfg.Rooms {
			cc.Publish, cc.Rate = room, cfg.Rate
		}
		c := chatclient.New(cc)
		l.Clients = append(l.Clients, c)
		l.wg.Go(func() { c.Run(ctx) })
	}
	if err := l.WaitJoined(timeout); err != nil {
		l.Stop()
		return nil, err
	}
	return l, nil
}

// Room is the name of room r.
func (l *Load) Room(r int) string { return l.cfg.Prefix + "-" + strconv.Itoa(r) }

// WaitJoined waits until every client is connected and in its room.
func (l *Load) WaitJoined(timeout time.Duration) error {
	return poll.UntilNil(context.Background(), timeout, 20*time.Millisecond, func() error {
		n := 0
		for _, c := range l.Clients {
			if !c.Joined() {
				n++
			}
		}
		if n > 0 {
			return fmt.Errorf("%d of %d clients not joined", n, len(l.Clients))
		}
		return nil
	})
}

// SetPublishing switches the publishers on or off.
func (l *Load) SetPublishing(on bool) {
	for _, c := range l.Clients {
		c.SetPublishing(on)
	}
}

// Stop closes every client (1000) and waits for them.
func (l *Load) Stop() {
	l.cancel()
	l.wg.Wait()
}

// Acked counts acknowledged messages over all publishers.
func (l *Load) Acked() int {
	n := 0
	for _, c := range l.Clients {
		n += len(c.Acked())
	}
	return n
}

// WaitAcked waits until every message posted has been acknowledged (publishing off).
func (l *Load) WaitAcked(timeout time.Duration) error {
	return poll.UntilNil(context.Background(), timeout, 50*time.Millisecond, func() error {
		n := 0
		for _, c := range l.Clients {
			n += c.Stats().Pending
		}
		if n > 0 {
			return fmt.Errorf("%d messages not acknowledged", n)
		}
		return nil
	})
}

// WaitAckedSince waits until n more messages than before have been acknowledged.
func (l *Load) WaitAckedSince(before, n int, timeout time.Duration) error {
	return poll.UntilNil(context.Background(), timeout, 20*time.Millisecond, func() error {
		if got := l.Acked() - before; got < n {
			return fmt.Errorf("%d of %d new acks", got, n)
		}
		return nil
	})
}

// Finish stops publishing, waits for every acknowledgement and for every client to have seen
// its room's newest event, then stops the clients and checks everything: see Verify.
func (l *Load) Finish(timeout time.Duration) []string {
	l.SetPublishing(false)
	var problems []string
	if err := l.WaitAcked(timeout); err != nil {
		problems = append(problems, err.Error())
	}
	newest := map[string]uint64{}
	for r := range l.cfg.Rooms {
		id, err := Newest(l.cfg.HTTP, l.Room(r))
		if err != nil {
			problems = append(problems, err.Error())
		}
		newest[l.Room(r)] = id
	}
	err := poll.UntilNil(context.Background(), timeout, 50*time.Millisecond, func() error {
		behind := 0
		for i, c := range l.Clients {
			if room := l.Room(i % l.cfg.Rooms); c.Check().Last(room) < newest[room] {
				behind++
			}
		}
		if behind > 0 {
			return fmt.Errorf("%d clients have not seen their room's newest event", behind)
		}
		return nil
	})
	if err != nil {
		problems = append(problems, err.Error())
	}
	l.Stop()
	return append(problems, l.Verify()...)
}

// Verify compares what each client holds with the rooms' history read now: every
// acknowledged message is stored once, under the id its ack gave; every client received
// every event stored after it joined exactly once and in order (chatclient.Checker.Verify);
// and no client saw a duplicate, an id going backwards or an unrecovered rejoin.
func (l *Load) Verify() []string {
	var problems []string
	for r := range l.cfg.Rooms {
		room := l.Room(r)
		hist, err := History(l.cfg.HTTP, room, 0)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		var members []*chatclient.Session
		for i, c := range l.Clients {
			if i%l.cfg.Rooms == r {
				members = append(members, c)
			}
		}
		problems = append(problems, VerifyRoom(room, hist, members, false)...)
	}
	for _, c := range l.Clients {
		problems = append(problems, c.Stats().Problems...)
	}
	return problems
}

// VerifyRoom checks the sessions' view of room against its stored events, hist (oldest
// first): every message a session posted and had acknowledged is stored once, under the
// id its ack gave; every session received runs of consecutive stored events
// (chatclient.Checker.Verify). A rejoin that was not recovered is a problem unless
// gapsTold: then the client was told of the gap, as the protocol allows.
func VerifyRoom(room string, hist []chatclient.Msg, sessions []*chatclient.Session, gapsTold bool) []string {
	var problems []string
	byID := map[uint64]string{}
	keys := map[string]uint64{}
	var ids []uint64
	for _, e := range hist {
		ids = append(ids, e.ID)
		if e.Type != "message" {
			continue
		}
		key, _, _ := strings.Cut(e.Message, " ")
		if prev, dup := keys[key]; dup {
			problems = append(problems, fmt.Sprintf("%s: message %s stored twice, as %d and %d", room, key, prev, e.ID))
		}
		keys[key], byID[e.ID] = e.ID, key
	}
	for _, c := range sessions {
		for ref, a := range c.Acked() {
			key := chatclient.MessageKey(c.User(), c.ID(), ref)
			if a.Room == room && byID[a.ID] != key {
				problems = append(problems, fmt.Sprintf("%s: acknowledged %s (id %d) is not in history (id %d holds %q)", room, key, a.ID, a.ID, byID[a.ID]))
			}
		}
		problems = append(problems, c.Check().Verify(room, ids)...)
		if gapsTold {
			continue
		}
		for _, g := range c.Room(room).Gaps {
			problems = append(problems, fmt.Sprintf("%s: %s rejoined since %d and was not recovered (first id %d)", room, c.User(), g.Since, g.First))
		}
	}
	return problems
}

// Newest is the id of room's newest stored event (0 when it has none), through base's
// HTTP API.
func Newest(base, room string) (uint64, error) {
	var page struct {
		Events []chatclient.Msg `json:"events"`
	}
	q := url.Values{"chatroomId": {room}, "limit": {"1"}}
	if err := getJSON(base+"/history?"+q.Encode(), &page); err != nil {
		return 0, fmt.Errorf("history of %s: %w", room, err)
	}
	if len(page.Events) == 0 {
		return 0, nil
	}
	return page.Events[len(page.Events)-1].ID, nil
}

// History pages backwards through room's history at base (GET /history) and returns its
// stored events with id > after (every one for 0), oldest first.
func History(base, room string, after uint64) ([]chatclient.Msg, error) {
	return HistoryAs(base, room, "", after)
}

// HistoryAs is History as user (open mode's &user=, which a private room needs: one of its
// two users).
func HistoryAs(base, room, user string, after uint64) ([]chatclient.Msg, error) {
	var out []chatclient.Msg
	before := ""
	for {
		q := url.Values{"chatroomId": {room}, "limit": {"1000"}}
		if user != "" {
			q.Set("user", user)
		}
		if before != "" {
			q.Set("before", before)
		}
		var page struct {
			Events []chatclient.Msg `json:"events"`
		}
		if err := getJSON(base+"/history?"+q.Encode(), &page); err != nil {
			return nil, fmt.Errorf("history of %s: %w", room, err)
		}
		out = append(page.Events, out...)
		if len(page.Events) < 1000 || page.Events[0].ID <= after+1 {
			break
		}
		before = strconv.FormatUint(page.Events[0].ID, 10)
	}
	i := 0
	for i < len(out) && out[i].ID <= after {
		i++
	}
	return out[i:], nil
}

func getJSON(u string, v any) error {
	var last error
	for range 5 { // the load balancer may be moving off a gateway that just died
		resp, err := httpClient.Get(u)
		if err == nil {
			err = func() error {
				defer resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return errors.New(resp.Status)
				}
				return json.NewDecoder(resp.Body).Decode(v)
			}()
			if err == nil {
				return nil
			}
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return last
}

// Summary sums the clients' counters: connections, reconnects, close codes, gateways, sent,
// resent and error codes.
type Summary struct {
	Reconnects   int
	DialFailures int
	Closes       map[int]int
	Gateways     map[string]int // clients by the gateway of their current connection
	Sent, Resent int
	Acked        int
	Errors       map[string]int
}

func (s Summary) String() string {
	return fmt.Sprintf("sent %d, acked %d, resent %d, reconnects %d (dial failures %d), closes %v, clients per gateway %v, errors %v",
		s.Sent, s.Acked, s.Resent, s.Reconnects, s.DialFailures, s.Closes, s.Gateways, s.Errors)
}

// Summary sums the clients' counters.
func (l *Load) Summary() Summary {
	s := Summary{Closes: map[int]int{}, Gateways: map[string]int{}, Errors: map[string]int{}}
	for _, c := range l.Clients {
		st := c.Stats()
		s.Reconnects += max(st.Conns-1, 0)
		s.DialFailures += st.DialFailures
		for k, v := range st.Closes {
			s.Closes[k] += v
		}
		if len(st.Gateways) > 0 {
			s.Gateways[st.Gateways[len(st.Gateways)-1]]++
		}
		s.Sent += st.Sent
		s.Resent += st.Resent
		for k, v := range st.Errors {
			s.Errors[k] += v
		}
		s.Acked += len(c.Acked())
	}
	return s
}
