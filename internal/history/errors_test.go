package history

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
)

func TestOutages(t *testing.T) {
	for _, err := range []error{
		nats.ErrReconnectBufExceeded, // reconnecting without a buffer: the gateway's setting
		nats.ErrConnectionReconnecting,
		nats.ErrNoResponders,
		context.DeadlineExceeded,
	} {
		if !isOutage(fmt.Errorf("publish: %w", err)) {
			t.Errorf("%v is not an outage", err)
		}
	}
	if isOutage(context.Canceled) {
		t.Error("a canceled context is an outage")
	}
}
