package clustertest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/poll"
)

// Options shape a Cluster. Zero values are documented per field.
type Options struct {
	Grace       time.Duration // gateways' --grace; zero means 3s
	CheckInter  time.Duration // HAProxy's health check interval; zero means 300ms
	GatewayArgs []string      // extra flags for every gateway
	// Frontends, when set, replaces the one load balancer port in front of all gateways:
	// each entry lists the gateways (0-based) behind one more port (see Cluster.LBPorts).
	Frontends [][]int
}

// NATSNode is one natsembed process.
type NATSNode struct {
	*Proc
	ServerName  string
	ClientPort  int
	ClusterPort int
	HTTPPort    int
	StoreDir    string
}

// URL is the node's client URL.
func (n *NATSNode) URL() string { return "nats://127.0.0.1:" + strconv.Itoa(n.ClientPort) }

// GatewayProc is one gateway process.
type GatewayProc struct {
	*Proc
	ID   string
	Port int
}

// HTTP is the gateway's own base URL (not through the load balancer).
func (g *GatewayProc) HTTP() string { return "http://127.0.0.1:" + strconv.Itoa(g.Port) }

// WS is the gateway's own WebSocket URL.
func (g *GatewayProc) WS() string { return "ws://127.0.0.1:" + strconv.Itoa(g.Port) + "/ws" }

// Cluster is three NATS nodes, three gateways and HAProxy, as processes on 127.0.0.1.
type Cluster struct {
	t        testing.TB
	opts     Options
	Dir      string
	Bins     Bins
	NATS     []*NATSNode
	Gateways []*GatewayProc
	LB       *Proc
	LBPorts  []int // one per frontend; LBPorts[0] fronts all gateways unless Options.Frontends
}

// RequireHAProxy skips the test when haproxy is missing, or fails it when CI=true.
func RequireHAProxy(t testing.TB) string {
	t.Helper()
	p := HAProxy()
	if p == "" {
		msg := "haproxy is not installed (apt-get install haproxy): the cluster tests need a real load balancer"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// Start builds the binaries (once per run) and starts a cluster; t.Cleanup kills every process
// and, when the test failed, logs the end of each process's log.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	haproxy := RequireHAProxy(t)
	bins, err := Build()
	if err != nil {
		t.Fatal(err)
	}
	if opts.Grace == 0 {
		opts.Grace = 3 * time.Second
	}
	if opts.CheckInter == 0 {
		opts.CheckInter = 300 * time.Millisecond
	}
	if opts.Frontends == nil {
		opts.Frontends = [][]int{{0, 1, 2}}
	}
	c := &Cluster{t: t, opts: opts, Dir: testDir(t), Bins: bins}
	ports, err := freePorts(3*4 + len(opts.Frontends))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.cleanup)
	c.defineNATS(ports[:9])
	c.defineGateways(ports[9:12])
	c.LBPorts = ports[12:]
	if err := c.StartNATS(); err != nil {
		t.Fatal(err)
	}
	if err := c.StartGateways(); err != nil {
		t.Fatal(err)
	}
	if err := c.startLB(haproxy); err != nil {
		t.Fatal(err)
	}
	return c
}

