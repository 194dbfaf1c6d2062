package clustertest

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Connect connects to the NATS cluster directly, for looking at the stream.
func (c *Cluster) Connect() (*nats.Conn, error) {
	return nats.Connect(c.NATSURLs(), nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
}

// StreamLeader returns the NATS node leading the event stream CHAT_EVENTS.
func (c *Cluster) StreamLeader(ctx context.Context, nc *nats.Conn) (*NATSNode, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	s, err := js.Stream(ctx, "CHAT_EVENTS")
	if err != nil {
		return nil, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.Cluster == nil {
		return nil, fmt.Errorf("clustertest: stream has no cluster info")
	}
	for _, n := range c.NATS {
		if n.ServerName == info.Cluster.Leader {
			return n, nil
		}
	}
	return nil, fmt.Errorf("clustertest: stream leader %q is none of ours", info.Cluster.Leader)
}
