package clustertest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// HAProxyFrontend is one listening port of the load balancer and the gateways behind it.
type HAProxyFrontend struct {
	Port     int
	Gateways map[string]int // server name (the gateway id) to the gateway's HTTP port
}

// haproxyConfig renders the settings of deploy/haproxy.cfg for processes on 127.0.0.1:
// WebSocket-friendly timeouts, retries on another gateway, active checks of GET /readyz —
// with a check interval of inter instead of 2 s so tests see a dead gateway taken out fast.
func haproxyConfig(inter time.Duration, fronts []HAProxyFrontend) string {
	var b strings.Builder
	b.WriteString(`global
    log stdout format raw local0 info

defaults
    mode http
    log global
    option dontlognull
    timeout connect 2s
    timeout http-request 10s
    timeout client 60s
    timeout server 60s
    timeout tunnel 1h
    timeout client-fin 10s
    timeout server-fin 10s
    timeout queue 5s
    retries 2
    option redispatch 1
`)
	for i, f := range fronts {
		fmt.Fprintf(&b, `
frontend chat%d
    bind 127.0.0.1:%d
    monitor-uri /lb-health
    stats enable
    stats uri /lb-stats
    default_backend gateways%d

backend gateways%d
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server check inter %dms fall 2 rise 1
`, i, f.Port, i, i, inter.Milliseconds())
		for _, name := range slices.Sorted(maps.Keys(f.Gateways)) {
			fmt.Fprintf(&b, "    server %s 127.0.0.1:%d\n", name, f.Gateways[name])
		}
	}
	return b.String()
}
