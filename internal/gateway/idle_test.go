package gateway_test

import (
	"bytes"
	"fmt"
	"net/url"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/chattest"
	"github.com/chathub/chathub/internal/gateway"
)

// An idle connection holds one goroutine, its reader: the loop and the writer run only while
// they have work, so the stacks that commands grew (joins go deep into NATS) do not stay
// with every idle connection. Half the clients give their token as their first frame (the
// goroutine that waited for it lets go), half in the URL; every one has joined, one has
// posted (and had its ack), all have received. The test runs alone (not parallel): it
// counts the goroutines of the whole test binary.
func TestIdleConnectionKeepsOnlyItsReader(t *testing.T) {
	g := chattest.StartGateway(t, chattest.NATS(t), gateway.Config{ID: "gw-idle", AuthSecret: hardSecret, AuthTimeout: 10 * time.Second})
	const n = 20
	clients := make([]*chattest.Client, n)
	for i := range clients {
		user := fmt.Sprintf("idle%d", i)
		if i%2 == 0 {
			clients[i] = welcomed(t, g, url.Values{"token": {signFor(t, hardSecret, user, time.Hour)}}, user)
		} else {
			c, err := chattest.DialQuery(t, g.URL(), url.Values{"session": {"s1"}})
			if err != nil {
				t.Fatal(err)
			}
			c.Send(map[string]any{"type": "auth", "token": signFor(t, hardSecret, user, time.Hour)})
			c.Expect("welcome")
			clients[i] = c
		}
		join(t, clients[i], "lobby")
	}
	post(t, clients[0], "lobby", "hello")
	for _, c := range clients[1:] {
		c.Until("message", func(m chattest.Msg) bool { return m.Message == "hello" })
	}
	deadline := time.Now().Add(chattest.Timeout)
	for {
		readers, loops, writers, dump := connGoroutines()
		if readers == n && loops == 0 && writers == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections hold %d readers, %d loops, %d writers:\n%s", n, readers, loops, writers, dump)
		}
		time.Sleep(10 * time.Millisecond) // polling the condition, not waiting for it to happen
	}
}

// connGoroutines counts the goroutines in the gateway's connection functions; a goroutine
// awaiting a token holds the loop.
func connGoroutines() (readers, loops, writers int, dump string) {
	var b bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&b, 1)
	_, groups, _ := strings.Cut(b.String(), "\n") // after "goroutine profile: total N"
	for _, group := range strings.Split(groups, "\n\n") {
		count, _, _ := strings.Cut(group, " @")
		k, err := strconv.Atoi(count)
		if err != nil {
			continue
		}
		switch {
		case strings.Contains(group, "gateway.(*conn).read\t") || strings.Contains(group, "gateway.(*conn).read+"):
			readers += k
		case strings.Contains(group, "gateway.(*conn).serve") || strings.Contains(group, "gateway.(*conn).awaitToken"):
			loops += k
		case strings.Contains(group, "gateway.(*conn).writeLoop"):
			writers += k
		}
	}
	return readers, loops, writers, b.String()
}
