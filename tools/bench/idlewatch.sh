#!/usr/bin/env bash
# idlewatch.sh: how an idle gateway's memory moves after a join storm.
#
#   BENCH_BIN=bin/bench tools/bench/idlewatch.sh bin/gateway [gateway flags...]
#
# CLIENTS (10,000) connections join ten rooms and stay for WAIT (60s); every 4 s, N (14)
# times, prints the gateway's RSS (/proc) and Go's heap figures (/metrics). A heap that
# grows while nothing happens is something allocating on a timer.
set -uo pipefail
: "${BENCH_BIN:?set BENCH_BIN}"
source "$(dirname "$0")/gateway.sh"
start_gateway "$1" iw "${@:2}"
"$BENCH_BIN" --target chat --urls "ws://127.0.0.1:$port" --pid "$pid" --mode idle --clients ${CLIENTS:-10000} --rooms 10 --duration ${WAIT:-60s} >"$work/idle.json" 2>"$work/bench.log" &
bench=$!
until grep -q " idle " "$work/bench.log" 2>/dev/null; do sleep 0.2; done
for i in $(seq ${N:-14}); do
  m=$(curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^go_memstats_(heap_inuse|heap_alloc|stack_inuse|heap_released|heap_idle|sys)_bytes|^go_gc_duration_seconds_count|^go_goroutines' | sed -E 's/^go_memstats_//; s/_bytes//; s/go_gc_duration_seconds_count/gcs/' | awk '{ if ($1=="gcs"||$1=="go_goroutines") printf "%s=%d ", $1, $2; else printf "%s=%.1f ", $1, $2/1e6 }')
  echo "$((i*4))s rss=$(awk '/VmRSS/{printf "%.1f", $2/1000}' /proc/$pid/status) $m"
  sleep 4
done
wait $bench; tail -1 $work/bench.log
