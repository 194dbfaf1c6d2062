#!/usr/bin/env bash
# compare.sh: the same fan-out load on each chat server in turn, A B A B ..., every run on a
# freshly started server on a free loopback port, then a table. See README.md.
#
#   GATEWAY_BIN=... CENTRIFUGO_BIN=... GOCHAT_BIN=... ./compare.sh
#
# A server whose variable is unset is skipped. Load shape and options, with defaults:
#   CLIENTS=1000 ROOMS=10 PUBLISHERS=10 RATE=2000 SIZE=100 DURATION=10s WARMUP=2s
#   RATES="$RATE"      offered rates (msg/s, space-separated), each run on every server in turn
#   ROUNDS=2           load runs per server and rate, interleaved A B A B
#   LIGHT_RATE=        light load, one run a round after the load runs: LIGHT_CLIENTS=100
#                      clients in one room, one publisher, at this rate (the issue's 100
#                      msg/s); its row gives p50 / p99. Unset or 0 skips it
#   IDLE_CLIENTS=$CLIENTS IDLE_WAIT=10s   idle runs (server RSS per connection), one a
#                      round after the load runs; IDLE_CLIENTS=0 skips them
#   BENCH_ARGS=        more bench flags for every load run, e.g. "--window 20 --rate 0"
#   GATEWAY_ARGS="--addr 127.0.0.1:{port} --data-dir {dir}/data"   ({port}, {dir} filled in)
#   CENTRIFUGO_CONFIG= a config file instead of the built-in one (address and port are set
#                      through CENTRIFUGO_HTTP_SERVER_ADDRESS/_PORT)
#   PIN=1              run servers on CPU 0 and the bench on CPU 1 (taskset)
#   WORK_DIR=          where results and server logs go (default: a new temp directory)
#   BENCH_BIN=         a built bench to use (default: built here into WORK_DIR)
#   PROFILE_RATE=      with the gateway started with --debug-addr 127.0.0.1:{debug}, the
#                      load run at this rate takes a CPU profile of the gateway
#                      (PROFILE_SECONDS=8, from about the start of the measurement: WARMUP
#                      in whole seconds plus 3 s to join) to NAME/cpu.pprof
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
: "${CLIENTS:=1000}" "${ROOMS:=10}" "${PUBLISHERS:=10}" "${RATE:=2000}" "${SIZE:=100}"
: "${DURATION:=10s}" "${WARMUP:=2s}" "${ROUNDS:=2}" "${IDLE_CLIENTS:=$CLIENTS}" "${IDLE_WAIT:=10s}"
: "${RATES:=$RATE}" "${PROFILE_RATE:=}" "${PROFILE_SECONDS:=8}" "${LIGHT_RATE:=0}" "${LIGHT_CLIENTS:=100}"
gateway_args='--addr 127.0.0.1:{port} --data-dir {dir}/data'
: "${BENCH_ARGS:=}" "${GATEWAY_ARGS:=$gateway_args}"
work=${WORK_DIR:-$(mktemp -d /tmp/bench-compare.XXXXXX)}
mkdir -p "$work"

# Every connection is a file descriptor in the bench and in the server.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
echo "results in $work; open files limit $(ulimit -n)" >&2

pin_server=() pin_bench=()
if [[ ${PIN:-0} == 1 ]]; then
	pin_server=(taskset -c 0) pin_bench=(taskset -c 1)
fi

