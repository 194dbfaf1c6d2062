package history

import (
	"context"

	"github.com/chathub/chathub/internal/subject"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Barrier stores an empty message on the gateway's fence subject (never a room's), then
// removes it. The stream stores the messages of one connection in the order they were
// sent, so once Barrier returns, every event this Store's connection published before it
// has been stored or refused: none of them can be stored later.
func (s *Store) Barrier(ctx context.Context, gateway string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: subject.Fence(gateway)}, jetstream.WithExpectStream(subject.Stream))
	if err != nil {
		return failed("barrier", err)
	}
	_ = s.stream.DeleteMsg(ctx, ack.Sequence) // only tidies: a barrier left over harms nothing
	return nil
}

// Purge erases every event of room from the stream (the server API's room.delete).
func (s *Store) Purge(ctx context.Context, room string) error {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	if err := s.stream.Purge(ctx, jetstream.WithPurgeSubject(subject.Events(room))); err != nil {
		return failed("purge "+room, err)
	}
	return nil
}
