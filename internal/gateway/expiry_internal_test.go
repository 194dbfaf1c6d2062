package gateway

import (
	"context"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/auth"
)

// A connection's token runs out at the instant a new connection with it is refused, Leeway
// after its exp, not a moment later; and an expiry timer that fires before that by the wall
// clock (a refresh moved it, or the clock went back) waits again instead of forgetting the
// token.
func TestTokenRunsOutWhereTheVerifierRefusesIt(t *testing.T) {
	at := time.Unix(1_900_000_000, 0)
	c := &conn{expires: at.Add(-auth.Leeway)}
	if !c.tokenExpiredAt(at) {
		t.Error("a token exactly Leeway past its exp is still taken")
	}
	c.expires = at.Add(-auth.Leeway + time.Second)
	if c.tokenExpiredAt(at) {
		t.Error("a token a second inside the leeway ran out")
	}

	c.expires = time.Now().Add(time.Hour)
	expire(context.Background(), c)
	if c.expiry == nil {
		t.Fatal("the expiry fired early and nothing waits for the token's end any more")
	}
	c.expiry.Stop()
	if c.closing {
		t.Error("a connection whose token has an hour left was closed")
	}
}