targets=()
want() { # want TARGET VARIABLE: add TARGET when VARIABLE names an executable
	local target=$1 var=$2 bin=${!2:-}
	if [[ -z $bin ]]; then
		echo "skip $target: $var is not set" >&2
	elif [[ ! -x $bin ]]; then
		echo "skip $target: $var=$bin is not an executable file" >&2
	elif [[ $target == gochat && $ROOMS != 1 ]]; then
		echo "skip gochat: it has a single room, and this load has ROOMS=$ROOMS (set ROOMS=1)" >&2
	else
		targets+=("$target")
	fi
}
want chat GATEWAY_BIN
want centrifugo CENTRIFUGO_BIN
want gochat GOCHAT_BIN
if ((${#targets[@]} == 0)); then
	echo "no server to run: set GATEWAY_BIN, CENTRIFUGO_BIN or GOCHAT_BIN" >&2
	exit 1
fi

bench=${BENCH_BIN:-$work/bench}
[[ -n ${BENCH_BIN:-} ]] || go build -C "$here" -o "$bench" .

free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 10000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			echo "$port"
			return
		fi
	done
}

# Centrifugo in memory, with history, recovery, presence and join/leave events: what a chat
# room needs. Clients may connect, subscribe and publish anonymously.
centrifugo_config() {
	cat <<'EOF'
{
  "log": { "level": "warn" },
  "client": { "allow_anonymous_connect_without_token": true, "allowed_origins": ["*"] },
  "engine": { "type": "memory" },
  "channel": { "namespaces": [ {
    "name": "chat", "presence": true, "join_leave": true, "force_push_join_leave": true,
    "history_size": 100, "history_ttl": "300s", "force_recovery": true,
    "allow_subscribe_for_anonymous": true, "allow_subscribe_for_client": true,
    "allow_publish_for_anonymous": true, "allow_publish_for_subscriber": true,
    "allow_history_for_anonymous": true, "allow_history_for_subscriber": true,
    "allow_presence_for_anonymous": true, "allow_presence_for_subscriber": true
  } ] }
}
EOF
}

# start TARGET DIR: start a fresh server logging to DIR; sets pid and url.
start() {
	local target=$1 dir=$2 port args
	port=$(free_port) debug=$(free_port)
	mkdir -p "$dir"
	case $target in
	chat)
		args=${GATEWAY_ARGS//\{port\}/$port}
		args=${args//\{debug\}/$debug}
		args=${args//\{dir\}/$dir}
		# shellcheck disable=SC2086 # GATEWAY_ARGS is split into words on purpose
		"${pin_server[@]}" "$GATEWAY_BIN" $args >"$dir/server.log" 2>&1 &
		;;
	centrifugo)
		local config=${CENTRIFUGO_CONFIG:-$dir/config.json}
		[[ -n ${CENTRIFUGO_CONFIG:-} ]] || centrifugo_config >"$config"
		CENTRIFUGO_HTTP_SERVER_ADDRESS=127.0.0.1 CENTRIFUGO_HTTP_SERVER_PORT=$port \
			"${pin_server[@]}" "$CENTRIFUGO_BIN" -c "$config" >"$dir/server.log" 2>&1 &
		;;
	gochat) # it always listens on every interface; it has no flag for the address
		"${pin_server[@]}" "$GOCHAT_BIN" -port "$port" -event-log-path "$dir/events.log" \
			-flush-interval-secs 1 >"$dir/server.log" 2>&1 &
		;;
	esac
	pid=$! url=ws://127.0.0.1:$port
	for _ in $(seq 300); do
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$target exited at start; the end of $dir/server.log:" >&2
			tail -n 20 "$dir/server.log" >&2
			exit 1
		fi
		if [[ $target == chat ]] && command -v curl >/dev/null; then
			curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && return
		elif (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return
		fi
		sleep 0.1
	done
	echo "$target did not get ready on port $port in 30s; see $dir/server.log" >&2
	exit 1
}

# stop the server started last, if it runs: SIGTERM, then SIGKILL after 15s.
stop() {
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for _ in $(seq 150); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	pid=
}
pid=
trap stop EXIT

# profile NAME: about when the measurement starts (the clients join, then warm up), a CPU
# profile of the gateway from its --debug-addr.
profile() {
	sleep "$((${WARMUP%s} + 3))"
	curl -fs -o "$work/$1/cpu.pprof" "http://127.0.0.1:$debug/debug/pprof/profile?seconds=$PROFILE_SECONDS" ||
		echo "no profile: is the gateway started with --debug-addr 127.0.0.1:{debug}?" >&2
}

# run_one TARGET NAME FLAGS...: the bench on a fresh server; its summary goes to NAME.json.
# With PROFILE=1 (set by the caller) and the chat target, the gateway is profiled meanwhile.
run_one() {
	local target=$1 name=$2 prof=
	shift 2
	start "$target" "$work/$name"
	echo "== $name: $url (pid $pid); $(uptime)" >&2
	if [[ ${PROFILE:-0} == 1 && $target == chat ]]; then
		profile "$name" &
		prof=$!
	fi
	# shellcheck disable=SC2086 # BENCH_ARGS is split into words on purpose
	if "${pin_bench[@]}" "$bench" --target "$target" --urls "$url" --pid "$pid" "$@" \
		>"$work/$name.json" 2>"$work/$name/bench.log"; then
		tail -n 1 "$work/$name/bench.log" >&2
	else
		echo "bench failed; the end of $work/$name/bench.log:" >&2
		tail -n 5 "$work/$name/bench.log" >&2
		rm -f "$work/$name.json"
	fi
	[[ -z $prof ]] || wait "$prof" || true
	stop
}

for rate in $RATES; do
	load=(--clients "$CLIENTS" --rooms "$ROOMS" --publishers "$PUBLISHERS" --rate "$rate"
		--size "$SIZE" --duration "$DURATION" --warmup "$WARMUP")
	PROFILE=0
	[[ $rate != "$PROFILE_RATE" ]] || PROFILE=1
	for round in $(seq "$ROUNDS"); do
		for t in "${targets[@]}"; do
			# shellcheck disable=SC2086
			PROFILE=$PROFILE run_one "$t" "$t-load-$rate-$round" "${load[@]}" $BENCH_ARGS
		done
	done
done
for round in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		((LIGHT_RATE > 0)) || break
		# shellcheck disable=SC2086
		run_one "$t" "$t-light-$round" --clients "$LIGHT_CLIENTS" --rooms 1 --publishers 1 --rate "$LIGHT_RATE" \
			--size "$SIZE" --duration "$DURATION" --warmup "$WARMUP" $BENCH_ARGS
	done
done
for round in $(seq "$ROUNDS"); do
	for t in "${targets[@]}"; do
		((IDLE_CLIENTS > 0)) || break
		run_one "$t" "$t-idle-$round" --mode idle --clients "$IDLE_CLIENTS" --rooms "$ROOMS" --duration "$IDLE_WAIT"
	done
done

echo
echo "load: $CLIENTS clients, $ROOMS rooms, $PUBLISHERS publishers, $RATES msg/s, $SIZE bytes, $DURATION after $WARMUP warm-up $BENCH_ARGS; light: $LIGHT_CLIENTS clients, 1 room, 1 publisher, $LIGHT_RATE msg/s; idle: $IDLE_CLIENTS clients for $IDLE_WAIT"
files=()
for t in "${targets[@]}"; do
	for f in "$work/$t"-*.json; do
		[[ -e $f ]] && files+=("$f")
	done
done
"$bench" table "${files[@]}"
echo
"$bench" compare "${files[@]}"
