package chatclient

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Timeout bounds a Conn's waits when the caller's context has no deadline.
const Timeout = 15 * time.Second

// Options shape a Conn. Zero values are documented per field.
type Options struct {
	// Queue is how many objects are kept for Next; zero keeps none. When the queue is full
	// the reader waits for Next (as a slow client does).
	Queue int
	// OnLine, when set, receives every object of every frame as raw bytes, on the reading
	// goroutine (the slice is valid during the call), and nothing is decoded: no Checker,
	// no queue, no Request. For hot paths that scan instead of decoding.
	OnLine func(line []byte)
	// OnMsg receives every decoded object, on the reading goroutine, after the Checker and
	// before the queue.
	OnMsg func(Msg)
	// Checker, when set, sees every command sent and every object received.
	Checker *Checker
}

// Conn is one WebSocket connection to a gateway. A goroutine reads every frame, splits it
// on newlines and hands each object on (Options); Request matches replies by ref.
type Conn struct {
	WS   *websocket.Conn
	opts Options
	msgs chan Msg
	done chan struct{}
	err  error // why reading ended; set before done closes

	refs    atomic.Int64
	mu      sync.Mutex
	waiters map[string]chan Msg // by ref: Requests waiting for their reply
}

// Dial connects user with session (empty: the gateway makes one) in open mode.
func Dial(ctx context.Context, wsURL, user, session string, opts Options) (*Conn, error) {
	return DialQuery(ctx, wsURL, url.Values{"user": {user}, "session": {session}}, opts)
}

// DialQuery connects with raw query parameters; empty ones are left out.
func DialQuery(ctx context.Context, wsURL string, q url.Values, opts Options) (*Conn, error) {
	for k, v := range q {
		if len(v) == 1 && v[0] == "" {
			delete(q, k)
		}
	}
	u := wsURL
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, u, nil)
	if err != nil {
		return nil, err
	}
	return Wrap(ws, opts), nil
}

// Wrap serves a WebSocket that is already open (dialled with options of the caller's, such
// as small socket buffers), reading it from now on.
func Wrap(ws *websocket.Conn, opts Options) *Conn {
	ws.SetReadLimit(-1)
	c := &Conn{WS: ws, opts: opts, done: make(chan struct{}), waiters: map[string]chan Msg{}}
	if opts.Queue > 0 {
		c.msgs = make(chan Msg, opts.Queue)
	}
	go c.read()
	return c
}

func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, Timeout)
}

func (c *Conn) read() {
	defer close(c.done)
	for {
		_, data, err := c.WS.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		for line := range Lines(data) {
			if c.opts.OnLine != nil {
				c.opts.OnLine(line)
				continue
			}
			m, err := Decode(line)
			if err != nil {
				c.err = err
				c.WS.CloseNow()
				return
			}
			c.deliver(m)
		}
	}
}

func (c *Conn) deliver(m Msg) {
	if c.opts.Checker != nil {
		c.opts.Checker.Received(m)
	}
	if m.Ref != "" {
		c.mu.Lock()
		ch := c.waiters[m.Ref]
		delete(c.waiters, m.Ref)
		c.mu.Unlock()
		if ch != nil {
			ch <- m
		}
	}
	if c.opts.OnMsg != nil {
		c.opts.OnMsg(m)
	}
	if c.msgs != nil {
		c.msgs <- m
	}
}

// Send sends one command (marshalled to JSON).
func (c *Conn) Send(ctx context.Context, cmd any) error {
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	return c.SendRaw(ctx, b)
}

// SendRaw sends one text frame as it is.
func (c *Conn) SendRaw(ctx context.Context, b []byte) error {
	if c.opts.Checker != nil {
		c.opts.Checker.Sent(b)
	}
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	return c.WS.Write(ctx, websocket.MessageText, b)
}

// Request sends cmd with a ref (a fresh one unless cmd has one) and returns the reply that
// carries it.
func (c *Conn) Request(ctx context.Context, cmd map[string]any) (Msg, error) {
	ref, _ := cmd["ref"].(string)
	if ref == "" {
		ref = "q" + strconv.FormatInt(c.refs.Add(1), 10)
		cmd["ref"] = ref
	}
	ch := make(chan Msg, 1)
	c.mu.Lock()
	c.waiters[ref] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.waiters, ref)
		c.mu.Unlock()
	}()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := c.Send(ctx, cmd); err != nil {
		return Msg{}, err
	}
	select {
	case m := <-ch:
		return m, nil
	case <-c.done:
		return Msg{}, errors.Join(errors.New("chatclient: connection ended before the reply to "+ref), c.err)
	case <-ctx.Done():
		return Msg{}, errors.New("chatclient: no reply to " + ref + ": " + ctx.Err().Error())
	}
}

// Next returns the next queued object (Options.Queue), waiting for it.
func (c *Conn) Next(ctx context.Context) (Msg, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	select {
	case m := <-c.msgs:
		return m, nil
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m, nil
		default:
		}
		return Msg{}, errors.Join(errors.New("chatclient: connection ended"), c.err)
	case <-ctx.Done():
		return Msg{}, errors.New("chatclient: nothing from the gateway: " + ctx.Err().Error())
	}
}

// Pending returns the queued objects, without waiting.
func (c *Conn) Pending() []Msg {
	var out []Msg
	for {
		select {
		case m := <-c.msgs:
			out = append(out, m)
		default:
			return out
		}
	}
}

// Done is closed when reading has ended (the connection is closed or cut).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why reading ended; valid once Done is closed.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// CloseCode is the close code the connection ended with: -1 when it was cut without one,
// or has not ended.
func (c *Conn) CloseCode() websocket.StatusCode {
	select {
	case <-c.done:
		return websocket.CloseStatus(c.err)
	default:
		return -1
	}
}

// Close closes the connection with code (1000: the session leaves its rooms).
func (c *Conn) Close(code websocket.StatusCode) error { return c.WS.Close(code, "") }

// Cut drops the connection without a close frame, as a lost network does: the session's
// grace period starts.
func (c *Conn) Cut() error { return c.WS.CloseNow() }
