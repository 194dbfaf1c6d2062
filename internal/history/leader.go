package history

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
)

// Direct gets are answered by any replica of the stream, also by one that has not yet
// applied the newest messages: on an R3 stream, a message whose append was acknowledged a
// moment ago may be missing from a direct get's answer. Every direct read here therefore
// ends either where the caller's bound is, or, when the answering replica had nothing more,
// with the leader's word (leaderNext) that there is nothing more to read up to that bound.
// The leader answers the JetStream API's message get, which stays in step with appends: a
// message acknowledged to anyone is one the leader holds.

// msgRequest is the JetStream API's message get request (JSApiMsgGetRequest), one message.
type msgRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// msgResponse is its answer (JSApiMsgGetResponse).
type msgResponse struct {
	Error   *jetstream.APIError `json:"error"`
	Message *struct {
		Subject string `json:"subject"`
		Seq     uint64 `json:"seq"`
		Data    []byte `json:"data"`
	} `json:"message"`
}

// leaderGet asks the stream's leader for one message; ok is false when there is none.
func (s *Store) leaderGet(ctx context.Context, req msgRequest) (m msg, ok bool, err error) {
	b, err := json.Marshal(req)
	if err != nil {
		return msg{}, false, err
	}
	reply, err := s.nc.RequestWithContext(ctx, s.msgGet, b)
	if err != nil {
		return msg{}, false, err
	}
	var r msgResponse
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		return msg{}, false, err
	}
	switch {
	case r.Error != nil && r.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return msg{}, false, nil
	case r.Error != nil:
		return msg{}, false, r.Error
	case r.Message == nil:
		return msg{}, false, errors.New("message get: empty answer")
	}
	return msg{seq: r.Message.Seq, data: r.Message.Data, subject: r.Message.Subject}, true, nil
}

// leaderNext returns the leader's first message of subj with from <= seq <= hi; ok is false
// when there is none. A direct read of subj whose answer ran out before hi calls it: a
// message it returns is one the answering replica did not have yet.
func (s *Store) leaderNext(ctx context.Context, subj string, from, hi uint64) (m msg, ok bool, err error) {
	if from > hi {
		return msg{}, false, nil
	}
	m, ok, err = s.leaderGet(ctx, msgRequest{Seq: from, NextFor: subj})
	if err != nil || !ok || m.seq > hi {
		return msg{}, false, err
	}
	return m, true, nil
}
