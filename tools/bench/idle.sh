#!/usr/bin/env bash
# idle.sh: one idle run against a fresh gateway process: CLIENTS connections joined to ROOMS
# rooms, held for WAIT, and the server's RSS per connection from /proc (the bench's idle mode).
#
#   GATEWAY_BIN=bin/gateway BENCH_BIN=bin/bench ./idle.sh [VAR=value ...]
#
# VAR=value pairs go to the gateway's environment (e.g. GOMEMLIMIT=192MiB). Options, with
# defaults: CLIENTS=10000 ROOMS=10 WAIT=10s WORK_DIR=(a new temp directory).
# DIAG=1 also saves, 8 s into a 40 s wait, the gateway's heap profile, goroutines and Go
# runtime metrics, then the same after two forced collections (heap.pprof, metrics.after):
# the bench's RSS figure of a DIAG run is taken after those collections, so it is not the
# figure to report; take that from a run without DIAG.
set -euo pipefail
: "${GATEWAY_BIN:?set GATEWAY_BIN}" "${BENCH_BIN:?set BENCH_BIN}"
: "${CLIENTS:=10000}" "${ROOMS:=10}" "${WAIT:=10s}" "${DIAG:=0}"
work=${WORK_DIR:-$(mktemp -d /tmp/bench-idle.XXXXXX)}
mkdir -p "$work"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
port=$((20000 + RANDOM % 10000)) debug=$((30000 + RANDOM % 10000))
env "$@" "$GATEWAY_BIN" --addr "127.0.0.1:$port" --data-dir "$work/data" --message-rate 0 --command-rate 0 \
	--debug-addr "127.0.0.1:$debug" --embedded-nats-addr 127.0.0.1:0 >"$work/server.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true' EXIT
for _ in $(seq 300); do
	curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break
	sleep 0.1
done
[[ $DIAG == 1 ]] && WAIT=40s
echo "== idle: $CLIENTS clients, $ROOMS rooms, gateway pid $pid ($*); results in $work; $(uptime)" >&2
"$BENCH_BIN" --target chat --urls "ws://127.0.0.1:$port" --pid "$pid" --mode idle \
	--clients "$CLIENTS" --rooms "$ROOMS" --duration "$WAIT" >"$work/idle.json" 2>"$work/bench.log" &
bench=$!
if [[ $DIAG == 1 ]]; then
	until grep -q " idle " "$work/bench.log" 2>/dev/null || ! kill -0 $bench 2>/dev/null; do sleep 0.5; done
	sleep 8
	get() { curl -fs -o "$work/$2" "http://127.0.0.1:$1" || echo "could not get $1" >&2; }
	grep -E "VmRSS" "/proc/$pid/status" >"$work/status.before"
	get "$debug/debug/pprof/heap" heap.nogc.pprof
	get "$port/metrics" metrics.before
	get "$debug/debug/pprof/goroutine?debug=1" goroutines.txt
	get "$debug/debug/pprof/heap?gc=1" heap.pprof
	get "$debug/debug/pprof/heap?gc=1" heap.pprof
	get "$port/metrics" metrics.after
	grep -E "VmRSS" "/proc/$pid/status" >"$work/status.after"
fi
wait $bench
tail -n 1 "$work/bench.log" >&2
echo "== end: $(uptime)" >&2
