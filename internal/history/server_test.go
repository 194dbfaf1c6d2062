package history

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/natstest"
)

// startServer runs an embedded JetStream server storing in dir until the test ends.
func startServer(t testing.TB, dir string) *server.Server { return natstest.Server(t, dir) }

// connect returns a JetStream client of ns, closed when the test ends.
func connect(t testing.TB, ns *server.Server) jetstream.JetStream { return natstest.JetStream(t, ns) }

// open starts a server and opens a Store on it.
func open(t testing.TB, cfg Config) (*Store, *server.Server) {
	t.Helper()
	ns := startServer(t, t.TempDir())
	st, err := Open(testContext(t), connect(t, ns), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st, ns
}

// testContext ends when the test does, or after 60 s.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}
