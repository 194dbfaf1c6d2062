package chatclient

import (
	"fmt"
	"slices"
)

// Contiguous checks that got is a run of consecutive elements of stored (a room's stored
// ids, ascending): strictly increasing, no hole, no duplicate.
func Contiguous(stored, got []uint64) error {
	if len(got) == 0 {
		return nil
	}
	i, ok := slices.BinarySearch(stored, got[0])
	if !ok {
		return fmt.Errorf("id %d is not a stored event of the room", got[0])
	}
	for k, id := range got {
		switch {
		case i+k >= len(stored):
			return fmt.Errorf("id %d (#%d) after the room's last stored event %d", id, k, stored[len(stored)-1])
		case stored[i+k] != id:
			return fmt.Errorf("#%d: got id %d, want %d (previous %d)", k, id, stored[i+k], got[max(k-1, 0)])
		}
	}
	return nil
}

// After returns the ids of stored above id, in order.
func After(stored []uint64, id uint64) []uint64 {
	i, _ := slices.BinarySearch(stored, id+1)
	return slices.Clone(stored[i:])
}

// Verify compares what the session received of room (kept with CheckerConfig.Keep) with
// the room's stored ids, ascending: every segment is a run of consecutive stored events
// with nothing twice, and a segment of a recovered rejoin starts right after its since.
// Segments may end anywhere: a session that left, or whose last connection ended, stops.
func (k *Checker) Verify(room string, stored []uint64) []string {
	r := k.Room(room)
	var problems []string
	for i, s := range r.Segs {
		err := Contiguous(stored, s.IDs)
		if err == nil && s.Exact {
			if want := After(stored, s.After); len(want) > 0 && (len(s.IDs) == 0 || s.IDs[0] != want[0]) {
				first := "nothing"
				if len(s.IDs) > 0 {
					first = fmt.Sprint(s.IDs[0])
				}
				err = fmt.Errorf("begins with %s, but the first stored event after %d is %d", first, s.After, want[0])
			}
		}
		if err != nil {
			problems = append(problems, fmt.Sprintf("%s/%s in %s: segment %d (%s, %d ids %s): %v",
				k.user, k.session, room, i, s.How, len(s.IDs), span(s.IDs), err))
		}
	}
	return problems
}

func span(ids []uint64) string {
	if len(ids) == 0 {
		return "-"
	}
	return fmt.Sprintf("%d..%d", ids[0], ids[len(ids)-1])
}
