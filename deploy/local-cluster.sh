#!/usr/bin/env bash
# Runs chathub scaled out on this machine, every process on 127.0.0.1:
#   three natsembed nodes forming one NATS cluster with JetStream,
#   three gateways using all three nodes (--stream-replicas 3),
#   a load balancer in front (HAProxy with /readyz checks, or nginx).
# It waits until everything is ready, prints `ready: http://127.0.0.1:PORT`, and stops
# everything it started on Ctrl-C or SIGTERM (or when one of its processes dies).
#
#   deploy/local-cluster.sh                        # http://127.0.0.1:8080/
#   deploy/local-cluster.sh stop                   # stops what a killed (-9) run left behind
#   LB=nginx LB_PORT=9000 deploy/local-cluster.sh
#   PORT_BASE=20000 BASE_DIR=$(mktemp -d) deploy/local-cluster.sh   # for tests
#
# Settings, from the environment:
#   BASE_DIR        state, logs, rendered configs, binaries     (./data/cluster)
#   FRESH=1         delete BASE_DIR's NATS and gateway state before starting
#   LB              haproxy | nginx | none | auto (auto: haproxy, else nginx; installs
#                   Debian's haproxy with apt-get when neither is there and we are root)
#   PORT_BASE       derive every port from one number: LB PORT_BASE, gateways +1..+3,
#                   NATS clients +11..+13, routes +21..+23, NATS monitoring +31..+33
#   LB_PORT         (8080)  GATEWAY_PORTS ("8081 8082 8083")  NATS_PORTS ("4222 4223 4224")
#   CLUSTER_PORTS   ("6222 6223 6224")  MONITOR_PORTS ("8222 8223 8224")
#   BUILD=0         use the binaries already in BIN_DIR (default: go build them)
#   BIN_DIR         where the binaries are                     ($BASE_DIR/bin)
#   GATEWAY_ARGS    extra flags for every gateway, split on spaces (e.g. "--log-level debug")
#   NATS_ARGS       extra flags for every natsembed
#   READY_TIMEOUT   seconds to wait for everything to be ready (120)
#   GATEWAY_TRIES   starts of a gateway that exits before it is ready (3)
#   STOP_TIMEOUT    seconds to wait for a process to stop before SIGKILL (20)
#   KEEP_GOING=1    once ready, a process that dies is reported and the others keep running
#                   (for failover tests: kill a gateway or a NATS node, restart it with the
#                   command line saved in $BASE_DIR/run/NAME.cmd)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_DIR=${BASE_DIR:-$ROOT/data/cluster}
LB=${LB:-auto}
BUILD=${BUILD:-1}
FRESH=${FRESH:-0}
READY_TIMEOUT=${READY_TIMEOUT:-120}
GATEWAY_TRIES=${GATEWAY_TRIES:-3}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
KEEP_GOING=${KEEP_GOING:-0}
GATEWAY_ARGS=${GATEWAY_ARGS:-}
NATS_ARGS=${NATS_ARGS:-}
HOST=127.0.0.1

if [[ -n ${PORT_BASE:-} ]]; then
	b=$PORT_BASE
	LB_PORT=${LB_PORT:-$b}
	GATEWAY_PORTS=${GATEWAY_PORTS:-"$((b + 1)) $((b + 2)) $((b + 3))"}
	NATS_PORTS=${NATS_PORTS:-"$((b + 11)) $((b + 12)) $((b + 13))"}
	CLUSTER_PORTS=${CLUSTER_PORTS:-"$((b + 21)) $((b + 22)) $((b + 23))"}
	MONITOR_PORTS=${MONITOR_PORTS:-"$((b + 31)) $((b + 32)) $((b + 33))"}
