package main

import "testing"

func TestTrack(t *testing.T) {
	cases := []struct {
		name              string
		seqs              []uint64
		sent              uint64
		dup, late, missed uint64
	}{
		{"in order", []uint64{1, 2, 3, 4}, 4, 0, 0, 0},
		{"tail lost", []uint64{1, 2}, 4, 0, 0, 2},
		{"middle lost", []uint64{1, 2, 4, 5}, 5, 0, 0, 1},
		{"head lost", []uint64{3, 4}, 4, 0, 0, 2},
		{"swap", []uint64{1, 3, 2, 4}, 4, 0, 1, 0},
		{"late after many", []uint64{1, 5, 2, 3, 4}, 5, 0, 3, 0},
		{"duplicate", []uint64{1, 2, 2, 3}, 3, 1, 0, 0},
		{"duplicate of late", []uint64{2, 1, 1}, 2, 1, 1, 0},
		{"duplicate top", []uint64{1, 3, 3}, 3, 1, 0, 1},
		{"nothing", nil, 3, 0, 0, 3},
		{"beyond acked", []uint64{1, 2, 3, 4}, 2, 0, 0, 0},
		{"gap beyond acked", []uint64{1, 4}, 2, 0, 0, 1},
		{"zero", []uint64{0, 1}, 1, 1, 0, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var tr track
			var dup, lateN uint64
			for _, s := range c.seqs {
				switch tr.add(s) {
				case duplicated:
					dup++
				case late:
					lateN++
				}
			}
			if missed := tr.missing(c.sent); dup != c.dup || lateN != c.late || missed != c.missed {
				t.Fatalf("dup %d late %d missed %d, want %d %d %d", dup, lateN, missed, c.dup, c.late, c.missed)
			}
		})
	}
}
