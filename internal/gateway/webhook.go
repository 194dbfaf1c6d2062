package gateway

import (
	"context"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/webhook"
)

// openWebhook creates the webhook consumer when one is configured and registers its metrics.
func (g *Gateway) openWebhook(ctx context.Context, js jetstream.JetStream) error {
	if g.cfg.Webhook == nil {
		return nil
	}
	cfg := *g.cfg.Webhook
	cfg.Gateway = g.cfg.ID
	err := startStep(ctx, g.log, "opening the webhook consumer", func(ctx context.Context) (err error) {
		g.webhook, err = webhook.Open(ctx, js, cfg, g.log)
		return err
	})
	if err != nil {
		return err
	}
	g.metrics.reg.MustRegister(g.webhook.Collectors()...)
	return nil
}
