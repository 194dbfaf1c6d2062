package clustertest

import (
	"context"
	"encoding/csv"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/poll"
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

func (c *Cluster) startLB(bin string) error {
	var fronts []HAProxyFrontend
	for i, gws := range c.opts.Frontends {
		f := HAProxyFrontend{Port: c.LBPorts[i], Gateways: map[string]int{}}
		for _, g := range gws {
			f.Gateways[c.Gateways[g].ID] = c.Gateways[g].Port
		}
		fronts = append(fronts, f)
	}
	cfg := filepath.Join(c.Dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(haproxyConfig(c.opts.CheckInter, fronts)), 0o644); err != nil {
		return err
	}
	c.LB = &Proc{Name: "haproxy", Bin: bin, Args: []string{"-db", "-f", cfg},
		LogPath: filepath.Join(c.Dir, "haproxy.log")}
	if err := c.LB.Start(); err != nil {
		return err
	}
	for _, port := range c.LBPorts {
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		if err := c.waitOK(c.LB, base+"/lb-health", 20*time.Second); err != nil {
			return err
		}
		if err := c.waitOK(c.LB, base+"/readyz", 20*time.Second); err != nil {
			return err
		}
	}
	return c.WaitLBServersUp(20 * time.Second)
}

// WaitLBServersUp waits until HAProxy (frontend 0's backend) sees every running gateway of it
// UP and every stopped one DOWN, reading its stats page.
func (c *Cluster) WaitLBServersUp(timeout time.Duration) error {
	want := map[string]string{}
	for _, i := range c.opts.Frontends[0] {
		g := c.Gateways[i]
		want[g.ID] = "DOWN"
		if g.Running() {
			want[g.ID] = "UP"
		}
	}
	err := poll.UntilNil(context.Background(), timeout, 50*time.Millisecond, func() error {
		got, err := c.LBServers(0)
		if err != nil {
			return err
		}
		for id, w := range want {
			if !strings.HasPrefix(got[id], w) {
				return fmt.Errorf("haproxy sees %s %s, want %s", id, got[id], w)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("clustertest: load balancer: %w", err)
	}
	return nil
}

// LBServers returns the status HAProxy gives each server behind frontend i ("UP", "DOWN",
// "UP 1/2", ...), by server name.
func (c *Cluster) LBServers(i int) (map[string]string, error) {
	resp, err := httpClient.Get("http://127.0.0.1:" + strconv.Itoa(c.LBPorts[i]) + "/lb-stats;csv")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	r := csv.NewReader(resp.Body)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, row := range rows {
		if len(row) > 17 && row[0] == "gateways"+strconv.Itoa(i) && row[1] != "BACKEND" && row[1] != "FRONTEND" {
			out[row[1]] = row[17]
		}
	}
	return out, nil
}
