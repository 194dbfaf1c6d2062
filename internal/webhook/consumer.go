package webhook

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// Deliverer posts the events of the shared consumer. Make it with Open, register its
// Collectors, and run it with Run.
type Deliverer struct {
	cfg     Config
	log     *slog.Logger
	nc      *nats.Conn
	stream  jetstream.Stream
	cons    jetstream.Consumer
	metrics *metrics
}

// Open creates the durable consumer, or updates an existing one to cfg (keeping its deliver
// policy: where a consumer starts is decided once, by the first gateway). The stream must
// exist (history.Open creates it).
func Open(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) (*Deliverer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	stream, err := js.Stream(ctx, subject.Stream)
	if err != nil {
		return nil, fmt.Errorf("webhook: stream %s: %w", subject.Stream, err)
	}
	cons, err := setup(ctx, stream, cfg)
	if err != nil {
		return nil, err
	}
	d := &Deliverer{cfg: cfg, log: logger(log).With("webhook", cfg.Durable), nc: js.Conn(), stream: stream, cons: cons}
	d.metrics = newMetrics(d)
	return d, nil
}

// consumerConfig is the consumer, declared as data.
func consumerConfig(cfg Config) jetstream.ConsumerConfig {
	policy := jetstream.DeliverNewPolicy
	if cfg.FromStart {
		policy = jetstream.DeliverAllPolicy
	}
	return jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		Description:    "webhook: every stored event is POSTed to the webhook URL, in order",
		DeliverPolicy:  policy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     -1,
		MaxAckPending:  cfg.MaxBatch,
		FilterSubject:  subject.EventsAll,
		PriorityPolicy: jetstream.PriorityPolicyPinned,
		PriorityGroups: []string{group},
		PinnedTTL:      cfg.PinnedTTL,
	}
}

// setup creates the consumer, or updates the existing one without changing its start.
func setup(ctx context.Context, stream jetstream.Stream, cfg Config) (jetstream.Consumer, error) {
	want := consumerConfig(cfg)
	cons, err := stream.Consumer(ctx, cfg.Durable)
	switch {
	case errors.Is(err, jetstream.ErrConsumerNotFound):
		cons, err = stream.CreateConsumer(ctx, want)
		if !errors.Is(err, jetstream.ErrConsumerExists) {
			break
		}
		// Another gateway created it first, with another start: read it, then update.
		if cons, err = stream.Consumer(ctx, cfg.Durable); err != nil {
			break
		}
		fallthrough
	case err == nil:
		have := cons.CachedInfo().Config
		want.DeliverPolicy, want.OptStartSeq, want.OptStartTime = have.DeliverPolicy, have.OptStartSeq, have.OptStartTime
		cons, err = stream.UpdateConsumer(ctx, want)
	}
	if err != nil {
		return nil, fmt.Errorf("webhook: consumer %s: %w", cfg.Durable, err)
	}
	return cons, nil
}