// testDir is a directory for a test's logs and stores: a temporary one, or one kept in
// $CLUSTERTEST_KEEP for a look afterwards.
func testDir(t testing.TB) string {
	keep := os.Getenv("CLUSTERTEST_KEEP")
	if keep == "" {
		return t.TempDir()
	}
	dir, err := os.MkdirTemp(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("logs and stores in %s", dir)
	return dir
}

func (c *Cluster) cleanup() {
	for _, g := range c.Gateways {
		g.Kill()
	}
	if c.LB != nil {
		c.LB.Kill()
	}
	for _, n := range c.NATS {
		n.Kill()
	}
	if c.t.Failed() {
		for _, p := range c.procs() {
			c.t.Logf("--- end of %s's log (%s):\n%s", p.Name, p.LogPath, p.Tail(25))
		}
	}
}

func (c *Cluster) procs() []*Proc {
	var ps []*Proc
	for _, n := range c.NATS {
		ps = append(ps, n.Proc)
	}
	for _, g := range c.Gateways {
		ps = append(ps, g.Proc)
	}
	if c.LB != nil {
		ps = append(ps, c.LB)
	}
	return ps
}

func (c *Cluster) defineNATS(ports []int) {
	var routes []string
	for i := range 3 {
		routes = append(routes, "nats://127.0.0.1:"+strconv.Itoa(ports[3+i]))
	}
	for i := range 3 {
		n := &NATSNode{ServerName: fmt.Sprintf("n%d", i+1), ClientPort: ports[i],
			ClusterPort: ports[3+i], HTTPPort: ports[6+i],
			StoreDir: filepath.Join(c.Dir, fmt.Sprintf("nats-%d", i+1))}
		n.Proc = &Proc{Name: "nats-" + strconv.Itoa(i+1), Bin: c.Bins.NATSEmbed,
			LogPath: filepath.Join(c.Dir, fmt.Sprintf("nats-%d.log", i+1)),
			Args: []string{"--addr", "127.0.0.1:" + strconv.Itoa(n.ClientPort),
				"--store-dir", n.StoreDir, "--server-name", n.ServerName, "--cluster-name", "chat",
				"--cluster-addr", "127.0.0.1:" + strconv.Itoa(n.ClusterPort),
				"--routes", strings.Join(routes, ","),
				"--http-addr", "127.0.0.1:" + strconv.Itoa(n.HTTPPort)}}
		c.NATS = append(c.NATS, n)
	}
}

func (c *Cluster) defineGateways(ports []int) {
	for i := range 3 {
		g := &GatewayProc{ID: fmt.Sprintf("gw-%d", i+1), Port: ports[i]}
		g.Proc = &Proc{Name: "gateway-" + strconv.Itoa(i+1), Bin: c.Bins.Gateway,
			LogPath: filepath.Join(c.Dir, fmt.Sprintf("gateway-%d.log", i+1)),
			Args: append([]string{"--addr", "127.0.0.1:" + strconv.Itoa(g.Port),
				"--nats-url", c.NATSURLs(), "--gateway-id", g.ID, "--stream-replicas", "3",
				"--grace", c.opts.Grace.String(), "--message-rate", "0", "--command-rate", "0",
				"--data-dir", filepath.Join(c.Dir, "gateway-"+strconv.Itoa(i+1)),
				"--shutdown-timeout", "5s"}, c.opts.GatewayArgs...)}
		c.Gateways = append(c.Gateways, g)
	}
}

// NATSURLs lists the three client URLs, comma-separated.
func (c *Cluster) NATSURLs() string {
	var urls []string
	for _, n := range c.NATS {
		urls = append(urls, n.URL())
	}
	return strings.Join(urls, ",")
}

// LBWS is the load balancer's WebSocket URL (frontend 0).
func (c *Cluster) LBWS() string { return "ws://127.0.0.1:" + strconv.Itoa(c.LBPorts[0]) + "/ws" }

// LBHTTP is the load balancer's base URL (frontend 0).
func (c *Cluster) LBHTTP() string { return "http://127.0.0.1:" + strconv.Itoa(c.LBPorts[0]) }

// StartNATS starts every NATS node that is not running and waits until each one's /healthz
// is 200 (JetStream has a meta leader and the node is current).
func (c *Cluster) StartNATS() error {
	for _, n := range c.NATS {
		if !n.Running() {
			if err := n.Start(); err != nil {
				return err
			}
		}
	}
	for _, n := range c.NATS {
		url := "http://127.0.0.1:" + strconv.Itoa(n.HTTPPort) + "/healthz"
		if err := c.waitOK(n.Proc, url, 60*time.Second); err != nil {
			return err
		}
	}
	return nil
}

// StartGateways starts the gateways that are not running, the first of them alone until
// ready (gateways creating the R3 stream and buckets at the same moment on a fresh cluster
// can wait forever: nats-server issue 3677), then the others.
func (c *Cluster) StartGateways() error {
	var todo []int
	for i, g := range c.Gateways {
		if !g.Running() {
			todo = append(todo, i)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	if err := c.StartGateway(todo[0]); err != nil {
		return err
	}
	for _, i := range todo[1:] {
		if err := c.Gateways[i].Start(); err != nil {
			return err
		}
	}
	for _, i := range todo[1:] {
		if err := c.waitGateway(i); err != nil {
			return err
		}
	}
	return nil
}

// StartGateway starts gateway i and waits for its /readyz.
func (c *Cluster) StartGateway(i int) error {
	if err := c.Gateways[i].Start(); err != nil {
		return err
	}
	return c.waitGateway(i)
}

// waitGateway waits for gateway i's /readyz, starting it again (three starts in all) when it
// exits before it is ready: on a cluster that has just started, its first JetStream request
// can go unanswered.
func (c *Cluster) waitGateway(i int) error {
	g := c.Gateways[i]
	for try := 1; ; try++ {
		err := c.waitOK(g.Proc, g.HTTP()+"/readyz", 60*time.Second)
		if err == nil || g.Running() || try == 3 {
			return err
		}
		c.t.Logf("%s exited before it was ready (%v); starting it again", g.Name, err)
		if err := g.Start(); err != nil {
			return err
		}
	}
}

// waitOK polls url until it answers 200, the process exits, or timeout passes.
func (c *Cluster) waitOK(p *Proc, url string, timeout time.Duration) error {
	err := poll.UntilNil(context.Background(), timeout, 50*time.Millisecond, func() error {
		if !p.Running() {
			return nil
		}
		return httpOK(url)
	})
	if err != nil {
		return fmt.Errorf("clustertest: %s not ready: %w\n%s", p.Name, err, p.Tail(15))
	}
	if !p.Running() {
		return fmt.Errorf("clustertest: %s exited before it was ready: %v\n%s", p.Name, p.err, p.Tail(15))
	}
	return nil
}

var httpClient = &http.Client{Timeout: 3 * time.Second}

func httpOK(url string) error {
	return httpStatus(url, http.StatusOK)
}

func httpStatus(url string, want int) error {
	resp, err := httpClient.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != want {
		return fmt.Errorf("GET %s: %s, want %d", url, resp.Status, want)
	}
	return nil
}