fi
LB_PORT=${LB_PORT:-8080}
read -r -a gw_ports <<<"${GATEWAY_PORTS:-8081 8082 8083}"
read -r -a nats_ports <<<"${NATS_PORTS:-4222 4223 4224}"
read -r -a cluster_ports <<<"${CLUSTER_PORTS:-6222 6223 6224}"
read -r -a monitor_ports <<<"${MONITOR_PORTS:-8222 8223 8224}"
read -r -a gateway_args <<<"$GATEWAY_ARGS"
read -r -a nats_args <<<"$NATS_ARGS"
mkdir -p "$BASE_DIR"
BASE_DIR=$(cd "$BASE_DIR" && pwd)
BIN_DIR=${BIN_DIR:-$BASE_DIR/bin}
LOG_DIR=$BASE_DIR/logs
RUN_DIR=$BASE_DIR/run

log() { printf '%s local-cluster: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}

# --- processes --------------------------------------------------------------------------

# Started processes, by role: stopped gateways first (they close their sessions, through
# the load balancer, and still need NATS while they do), then the load balancer, then NATS.
gw_pids=() lb_pids=() nats_pids=()
declare -A names=() gw_pid_of=()
started_pid=

# start ROLE NAME CMD...: runs CMD in its own session (so a Ctrl-C in the terminal reaches
# only this script, which then stops things in order), output to $LOG_DIR/NAME.log.
start() {
	local role=$1 name=$2
	shift 2
	setsid "$@" >"$LOG_DIR/$name.log" 2>&1 </dev/null &
	local pid=$!
	started_pid=$pid
	names[$pid]=$name
	echo "$pid" >"$RUN_DIR/$name.pid"
	printf '%q ' "$@" >"$RUN_DIR/$name.cmd"
	case $role in
	gw) gw_pids+=("$pid") ;;
	lb) lb_pids+=("$pid") ;;
	nats) nats_pids+=("$pid") ;;
	esac
	log "started $name (pid $pid): $*"
}

# stop PID...: SIGTERM, then SIGKILL after STOP_TIMEOUT seconds.
# shellcheck disable=SC2317 # called from the EXIT trap
stop() {
	local pid deadline=$((SECONDS + STOP_TIMEOUT))
	for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
	for pid in "$@"; do
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "${names[$pid]} did not stop in ${STOP_TIMEOUT}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || true
		rm -f "$RUN_DIR/${names[$pid]}.pid"
	done
}

