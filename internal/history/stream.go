package history

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// Store reads and appends the events of every room. It is safe for concurrent use.
type Store struct {
	js        jetstream.JetStream
	nc        *nats.Conn
	stream    jetstream.Stream
	cfg       Config // with defaults applied
	directGet string // subject of the stream's direct get API (any replica answers)
	msgGet    string // subject of the stream's message get API (the leader answers)
}

// Open creates the stream, or updates it to cfg, and returns a Store on it.
func Open(ctx context.Context, js jetstream.JetStream, cfg Config) (*Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	stream, err := js.CreateOrUpdateStream(ctx, streamConfig(cfg))
	if err != nil {
		return nil, failed("open stream", err)
	}
	return &Store{
		js:        js,
		nc:        js.Conn(),
		stream:    stream,
		cfg:       cfg,
		directGet: apiPrefix(js.Options()) + "DIRECT.GET." + subject.Stream,
		msgGet:    apiPrefix(js.Options()) + "STREAM.MSG.GET." + subject.Stream,
	}, nil
}

// streamConfig is the stream, declared as data.
func streamConfig(cfg Config) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:              subject.Stream,
		Description:       "Every stored chat event; one subject per room.",
		Subjects:          []string{subject.EventsAll, subject.FenceAll},
		Storage:           jetstream.FileStorage,
		Retention:         jetstream.LimitsPolicy,
		Discard:           jetstream.DiscardOld,
		MaxMsgsPerSubject: cfg.Depth,
		MaxAge:            cfg.MaxAge,
		Duplicates:        cfg.Duplicates,
		Replicas:          cfg.Replicas,
		AllowDirect:       true,
		RePublish: &jetstream.RePublish{
			Source:      subject.EventsAll,
			Destination: subject.LiveAll,
		},
	}
}

// apiPrefix is the JetStream API prefix of js, with its trailing dot.
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return fmt.Sprintf("$JS.%s.API.", o.Domain)
	default:
		return jetstream.DefaultAPIPrefix
	}
}

// withTimeout applies the default deadline when ctx has none.
func withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, defaultTimeout)
}
