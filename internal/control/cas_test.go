package control

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

func TestIsConflict(t *testing.T) {
	for name, err := range map[string]error{
		"single node (10071)": &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequence},
		"replicated (10164)":  &jetstream.APIError{Code: 400, ErrorCode: jetstream.JSErrCodeStreamWrongLastSequenceConstant},
		"revision mismatch":   fmt.Errorf("update: %w", jetstream.ErrKeyRevisionMismatch),
		"key exists":          fmt.Errorf("create: %w", jetstream.ErrKeyExists),
	} {
		if !isConflict(err) {
			t.Errorf("%s: %v is not a conflict", name, err)
		}
	}
	if isConflict(errors.New("nats: timeout")) || isConflict(nil) {
		t.Error("a timeout or nil is a conflict")
	}
}
