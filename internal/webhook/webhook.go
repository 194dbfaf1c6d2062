// Package webhook POSTs every stored chat event to one URL, in stream order, at least once,
// through one durable JetStream consumer shared by all gateways (docs/webhooks.md).
//
// How it holds together:
//
//   - One durable pull consumer (Config.Durable, "chat-webhook") on subject.EventsAll with
//     AckExplicit. Its MaxAckPending is the batch size (100): the events handed out and not
//     yet acknowledged are never more than one batch.
//   - Only one gateway delivers at a time: the consumer has a priority group with the
//     pinned-client policy (NATS 2.11+). The server pins the first gateway that pulls and
//     answers no other until the pinned one sends no pull request for PinnedTTL; every pull
//     request of the pinned one (one per Poll at least, also while retrying) keeps the pin.
//     Without this, two gateways would each take a part of the stream and post their parts
//     in parallel: out of order.
//   - A batch is acknowledged only after a 2xx. While a batch is being retried its events
//     stay held (InProgress every AckWait/3 keeps the server from redelivering them), so
//     nothing behind them is delivered first and nothing is skipped for as long as the
//     stream holds them. A long AckWait instead would also delay the takeover after a crash.
//   - If the pinned gateway dies, another is pinned after PinnedTTL and its batch is
//     redelivered after AckWait (PinnedTTL is longer by default, so the redeliveries are
//     usually due when the new one starts). The server may still hand out newer events
//     first, and redelivers in the order ack waits ended, not in stream order; so a deliverer
//     sorts what it holds and reads any event missing before it, from the consumer's ack floor
//     on, from the stream itself (batch.go): requests stay in stream order, and the dead
//     one's batch may be delivered twice (at least once). A gateway that stops cleanly Naks
//     what it holds and unpins, so another takes over at once.
//
// Pulling uses nats.go's jetstream Consumer.Fetch (one pull request at a time, at most
// MaxBatch messages, FetchMaxWait of Poll) with FetchPriorityGroup: Consume and Messages keep
// several overlapping requests open and buffer ahead, which would need the same bound
// anyway, and FetchNoWait cannot name a priority group. The events a request brings are
// read from its channel as they arrive, so one event is posted at once, not after the
// request expires; what arrives while a POST is in flight makes the next batch.
package webhook

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Config of the delivery. URL and Secret are required; zero values of the rest are
// documented per field (tests shorten the times).
type Config struct {
	// URL receives the POSTs.
	URL string
	// Secret signs every request (HMAC-SHA256); at least MinSecret bytes.
	Secret []byte
	// FromStart makes a consumer created now deliver every event the stream holds; false
	// delivers only events stored after it is created. An existing consumer keeps where it is.
	FromStart bool
	// Gateway names this gateway in the User-Agent header ("chat-gateway/<id>").
	Gateway string
	// Durable is the consumer's name; zero means "chat-webhook".
	Durable string
	// MaxBatch is the most events per request and the consumer's MaxAckPending; zero means 100.
	MaxBatch int
	// Timeout bounds one POST, answer included; zero means 5s.
	Timeout time.Duration
	// MinBackoff is the wait after the first failed attempt, doubled after each further
	// failure up to MaxBackoff; zero means 500ms and 1 minute.
	MinBackoff, MaxBackoff time.Duration
	// AckWait is how long the server waits for an ack before redelivering; zero means 30s.
	AckWait time.Duration
	// PinnedTTL is how long a silent pinned gateway keeps the pin, so how soon another takes
	// over after a crash; zero means AckWait plus a half.
	PinnedTTL time.Duration
	// Poll is how long one pull request waits for events; zero means 5s. It must be shorter
	// than PinnedTTL.
	Poll time.Duration
	// Client sends the requests; nil means a client with no timeout of its own (Timeout
	// bounds each request).
	Client *http.Client
}

// MinSecret is the shortest secret accepted, in bytes.
const MinSecret = 16

// DefaultDurable is the consumer's name when Config.Durable is empty.
const DefaultDurable = "chat-webhook"

// group is the consumer's one priority group.
const group = "webhook"

func (c Config) withDefaults() (Config, error) {
	if c.Durable == "" {
		c.Durable = DefaultDurable
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = 100
	}
	c.Timeout = or(c.Timeout, 5*time.Second)
	c.MinBackoff = or(c.MinBackoff, 500*time.Millisecond)
	c.MaxBackoff = or(c.MaxBackoff, time.Minute)
	c.AckWait = or(c.AckWait, 30*time.Second)
	c.PinnedTTL = or(c.PinnedTTL, c.AckWait*3/2)
	c.Poll = or(c.Poll, 5*time.Second)
	if c.Client == nil {
		c.Client = &http.Client{}
	}
	return c, c.validate()
}

func (c Config) validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("webhook: a URL is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("webhook: %q is not an http or https URL", c.URL)
	case len(c.Secret) < MinSecret:
		return fmt.Errorf("webhook: the secret must be at least %d bytes", MinSecret)
	case c.MaxBatch < 0 || c.Timeout < 0 || c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff:
		return errors.New("webhook: negative value in Config")
	case c.Timeout >= c.AckWait:
		return errors.New("webhook: Timeout must be shorter than AckWait")
	case c.Poll >= c.PinnedTTL || c.Poll >= c.AckWait:
		return errors.New("webhook: Poll must be shorter than AckWait and PinnedTTL")
	}
	return nil
}

func or(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// logger returns log, or one that discards when nil.
func logger(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}
