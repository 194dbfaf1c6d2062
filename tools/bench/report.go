package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// summary is the JSON printed at the end of a run; LoadResult or IdleResult holds what
// depends on the mode.
type summary struct {
	Target        string   `json:"target"`
	Mode          string   `json:"mode"`
	URLs          []string `json:"urls"`
	Clients       int      `json:"clients"`
	Rooms         int      `json:"rooms"`
	Connected     uint64   `json:"connected"`
	ConnectErrors uint64   `json:"connect_errors"`
	ConnectS      float64  `json:"connect_s"` // from the first dial until every client joined
	Disconnects   uint64   `json:"disconnects"`
	*LoadResult
	*IdleResult
	Server *serverUsage   `json:"server,omitempty"`
	Errors map[string]int `json:"errors,omitempty"`
}

type LoadResult struct {
	Publishers    int     `json:"publishers"`
	RateAsked     float64 `json:"rate_asked"`
	Window        int     `json:"window,omitempty"`
	Size          int     `json:"size"`
	WarmupS       float64 `json:"warmup_s"`
	DurationS     float64 `json:"duration_s"`
	Published     uint64  `json:"published"`
	PublishedPerS float64 `json:"published_per_s"`
	Acked         uint64  `json:"acked"`
	Rejected      uint64  `json:"rejected"`
	Unanswered    uint64  `json:"unanswered"`
	Expected      uint64  `json:"expected"`
	Delivered     uint64  `json:"delivered"`
	DeliveredPerS float64 `json:"delivered_per_s"`
	Lost          uint64  `json:"lost"`
	Dup           uint64  `json:"dup"`
	OutOfOrder    uint64  `json:"out_of_order"`
	Misrouted     uint64  `json:"misrouted"`
	PublishersCut uint64  `json:"publishers_cut"` // publishers whose connection the server closed
	Drained       bool    `json:"drained"`        // every expected delivery and answer came before the drain ended
	DrainS        float64 `json:"drain_s"`
	Latency       latency `json:"latency_ms"`
	BenchCores    float64 `json:"bench_cpu_cores"`
	MachineCores  float64 `json:"machine_cpu_cores"` // every process and the kernel, from /proc/stat
}

type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

type IdleResult struct {
	WaitS        float64 `json:"wait_s"`
	RSSPerConnKB float64 `json:"rss_kb_per_conn"` // (RSS at the end - RSS before connecting) / connected
}

// serverUsage is read from /proc/PID: before connecting, once all joined, and at the end
// (before the bench closes its connections). CPU is over the measurement or the idle wait.
type serverUsage struct {
	PID            int     `json:"pid"`
	RSSStartMB     float64 `json:"rss_mb_start"`
	RSSConnectedMB float64 `json:"rss_mb_connected"`
	RSSEndMB       float64 `json:"rss_mb_end"`
	CPUS           float64 `json:"cpu_s"`
	CPUCores       float64 `json:"cpu_cores"`
	CPUTotalS      float64 `json:"cpu_total_s"` // from before connecting to the end
}

func newServerUsage(pid int, before, connected, end, from, to usage, span time.Duration) *serverUsage {
	if pid == 0 || !before.ok || !end.ok {
		return nil
	}
	cpu := (to.cpu - from.cpu).Seconds()
	return &serverUsage{
		PID: pid, RSSStartMB: before.rssMB(), RSSConnectedMB: connected.rssMB(), RSSEndMB: end.rssMB(),
		CPUS: cpu, CPUCores: cpu / span.Seconds(), CPUTotalS: (end.cpu - before.cpu).Seconds(),
	}
}

// human is the one-line account of a summary.
func (s summary) human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %d/%d clients joined in %.1fs (%d rooms)", s.Target, s.Mode, s.Connected, s.Clients, s.ConnectS, s.Rooms)
	if l := s.LoadResult; l != nil {
		fmt.Fprintf(&b, "; %d publishers, %.0f msg/s asked, %.0f sent; delivered %d of %d (%.0f/s); lost %d, dup %d, out of order %d",
			l.Publishers, l.RateAsked, l.PublishedPerS, l.Delivered, l.Expected, l.DeliveredPerS, l.Lost, l.Dup, l.OutOfOrder)
		if !l.Drained {
			fmt.Fprintf(&b, " (still missing after the %.1fs drain: %d deliveries, %d answers)", l.DrainS, l.Expected-min(l.Delivered, l.Expected), l.Unanswered)
		}
		fmt.Fprintf(&b, "; latency ms p50 %.2f p99 %.2f max %.1f; machine %.2f cores busy, bench %.2f", l.Latency.P50, l.Latency.P99, l.Latency.Max, l.MachineCores, l.BenchCores)
	}
	if i := s.IdleResult; i != nil && s.Server != nil {
		fmt.Fprintf(&b, "; server RSS %.0f -> %.0f MB: %.1f KB per connection", s.Server.RSSStartMB, s.Server.RSSEndMB, i.RSSPerConnKB)
	}
	if s.Server != nil {
		fmt.Fprintf(&b, "; server %.2f cores, %.0f MB", s.Server.CPUCores, s.Server.RSSEndMB)
	}
	if s.Disconnects > 0 || s.ConnectErrors > 0 {
		fmt.Fprintf(&b, "; %d join errors, %d disconnects", s.ConnectErrors, s.Disconnects)
	}
	return b.String()
}