cleaned=0
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	((cleaned)) && return
	cleaned=1
	trap '' INT TERM
	local n=$((${#gw_pids[@]} + ${#lb_pids[@]} + ${#nats_pids[@]}))
	((n > 0)) || return 0
	log "stopping $n processes"
	((${#gw_pids[@]} == 0)) || stop "${gw_pids[@]}"
	((${#lb_pids[@]} == 0)) || stop "${lb_pids[@]}"
	((${#nats_pids[@]} == 0)) || stop "${nats_pids[@]}"
	log "stopped; logs are in $LOG_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- checks -----------------------------------------------------------------------------

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# forget PID: drops an exited process from the lists.
forget() {
	local p g=() l=() n=()
	for p in "${gw_pids[@]}"; do [[ $p == "$1" ]] || g+=("$p"); done
	for p in "${lb_pids[@]}"; do [[ $p == "$1" ]] || l+=("$p"); done
	for p in "${nats_pids[@]}"; do [[ $p == "$1" ]] || n+=("$p"); done
	gw_pids=("${g[@]}") lb_pids=("${l[@]}") nats_pids=("${n[@]}")
	rm -f "$RUN_DIR/${names[$1]}.pid"
}

# ok URL: true when URL answers 2xx.
ok() { curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null; }

# alive: every started process still runs; if not, dead_pid is the first that does not.
dead_pid=
alive() {
	local pid
	for pid in "${gw_pids[@]}" "${lb_pids[@]}" "${nats_pids[@]}"; do
		kill -0 "$pid" 2>/dev/null || {
			dead_pid=$pid
			log "${names[$pid]} exited; the end of $LOG_DIR/${names[$pid]}.log:"
			tail -n 20 "$LOG_DIR/${names[$pid]}.log" >&2 || true
			return 1
		}
	done
}

# wait_ok WHAT URL...: polls until every URL answers 2xx, or READY_TIMEOUT passes.
wait_ok() {
	local what=$1 url
	shift
	for url in "$@"; do
		until ok "$url"; do
			alive || die "$what did not come up"
			((SECONDS < ready_deadline)) || die "$what not ready after ${READY_TIMEOUT}s: $url"
			sleep 0.2
		done
	done
	log "$what ready"
}

check_config() {
	((${#gw_ports[@]} == 3 && ${#nats_ports[@]} == 3 && ${#cluster_ports[@]} == 3 &&
		${#monitor_ports[@]} == 3)) ||
		die "GATEWAY_PORTS, NATS_PORTS, CLUSTER_PORTS and MONITOR_PORTS need three ports each"
	command -v curl >/dev/null || die "curl is needed (apt-get install curl)"
	command -v setsid >/dev/null || die "setsid is needed (util-linux)"
	local p ports=("${gw_ports[@]}" "${nats_ports[@]}" "${cluster_ports[@]}" "${monitor_ports[@]}")
	[[ $LB == none ]] || ports+=("$LB_PORT")
	for p in "${ports[@]}"; do
		[[ $p =~ ^[0-9]+$ ]] || die "not a port: $p"
		port_free "$p" || die "port $p on $HOST is in use (left by a killed run? try: $0 stop; or set PORT_BASE or the *_PORTS variables)"
	done
}

# --- load balancer ----------------------------------------------------------------------

pick_lb() {
	case $LB in
	haproxy | nginx | none) ;;
	auto)
		if command -v haproxy >/dev/null; then
			LB=haproxy
		elif command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]]; then
			LB=nginx
		else
			LB=haproxy
		fi
		;;
	*) die "LB must be haproxy, nginx, none or auto, not $LB" ;;
	esac
	[[ $LB == none ]] && return
	PATH=$PATH:/usr/sbin:/sbin
	command -v "$LB" >/dev/null && return
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
		log "installing Debian's $LB with apt-get"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$LB" >"$LOG_DIR/apt.log" 2>&1 ||
			{ apt-get update -q >>"$LOG_DIR/apt.log" 2>&1 &&
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$LB" >>"$LOG_DIR/apt.log" 2>&1; } ||
			die "apt-get install $LB failed: see $LOG_DIR/apt.log"
	else
		die "$LB is not installed: run 'sudo apt-get install $LB' (Debian/Ubuntu), or LB=none to run without a load balancer"
	fi
}

# The shipped configs name gateway-1..3:8080 (Docker's names); the copy in BASE_DIR points at
# the local gateways, listens on LB_PORT, and resolves nothing.
render_haproxy() {
	sed -e "s/gateway-1:8080/$HOST:${gw_ports[0]}/" \
		-e "s/gateway-2:8080/$HOST:${gw_ports[1]}/" \
		-e "s/gateway-3:8080/$HOST:${gw_ports[2]}/" \
		-e "s/^\([[:space:]]*bind\) :8080\$/\1 $HOST:$LB_PORT/" \
		-e "s/ resolvers docker//" \
		"$ROOT/deploy/haproxy.cfg" >"$RUN_DIR/haproxy.cfg"
	grep -q "bind $HOST:$LB_PORT" "$RUN_DIR/haproxy.cfg" || die "could not render deploy/haproxy.cfg"
}

render_nginx() {
	local d=$RUN_DIR/nginx
	mkdir -p "$d/tmp"
	sed -e "s/gateway-1:8080 resolve/$HOST:${gw_ports[0]}/" \
		-e "s/gateway-2:8080 resolve/$HOST:${gw_ports[1]}/" \
		-e "s/gateway-3:8080 resolve/$HOST:${gw_ports[2]}/" \
		-e "s/^\([[:space:]]*listen\) 8080;/\1 $HOST:$LB_PORT;/" \
		-e "/^[[:space:]]*resolver /d" \
		-e "/^worker_rlimit_nofile/d" \
		-e "s|^http {|http {\n    client_body_temp_path $d/tmp/body;\n    proxy_temp_path $d/tmp/proxy;\n    fastcgi_temp_path $d/tmp/fastcgi;\n    uwsgi_temp_path $d/tmp/uwsgi;\n    scgi_temp_path $d/tmp/scgi;|" \
		"$ROOT/deploy/nginx.conf" >"$d/nginx.conf"
	grep -q "listen $HOST:$LB_PORT;" "$d/nginx.conf" || die "could not render deploy/nginx.conf"
}

start_lb() {
	case $LB in
	haproxy)
		render_haproxy
		haproxy -q -c -f "$RUN_DIR/haproxy.cfg" >"$LOG_DIR/haproxy-check.log" 2>&1 ||
			die "haproxy rejects $RUN_DIR/haproxy.cfg: $(cat "$LOG_DIR/haproxy-check.log")"
		start lb haproxy haproxy -db -f "$RUN_DIR/haproxy.cfg"
		;;
	nginx)
		render_nginx
		local d=$RUN_DIR/nginx
		start lb nginx nginx -p "$d" -e stderr -c "$d/nginx.conf" -g "daemon off; pid $d/nginx.pid;"
		;;
	esac
}

# stop_leftovers: SIGTERM to the processes whose pid files a run left in RUN_DIR, if they
# still run one of our programs.
stop_leftovers() {
	local f pid
	for f in "$RUN_DIR"/*.pid; do
		[[ -e $f ]] || continue
		pid=$(<"$f")
		if [[ $pid =~ ^[0-9]+$ ]] && grep -qaE 'natsembed|gateway|haproxy|nginx' "/proc/$pid/cmdline" 2>/dev/null; then
			log "stopping $(basename "$f" .pid) (pid $pid)"
			kill -TERM "$pid" 2>/dev/null || true
		fi
		rm -f "$f"
	done
}

# --- main -------------------------------------------------------------------------------

mkdir -p "$LOG_DIR" "$RUN_DIR"
case ${1:-} in
'') ;;
stop)
	stop_leftovers
	exit 0
	;;
*) die "usage: $0 [stop]   (settings come from the environment; see the top of this file)" ;;
esac
check_config
pick_lb

if [[ $BUILD == 1 ]]; then
	log "building gateway and natsembed into $BIN_DIR"
	(cd "$ROOT" && go build -o "$BIN_DIR/" ./cmd/gateway ./cmd/natsembed) || die "go build failed"
fi
for b in gateway natsembed; do
	[[ -x $BIN_DIR/$b ]] || die "$BIN_DIR/$b is missing (BUILD=1 builds it)"
done

if [[ $FRESH == 1 ]]; then
	log "FRESH=1: deleting the NATS and gateway state in $BASE_DIR"
	rm -rf "$BASE_DIR"/nats-[123] "$BASE_DIR"/gateway-[123]
fi

ready_deadline=$((SECONDS + READY_TIMEOUT))
routes=() urls=()
for i in 0 1 2; do
	routes+=("nats://$HOST:${cluster_ports[i]}")
	urls+=("nats://$HOST:${nats_ports[i]}")
done
route_list=$(
	IFS=,
	echo "${routes[*]}"
)
nats_url=$(
	IFS=,
	echo "${urls[*]}"
)

for i in 1 2 3; do
	start nats "nats-$i" "$BIN_DIR/natsembed" \
		--addr "$HOST:${nats_ports[i - 1]}" \
		--store-dir "$BASE_DIR/nats-$i" \
		--server-name "n$i" \
		--cluster-name chat \
		--cluster-addr "$HOST:${cluster_ports[i - 1]}" \
		--routes "$route_list" \
		--http-addr "$HOST:${monitor_ports[i - 1]}" \
		"${nats_args[@]}"
done
# NATS's /healthz is 200 once JetStream has a meta leader and is current on that node.
wait_ok "NATS cluster" "http://$HOST:${monitor_ports[0]}/healthz" \
	"http://$HOST:${monitor_ports[1]}/healthz" "http://$HOST:${monitor_ports[2]}/healthz"

start_gateway() {
	local i=$1
	start gw "gateway-$i" "$BIN_DIR/gateway" \
		--addr "$HOST:${gw_ports[i - 1]}" \
		--nats-url "$nats_url" \
		--data-dir "$BASE_DIR/gateway-$i" \
		--gateway-id "gw-$i" \
		--stream-replicas 3 \
		"${gateway_args[@]}"
	gw_pid_of[$i]=$started_pid
}

# wait_gateways I...: waits until gateway-I answers /readyz, for each I. A gateway that exits
# before it is ready is started again, GATEWAY_TRIES times in all: on a cluster that has just
# (re)started, its first JetStream API request can go unanswered (see docs/operations.md).
wait_gateways() {
	local i pid pending=("$@") waiting
	local -A tries=()
	for i in "$@"; do tries[$i]=1; done
	while ((${#pending[@]} > 0)); do
		waiting=()
		for i in "${pending[@]}"; do
			if ok "http://$HOST:${gw_ports[i - 1]}/readyz"; then
				log "gateway-$i ready"
				continue
			fi
			waiting+=("$i")
			pid=${gw_pid_of[$i]}
			kill -0 "$pid" 2>/dev/null && continue
			wait "$pid" 2>/dev/null || true
			forget "$pid"
			((tries[$i] < GATEWAY_TRIES)) || {
				tail -n 5 "$LOG_DIR/gateway-$i.log" >&2 || true
				die "gateway-$i exited ${tries[$i]} times before it was ready"
			}
			log "gateway-$i exited before it was ready ($(tail -n 1 "$LOG_DIR/gateway-$i.log")); starting it again"
			mv "$LOG_DIR/gateway-$i.log" "$LOG_DIR/gateway-$i.log.${tries[$i]}"
			tries[$i]=$((tries[$i] + 1))
			start_gateway "$i"
		done
		pending=("${waiting[@]}")
		((${#pending[@]} > 0)) || break
		for pid in "${nats_pids[@]}"; do
			kill -0 "$pid" 2>/dev/null || die "${names[$pid]} exited: see $LOG_DIR/${names[$pid]}.log"
		done
		((SECONDS < ready_deadline)) || die "gateways ${pending[*]} not ready after ${READY_TIMEOUT}s"
		sleep 0.2
	done
}

# gateway-1 first: on a fresh cluster, gateways that create the R3 stream and buckets at the
# same moment can all wait for answers that never come (nats-server issue 3677). Once they
# exist, the others start together.
start_gateway 1
wait_gateways 1
start_gateway 2
start_gateway 3
wait_gateways 2 3

url=http://$HOST:${gw_ports[0]}
if [[ $LB != none ]]; then
	start_lb
	url=http://$HOST:$LB_PORT
	wait_ok "load balancer ($LB)" "$url/lb-health" "$url/readyz"
fi

cat >&2 <<EOF

  chathub is running
    open:          $url/
    gateways:      http://$HOST:${gw_ports[0]}  http://$HOST:${gw_ports[1]}  http://$HOST:${gw_ports[2]}
    NATS:          $nats_url
    monitoring:    http://$HOST:${monitor_ports[0]}/jsz  (and :${monitor_ports[1]}, :${monitor_ports[2]})
    load balancer: $LB
    logs:          $LOG_DIR
  Ctrl-C stops everything.

EOF
echo "ready: $url"

# Until a signal, or until one of the processes dies (with KEEP_GOING=1: until a signal).
while true; do
	if ! alive; then
		[[ $KEEP_GOING == 1 ]] || die "a process exited; stopping the others"
		wait "$dead_pid" 2>/dev/null || true
		log "KEEP_GOING=1: carrying on without ${names[$dead_pid]}; restart it with: $(<"$RUN_DIR/${names[$dead_pid]}.cmd")"
		forget "$dead_pid"
	fi
	sleep 1 &
	wait $! || true
done
