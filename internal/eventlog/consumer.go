package eventlog

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// consumerConfig is the durable consumer, declared as data.
func consumerConfig(cfg Config) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		Description:   "eventlog: appends every stored event to " + cfg.Path,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       ackWait,
		MaxAckPending: maxAckPend,
		FilterSubject: subject.EventsAll,
	}
}

// setup finds the stream (for filling gaps) and creates or updates the durable consumer.
func setup(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, jetstream.Consumer, error) {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	stream, err := js.Stream(ctx, cfg.Stream)
	if err != nil {
		return nil, nil, fmt.Errorf("eventlog: stream %s: %w", cfg.Stream, err)
	}
	cons, err := stream.CreateOrUpdateConsumer(ctx, consumerConfig(cfg))
	if err != nil {
		return nil, nil, fmt.Errorf("eventlog: consumer %s: %w", cfg.Durable, err)
	}
	return stream, cons, nil
}
