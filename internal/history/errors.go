package history

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// failed wraps err, the failure of op, once; an outage also wraps ErrUnavailable.
func failed(op string, err error) error {
	if isOutage(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("history: %s: %w", op, err)
}

// outages are the errors that mean NATS or the stream cannot be reached right now.
var outages = []error{
	context.DeadlineExceeded,
	nats.ErrTimeout,
	nats.ErrConnectionClosed,
	nats.ErrConnectionDraining,
	nats.ErrConnectionReconnecting,
	// What a publish gets while the connection reconnects and buffers nothing
	// (nats.ReconnectBufSize(-1), as the gateway connects).
	nats.ErrReconnectBufExceeded,
	nats.ErrDisconnected,
	nats.ErrStaleConnection,
	nats.ErrNoResponders,
	jetstream.ErrNoStreamResponse,
	jetstream.ErrJetStreamNotEnabled,
	jetstream.ErrJetStreamNotEnabledForAccount,
	jetstream.ErrStreamNotFound,
}

// IsOutage reports whether err, from any NATS or JetStream call (streams, key-value
// buckets), means "unreachable, retry later". A caller's cancellation is not an outage.
func IsOutage(err error) bool { return isOutage(err) }

func isOutage(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	for _, o := range outages {
		if errors.Is(err, o) {
			return true
		}
	}
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.Code == 503 || apiErr.ErrorCode == errCodeNoPeers)
}

// errCodeNoPeers is JetStream's "no suitable peers for placement": a replicated stream or
// bucket cannot be made or changed because a cluster node is offline or not yet known to
// the meta leader (a node restarting, a cluster still forming). It passes like an outage;
// asking for more replicas than there are nodes gets it every time, and the gateway's start
// says so in its log at each try.
const errCodeNoPeers jetstream.ErrorCode = 10005
