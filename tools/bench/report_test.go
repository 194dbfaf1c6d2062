package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompareKeepsLightLoadApart: runs of another shape than most (compare.sh's light load)
// get rows of their own after the usual ones, named by their shape, with p50 / p99; idle
// runs come last.
func TestCompareKeepsLightLoadApart(t *testing.T) {
	dir := t.TempDir()
	var files []string
	write := func(name string, s summary) {
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, name+".json")
		if err := os.WriteFile(f, data, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	load := func(target string, clients, rooms, pubs int, rate, p50, p99 float64) summary {
		return summary{Target: target, Clients: clients, Rooms: rooms, Connected: uint64(clients),
			LoadResult: &LoadResult{Publishers: pubs, RateAsked: rate, DeliveredPerS: rate * 100,
				Latency: latency{P50: p50, P99: p99}}}
	}
	// Files in compare.sh's order: by target, then by name (idle, light, load).
	for _, target := range []string{"chat", "centrifugo"} {
		write(target+"-idle-1", summary{Target: target, Clients: 10, Connected: 10, ConnectS: 1.5,
			IdleResult: &IdleResult{}, Server: &serverUsage{RSSStartMB: 10, RSSEndMB: 11}})
		write(target+"-light-1", load(target, 100, 1, 1, 100, 1.25, 2.5))
		write(target+"-load-3000-1", load(target, 1000, 10, 10, 3000, 20, 50))
		write(target+"-load-2000-1", load(target, 1000, 10, 10, 2000, 15, 40))
	}
	var out strings.Builder
	if err := printCompare(&out, files); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[2:] {
		name, _, _ := strings.Cut(strings.TrimPrefix(line, "| "), " |")
		rows = append(rows, name)
	}
	want := []string{
		"2000 (1)",
		"3000 (1)",
		"100, 100 clients in 1 room, 1 publisher (1): p50 / p99, delivered/s, lost, server cores",
		"idle (1): RSS per connection, time to join all",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("rows:\n%s\nwant:\n%s\nthe table:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"), out.String())
	}
	if !strings.Contains(out.String(), "| 1.25 / 2.50 ms, 10000, 0, ") {
		t.Fatalf("the light row has no p50 / p99:\n%s", out.String())
	}

	// The table's medians are over the usual load alone: 2 runs a target, p50 the middle
	// of 15 and 20 (with the light run, 1.25 would pull it to 15).
	out.Reset()
	if err := printTable(&out, files); err != nil {
		t.Fatal(err)
	}
	medians := strings.Fields(out.String()[strings.LastIndex(out.String(), "chat "):])
	if len(medians) < 6 || medians[1] != "2" || medians[3] != "17.50" {
		t.Fatalf("chat's medians %q, want 2 runs with p50 17.50:\n%s", medians, out.String())
	}
}
