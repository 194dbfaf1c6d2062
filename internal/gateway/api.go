package gateway

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/chathub/chathub/internal/api"
	"github.com/chathub/chathub/internal/control"
	"github.com/nats-io/nats.go/micro"
)

// serverAPI is the gateway's part of the server API (package api): its HTTP handler, and
// the NATS service while it runs.
type serverAPI struct {
	api *api.API
	svc micro.Service // nil when the API is not enabled
}

// openAPI makes the server API on the gateway's parts. With API keys it also registers the
// NATS service "chat"; without, neither transport serves (docs/api.md says why).
func (g *Gateway) openAPI(plane *control.Plane) error {
	a := api.New(api.Config{Store: g.store, Control: plane, Keys: g.cfg.APIKeys, Secret: g.cfg.AuthSecret,
		Tokens: g.cfg.Tokens, GatewayID: g.cfg.ID, Logger: g.log,
		Observe: func(method, code string, took time.Duration) {
			if code == "" {
				code = "ok"
			}
			g.metrics.apiCalls.WithLabelValues(method, code).Inc()
			g.metrics.apiLat.Observe(took.Seconds())
		}})
	g.api = &serverAPI{api: a}
	if !a.Enabled() {
		return nil
	}
	svc, err := a.Register(g.nc)
	if err != nil {
		return fmt.Errorf("gateway: %w", err)
	}
	g.api.svc = svc
	return nil
}

// withAPI serves /api/ with the server API and everything else with next. The API has its
// own keys: open mode's Host check, made for browsers, does not apply to it.
func (g *Gateway) withAPI(next http.Handler) http.Handler {
	h := g.api.api.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, api.Prefix) {
			h.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// closeAPI stops the NATS service: the other gateways answer its requests from now on.
func (g *Gateway) closeAPI() {
	if g.api == nil || g.api.svc == nil {
		return
	}
	if err := g.api.svc.Stop(); err != nil {
		g.log.Warn("api service not stopped cleanly", "err", err)
	}
}
