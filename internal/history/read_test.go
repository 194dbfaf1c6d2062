package history

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// fill appends n events over rooms, picking each event's room with pick, and returns the ids
// of every room, oldest first, and every event's payload by id.
func fill(t *testing.T, st *Store, n int, pick func(i int) string) (map[string][]uint64, map[uint64]string) {
	t.Helper()
	ctx := testContext(t)
	ids, data := map[string][]uint64{}, map[uint64]string{}
	for i := range n {
		room := pick(i)
		payload := fmt.Sprintf(`{"chatroomId":%q,"n":%d}`, room, i)
		id, _, err := st.Append(ctx, room, []byte(payload), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[room] = append(ids[room], id)
		data[id] = payload
	}
	return ids, data
}

// interleaved picks rooms with densities that change over time: "dense" is busy early and
// rare late, "late" is the reverse, "sparse" is rare throughout, "one" has a single event.
func interleaved(n int) func(i int) string {
	r := rand.New(rand.NewPCG(1, 2))
	return func(i int) string {
		switch x := r.IntN(100); {
		case i == n/2:
			return "one"
		case x < 3:
			return "sparse"
		case i < n/2 && x < 60, i >= n/2 && x < 8:
			return "dense"
		case i >= n/2 && x < 50:
			return "late"
		default:
			return fmt.Sprintf("r%d", r.IntN(20))
		}
	}
}

func TestReadsMatchBruteForce(t *testing.T) {
	st, _ := open(t, Config{})
	const n = 3000
	ids, data := fill(t, st, n, interleaved(n))
	ctx := testContext(t)
	for _, room := range []string{"dense", "late", "sparse", "one", "r3", "none"} {
		all := ids[room]
		for _, b := range bounds(all, n) {
			for _, limit := range []int{1, 2, 7, 50, 1000} {
				got, err := st.Latest(ctx, room, limit, b)
				check(t, fmt.Sprintf("Latest(%s, %d, %d)", room, limit, b), got, err, latest(all, limit, b), data)
				got, err = st.Before(ctx, room, b, limit)
				check(t, fmt.Sprintf("Before(%s, %d, %d)", room, b, limit), got, err, before(all, b, limit), data)
			}
			for _, upto := range uptos(all, b) {
				for _, m := range []int{1, 5, 1000} {
					got, more, err := st.After(ctx, room, b, upto, m)
					want, wantMore := after(all, b, upto, m)
					name := fmt.Sprintf("After(%s, %d, %d, %d)", room, b, upto, m)
					check(t, name, got, err, want, data)
					if more != wantMore {
						t.Fatalf("%s: more = %v, want %v", name, more, wantMore)
					}
				}
			}
		}
	}
}

// bounds are interesting ids for a room: 0, the ends, ids of its events and ids between.
func bounds(all []uint64, n int) []uint64 {
	b := []uint64{0, 1, uint64(n) + 5, uint64(n / 2)}
	for _, i := range []int{0, len(all) / 3, len(all) - 2, len(all) - 1} {
		if i >= 0 && i < len(all) {
			b = append(b, all[i], all[i]-1, all[i]+1)
		}
	}
	return b
}

// uptos are upper bounds to read after since with: none, tight, and one that cuts the room.
func uptos(all []uint64, since uint64) []uint64 {
	u := []uint64{0, since, since + 1}
	if len(all) > 0 {
		u = append(u, all[len(all)/2], all[len(all)-1]-1)
	}
	return u
}

// latest, before and after are the brute-force answers.
func latest(all []uint64, limit int, upto uint64) []uint64 {
	var in []uint64
	for _, id := range all {
		if upto == 0 || id <= upto {
			in = append(in, id)
		}
	}
	return in[max(0, len(in)-limit):]
}

func before(all []uint64, b uint64, limit int) []uint64 {
	switch b {
	case 0:
		return latest(all, limit, 0)
	case 1:
		return nil
	}
	return latest(all, limit, b-1)
}

func after(all []uint64, since, upto uint64, m int) ([]uint64, bool) {
	var in []uint64
	for _, id := range all {
		if id > since && (upto == 0 || id <= upto) {
			in = append(in, id)
		}
	}
	return in[:min(m, len(in))], len(in) > m
}

func check(t *testing.T, name string, got []Stored, err error, want []uint64, data map[uint64]string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	gotIDs := make([]uint64, len(got))
	for i, ev := range got {
		gotIDs[i] = ev.ID
		if string(ev.Data) != data[ev.ID] {
			t.Fatalf("%s: event %d data %s, want %s", name, ev.ID, ev.Data, data[ev.ID])
		}
	}
	if !slices.Equal(gotIDs, want) && (len(gotIDs) != 0 || len(want) != 0) {
		t.Fatalf("%s:\n got %v\nwant %v", name, gotIDs, want)
	}
}
