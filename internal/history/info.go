package history

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/chathub/chathub/internal/subject"
)

// LastID returns the id of the room's newest stored event, 0 when it has none.
func (s *Store) LastID(ctx context.Context, room string) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, _, err := s.last(ctx, subject.Events(room))
	if err != nil {
		return 0, failed("last id of "+room, err)
	}
	return m.seq, nil
}

// FirstID returns the id of the room's oldest stored event, 0 when it has none.
func (s *Store) FirstID(ctx context.Context, room string) (uint64, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, _, err := s.probe(ctx, subject.Events(room), 1)
	if err != nil {
		return 0, failed("first id of "+room, err)
	}
	return m.seq, nil
}

// Info returns the stream's first sequence and the room's first and last ids and count, in
// three concurrent round trips. A room with no events has First, Last and Count 0.
func (s *Store) Info(ctx context.Context, room string) (RoomInfo, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	subj := subject.Events(room)
	ri := RoomInfo{Depth: s.cfg.Depth}
	var first, last msg
	var ok bool
	err := parallel(
		func() (err error) { first, ok, err = s.probe(ctx, subj, 1); return err },
		func() (err error) { last, _, err = s.last(ctx, subj); return err },
		func() error {
			si, err := s.stream.Info(ctx)
			if err == nil {
				ri.StreamFirst = si.State.FirstSeq
			}
			return err
		},
	)
	if err != nil {
		return RoomInfo{}, failed("info of "+room, err)
	}
	if ok {
		ri.First, ri.Last, ri.Count = first.seq, last.seq, first.pending+1
	}
	return ri, nil
}

// LastTime returns when the room's newest stored event happened (its unixTime), the zero
// time when the room has none.
func (s *Store) LastTime(ctx context.Context, room string) (time.Time, error) {
	ctx, cancel := withTimeout(ctx)
	defer cancel()
	m, ok, err := s.last(ctx, subject.Events(room))
	if err != nil {
		return time.Time{}, failed("last event of "+room, err)
	}
	if !ok {
		return time.Time{}, nil
	}
	var ev struct {
		UnixTime int64 `json:"unixTime"`
	}
	if err := json.Unmarshal(m.data, &ev); err != nil {
		return time.Time{}, fmt.Errorf("history: last event of %s: %w", room, err)
	}
	return time.Unix(ev.UnixTime, 0), nil
}
