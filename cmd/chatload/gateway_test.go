package main

import (
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// TestRealGateways runs chatload against two real gateways on one embedded
// JetStream server: every client must get every message of its room, across
// gateways, with nothing lost, repeated or reordered.
func TestRealGateways(t *testing.T) {
	ns := chattest.NATS(t)
	g1 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-1"})
	g2 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-2"})
	sum, logs, err := runLoad(t, Config{
		URLs: []string{g1.URL(), g2.URL()}, Clients: 20, Rooms: 4, RoomsPerClient: 2, Publishers: 4,
		Messages: 100, Window: 4, Size: 200, Duration: time.Minute, Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	// Each room has 10 members; each publisher sends 100 over its 2 rooms, so
	// each room gets 100 from its 2 publishers.
	if sum.Acked != 400 || sum.Delivered != 4*100*10 {
		t.Fatalf("acked %d delivered %d", sum.Acked, sum.Delivered)
	}
}

// TestRealGatewayFailover drains one of two gateways while messages flow: its
// clients must reconnect to the other and resume with since, losing nothing.
func TestRealGatewayFailover(t *testing.T) {
	ns := chattest.NATS(t)
	g1 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-1"})
	g2 := chattest.StartGateway(t, ns, gateway.Config{ID: "gw-2"})
	testHookPublishing = func(r *runner) {
		go func() {
			for r.tot.acked.Load() < 100 {
				time.Sleep(time.Millisecond) // polling a condition, not waiting for luck
			}
			g2.Close()
		}()
	}
	defer func() { testHookPublishing = nil }()
	sum, logs, err := runLoad(t, Config{
		URLs: []string{g1.URL(), g2.URL()}, Clients: 10, Rooms: 2, Publishers: 2,
		Messages: 300, Rate: 2000, Duration: time.Minute, Drain: 20 * time.Second,
	})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, logs)
	}
	if sum.Connections.Reconnects < 5 || sum.Acked != 600 || sum.Delivered < 600*5 {
		t.Fatalf("reconnects %d acked %d delivered %d", sum.Connections.Reconnects, sum.Acked, sum.Delivered)
	}
}
