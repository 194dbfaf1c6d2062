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
bin=$1; shift
work=$(mktemp -d /tmp/iw.XXXXXX)
port=$((20000 + RANDOM % 10000)); dbg=$((30000 + RANDOM % 10000))
$bin --addr "127.0.0.1:$port" --data-dir "$work/data" --message-rate 0 --command-rate 0 --debug-addr 127.0.0.1:$dbg --embedded-nats-addr 127.0.0.1:0 "$@" >"$work/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf $work' EXIT
for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
"$BENCH_BIN" --target chat --urls "ws://127.0.0.1:$port" --pid "$pid" --mode idle --clients ${CLIENTS:-10000} --rooms 10 --duration ${WAIT:-60s} >"$work/idle.json" 2>"$work/bench.log" &
bench=$!
until grep -q " idle " "$work/bench.log" 2>/dev/null; do sleep 0.2; done
for i in $(seq ${N:-14}); do
  m=$(curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^go_memstats_(heap_inuse|heap_alloc|stack_inuse|heap_released|heap_idle|sys)_bytes|^go_gc_duration_seconds_count|^go_goroutines' | sed -E 's/^go_memstats_//; s/_bytes//; s/go_gc_duration_seconds_count/gcs/' | awk '{ if ($1=="gcs"||$1=="go_goroutines") printf "%s=%d ", $1, $2; else printf "%s=%.1f ", $1, $2/1e6 }')
  echo "$((i*4))s rss=$(awk '/VmRSS/{printf "%.1f", $2/1000}' /proc/$pid/status) $m"
  sleep 4
done
wait $bench; tail -1 $work/bench.log