// readSummaries reads the summaries in files, in order.
func readSummaries(files []string) ([]summary, error) {
	var sums []summary
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var s summary
		if err := json.Unmarshal(data, &s); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		sums = append(sums, s)
	}
	return sums, nil
}

// usualShape is the shape (shapeOf) most load runs have; of two with as many, the larger
// load. Runs of other shapes (compare.sh's light load) are reported apart.
func usualShape(sums []summary) string {
	type count struct{ runs, clients int }
	shapes := map[string]count{}
	for _, s := range sums {
		if s.LoadResult != nil {
			c := shapes[shapeOf(s)]
			shapes[shapeOf(s)] = count{c.runs + 1, s.Clients}
		}
	}
	var usual string
	var most count
	for sh, c := range shapes {
		if cmp.Or(cmp.Compare(c.runs, most.runs), cmp.Compare(c.clients, most.clients), strings.Compare(usual, sh)) > 0 {
			usual, most = sh, c
		}
	}
	return usual
}

// printTable reads summaries from files and prints every load run, then, by target, the
// medians of delivered/s, p50 and p99 and the lost total over the load runs of the usual
// shape (usualShape), and the median RSS per connection of the idle runs.
func printTable(w io.Writer, files []string) error {
	sums, err := readSummaries(files)
	if err != nil {
		return err
	}
	usual := usualShape(sums)
	byTarget := map[string][]summary{}
	var targets []string
	for _, s := range sums {
		if _, ok := byTarget[s.Target]; !ok {
			targets = append(targets, s.Target)
		}
		byTarget[s.Target] = append(byTarget[s.Target], s)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trun\tjoined\trooms\tsent/s\tdelivered/s\tp50 ms\tp99 ms\tmax ms\tlost\tdup\tooo\tserver cores\tbench cores\tother cores\t")
	for _, t := range targets {
		run := 0
		for _, s := range byTarget[t] {
			if l := s.LoadResult; l != nil {
				run++
				fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d\t%.0f\t%.0f\t%.2f\t%.2f\t%.1f\t%d\t%d\t%d\t%s\t%.2f\t%s\t\n", t, run, s.Connected, s.Clients, s.Rooms,
					l.PublishedPerS, l.DeliveredPerS, l.Latency.P50, l.Latency.P99, l.Latency.Max, l.Lost, l.Dup, l.OutOfOrder, cores(s.Server), l.BenchCores, other(s))
			}
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tload runs\tdelivered/s (median)\tp50 ms\tp99 ms\tlost (all runs)\tRSS/conn KB\t")
	for _, t := range targets {
		var rate, p50, p99, rss []float64
		var lost uint64
		for _, s := range byTarget[t] {
			if l := s.LoadResult; l != nil && shapeOf(s) == usual {
				rate, p50, p99 = append(rate, l.DeliveredPerS), append(p50, l.Latency.P50), append(p99, l.Latency.P99)
				lost += l.Lost
			}
			if s.IdleResult != nil && s.Server != nil {
				rss = append(rss, s.RSSPerConnKB)
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t\n", t, len(rate), median(rate, "%.0f"), median(p50, "%.2f"), median(p99, "%.2f"), lost, median(rss, "%.1f"))
	}
	return tw.Flush()
}

// other is the CPU the machine spent on neither the server nor the bench: the kernel's
// loopback work, and whatever else ran. Much of it marks a disturbed run.
func other(s summary) string {
	if s.Server == nil || s.MachineCores == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", s.MachineCores-s.Server.CPUCores-s.BenchCores)
}

func cores(s *serverUsage) string {
	if s == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f", s.CPUCores)
}

func median(v []float64, format string) string {
	if len(v) == 0 {
		return "-"
	}
	v = slices.Sorted(slices.Values(v))
	m := v[len(v)/2]
	if len(v)%2 == 0 {
		m = (v[len(v)/2-1] + m) / 2
	}
	return fmt.Sprintf(format, m)
}

// printCompare reads summaries from files and prints them as a Markdown table, one row per
// offered rate and round, the targets side by side in the order they first appear: for
// load runs delivered/s, lost, p99, publishers cut, sent/s and the server's CPU cores; for
// idle runs the server's RSS per connection and the time to join every client. Load runs
// of another shape than the usual (usualShape; compare.sh's light load) come after the
// others, their shape in the row's name and p50 / p99 in their cells.
func printCompare(w io.Writer, files []string) error {
	type key struct {
		rate  float64 // -1 for idle runs
		shape string  // "" for load runs of the usual shape and idle runs
		round int
	}
	sums, err := readSummaries(files)
	if err != nil {
		return err
	}
	usual := usualShape(sums)
	cells := map[key]map[string]string{}
	seen := map[string]int{} // runs per target, rate and shape, to number the rounds
	var keys []key
	var targets []string
	for _, s := range sums {
		if !slices.Contains(targets, s.Target) {
			targets = append(targets, s.Target)
		}
		k, cell := key{rate: -1}, idleCell(s)
		if l := s.LoadResult; l != nil {
			k.rate, cell = l.RateAsked, loadCell(s)
			if sh := shapeOf(s); sh != usual {
				k.shape, cell = sh, shapeCell(s)
			}
		}
		id := fmt.Sprintf("%s %g %s", s.Target, k.rate, k.shape)
		seen[id]++
		k.round = seen[id]
		if cells[k] == nil {
			cells[k] = map[string]string{}
			keys = append(keys, k)
		}
		cells[k][s.Target] = cell
	}
	group := func(k key) int { // the usual load, then other shapes, then idle
		switch {
		case k.rate == -1:
			return 2
		case k.shape != "":
			return 1
		}
		return 0
	}
	slices.SortStableFunc(keys, func(a, b key) int {
		return cmp.Or(cmp.Compare(group(a), group(b)), strings.Compare(a.shape, b.shape),
			cmp.Compare(a.rate, b.rate), a.round-b.round)
	})
	fmt.Fprint(w, "| offered msg/s (round) |")
	for _, t := range targets {
		fmt.Fprintf(w, " %s: delivered/s, lost, p99, publishers cut, sent/s, server cores |", t)
	}
	fmt.Fprint(w, "\n|---|", strings.Repeat("---|", len(targets)), "\n")
	for _, k := range keys {
		name := fmt.Sprintf("%.0f (%d)", k.rate, k.round)
		switch {
		case k.rate == -1:
			name = fmt.Sprintf("idle (%d): RSS per connection, time to join all", k.round)
		case k.shape != "":
			name = fmt.Sprintf("%.0f, %s (%d): p50 / p99, delivered/s, lost, server cores", k.rate, k.shape, k.round)
		}
		fmt.Fprintf(w, "| %s |", name)
		for _, t := range targets {
			fmt.Fprintf(w, " %s |", cmp.Or(cells[k][t], "-"))
		}
		fmt.Fprintln(w)
	}
	return nil
}

// shapeOf names a load run's shape: its clients, rooms and publishers.
func shapeOf(s summary) string {
	var pubs int
	if s.LoadResult != nil {
		pubs = s.LoadResult.Publishers
	}
	return fmt.Sprintf("%s in %s, %s", plural(s.Clients, "client"), plural(s.Rooms, "room"), plural(pubs, "publisher"))
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// shapeCell is a load run of an unusual shape (light load): what matters there is latency.
func shapeCell(s summary) string {
	l := s.LoadResult
	return fmt.Sprintf("%.2f / %.2f ms, %.0f, %d, %s cores", l.Latency.P50, l.Latency.P99, l.DeliveredPerS, l.Lost, cores(s.Server))
}

func loadCell(s summary) string {
	l := s.LoadResult
	cell := fmt.Sprintf("%.0f, %d, %.0f ms, %d, %.0f, %s cores", l.DeliveredPerS, l.Lost, l.Latency.P99, l.PublishersCut, l.PublishedPerS, cores(s.Server))
	if s.Connected < uint64(s.Clients) {
		cell += fmt.Sprintf(" (%d/%d joined)", s.Connected, s.Clients)
	}
	return cell
}

func idleCell(s summary) string {
	if s.IdleResult == nil || s.Server == nil {
		return "-"
	}
	return fmt.Sprintf("%.1f KB, %.1f s (%d/%d joined)", s.RSSPerConnKB, s.ConnectS, s.Connected, s.Clients)
}
