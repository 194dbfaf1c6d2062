// Package natstest starts the real thing for tests: an embedded NATS server with JetStream on
// a free loopback port, and clients of it, all stopped when the test ends.
package natstest

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/natsd"
)

// Server starts an embedded JetStream server storing in dir (a temporary directory when
// empty), shut down when the test ends.
func Server(t testing.TB, dir string) *server.Server {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	ns, err := natsd.Start(natsd.Config{Addr: "127.0.0.1:0", StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	return ns
}

// JetStream connects to ns and returns a JetStream client; the connection is closed when
// the test ends.
func JetStream(t testing.TB, ns *server.Server, opts ...nats.Option) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(ns.ClientURL(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// Cluster starts n embedded JetStream servers forming one cluster on loopback, each storing in
// a temporary directory, and waits until JetStream has a meta leader and every node is
// current; all are shut down when the test ends. An R3 stream on three of them has a replica
// on each node.
func Cluster(t testing.TB, n int) []*server.Server {
	t.Helper()
	addrs := make([]string, n)
	routes := make([]string, n)
	for i := range addrs {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs[i], routes[i] = l.Addr().String(), "nats://"+l.Addr().String()
		l.Close()
	}
	nodes := make([]*server.Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range nodes {
		dir := t.TempDir()
		wg.Go(func() {
			nodes[i], errs[i] = natsd.Start(natsd.Config{
				Addr: "127.0.0.1:0", StoreDir: dir, ServerName: fmt.Sprintf("n%d", i+1),
				ClusterName: "test", ClusterAddr: addrs[i], Routes: routes,
			})
		})
	}
	wg.Wait()
	for i, ns := range nodes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		// The meta leader places replicas only on peers it counts as online (it has their
		// stats): a bucket made before that fails with "no suitable peers for placement".
		ready, leader := true, false
		for _, ns := range nodes {
			ready = ready && ns.NumRoutes() >= n-1 && ns.JetStreamIsClustered() && ns.JetStreamIsCurrent()
			leader = leader || ns.JetStreamIsLeader() && len(ns.JetStreamClusterPeers()) == n
		}
		if ready && leader && jetStreamAnswers(nodes) {
			return nodes
		}
		if time.Now().After(deadline) {
			t.Fatalf("NATS cluster of %d not ready after 30s", n)
		}
	}
}

// jetStreamAnswers reports whether the JetStream API answers a client of every node (a meta
// leader may be elected before its peers know it).
func jetStreamAnswers(nodes []*server.Server) bool {
	for _, ns := range nodes {
		nc, err := nats.Connect(ns.ClientURL())
		if err != nil {
			return false
		}
		js, err := jetstream.New(nc)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
		}
		nc.Close()
		if err != nil {
			return false
		}
	}
	return true
}
