# gateway.sh, sourced by storm.sh and idlewatch.sh: start_gateway BIN PREFIX [flags...] starts
# a fresh gateway process (embedded NATS, rate limits off, a debug listener) in a new temp
# directory, stops and removes it on exit, and waits until it is ready. It sets work, port,
# dbg (the debug listener's port) and pid.
start_gateway() {
	local bin=$1 prefix=$2
	shift 2
	work=$(mktemp -d "/tmp/$prefix.XXXXXX")
	port=$((20000 + RANDOM % 10000)) dbg=$((30000 + RANDOM % 10000))
	"$bin" --addr "127.0.0.1:$port" --data-dir "$work/data" --message-rate 0 --command-rate 0 \
		--debug-addr "127.0.0.1:$dbg" --embedded-nats-addr 127.0.0.1:0 "$@" >"$work/server.log" 2>&1 &
	pid=$!
	trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
	for _ in $(seq 300); do curl -fs -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
}
