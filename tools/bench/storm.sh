#!/usr/bin/env bash
# storm.sh: a join storm against a fresh gateway process, with where its CPU went.
#
#   BENCH_BIN=bin/bench tools/bench/storm.sh bin/gateway [gateway flags...]
#
# CLIENTS (10,000) connections join ten rooms through the bench's idle mode (WAIT, 3s, held
# after). Prints the bench's line (time to join all, RSS per connection) and, over the
# connect phase only, the gateway's CPU (and its kernel share), the bytes and write calls
# it made (/proc/PID/io), and the bench's CPU. PROF=FILE also saves a CPU profile of the
# gateway (PROFDELAY s in, PROFSECS long); BENCHFLAGS go to the bench (--cpuprofile FILE).
set -uo pipefail
: "${BENCH_BIN:?set BENCH_BIN}"
source "$(dirname "$0")/gateway.sh"
start_gateway "$1" storm "${@:2}"
io() { awk -v k=$1 '$1==k":"{print $2}' /proc/$pid/io; }
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
sys() { awk '{print $15}' /proc/$1/stat; }
t0=$(cpu $pid); y0=$(sys $pid); w0=$(io wchar); s0=$(io syscw)
[[ -n ${PROF:-} ]] && { (sleep ${PROFDELAY:-2}; curl -fs -o "$PROF" "http://127.0.0.1:$dbg/debug/pprof/profile?seconds=${PROFSECS:-8}") & prof=$!; }
"$BENCH_BIN" --target chat --urls "ws://127.0.0.1:$port" --pid "$pid" --mode idle --clients ${CLIENTS:-10000} --rooms 10 --duration ${WAIT:-3s} ${BENCHFLAGS:-} >"$work/idle.json" 2>"$work/bench.log" &
bench=$!
until grep -q " idle " "$work/bench.log" 2>/dev/null || ! kill -0 $bench 2>/dev/null; do sleep 0.1; done
t1=$(cpu $pid); y1=$(sys $pid); by=$(sys $bench); w1=$(io wchar); s1=$(io syscw); b1=$(cpu $bench)
wait $bench
grep -o "joined in.*" $work/bench.log | head -1
echo "connect phase: gateway cpu $(( (t1-t0) ))0 ms (sys $((y1-y0))0), wrote $(( (w1-w0)/1000000 )) MB in $((s1-s0)) writes; bench cpu ${b1}0 ms (sys ${by}0)"
[[ -n ${prof:-} ]] && wait $prof
