package clustertest

import "testing"

// Chat through the load balancer reaches clients on all three gateways, and every client
// holds every acknowledged message of its room exactly once, in order.
func TestChatAcrossGateways(t *testing.T) {
	c := Start(t, Options{})
	l := startLoad(t, c, "spread")
	steady(t, l, 2000)
	sum := l.Summary()
	for _, g := range c.Gateways {
		if sum.Gateways[g.ID] == 0 {
			t.Errorf("no client landed on %s: %v", g.ID, sum.Gateways)
		}
	}
	t.Logf("clients per gateway (welcome.gatewayId): %v", sum.Gateways)
	finish(t, l)
}
