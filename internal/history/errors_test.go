package history

import (
	"context"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
	noPeers := &jetstream.APIError{Code: 400, ErrorCode: 10005, Description: "no suitable peers for placement, peer offline"}
	if !isOutage(fmt.Errorf("bucket chat_markers: %w", noPeers)) {
		t.Error("no peers for placement (a node offline) is not an outage")
	}
	if isOutage(&jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeBadRequest}) {
		t.Error("a bad request is an outage")
	}
	if isOutage(context.Canceled) {
		t.Error("a canceled context is an outage")
	}
}
