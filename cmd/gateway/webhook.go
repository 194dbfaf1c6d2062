package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/chathub/chathub/internal/webhook"
)

// webhookFlags are the webhook's settings (docs/webhooks.md).
type webhookFlags struct {
	URL        string
	SecretFile string
	FromStart  bool
	Secret     []byte // from CHAT_WEBHOOK_SECRET or the file
}

func (w *webhookFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&w.URL, "webhook-url", "", "POST every stored event to this URL, signed, in batches (docs/webhooks.md); empty for none")
	fs.StringVar(&w.SecretFile, "webhook-secret-file", "", "file holding the webhook signing secret, at least 16 bytes (or set CHAT_WEBHOOK_SECRET); required with --webhook-url")
	fs.BoolVar(&w.FromStart, "webhook-from-start", false, "when the webhook consumer is first created, deliver every event the stream holds, not only new ones")
}

// secret reads the signing secret from CHAT_WEBHOOK_SECRET or --webhook-secret-file and
// refuses a URL without one, a short one, or one without a URL.
func (w *webhookFlags) secret(getenv func(string) string) error {
	env := getenv("CHAT_WEBHOOK_SECRET")
	switch {
	case env != "" && w.SecretFile != "":
		return errors.New("set CHAT_WEBHOOK_SECRET or --webhook-secret-file, not both")
	case env != "":
		w.Secret = []byte(env)
	case w.SecretFile != "":
		b, err := os.ReadFile(w.SecretFile)
		if err != nil {
			return fmt.Errorf("--webhook-secret-file: %w", err)
		}
		w.Secret = bytes.TrimSpace(b)
	}
	switch {
	case w.URL == "" && w.Secret != nil:
		return errors.New("a webhook secret is set but --webhook-url is not")
	case w.URL == "":
		return nil
	case w.Secret == nil:
		return errors.New("--webhook-url needs a secret: --webhook-secret-file or CHAT_WEBHOOK_SECRET")
	case len(w.Secret) < webhook.MinSecret:
		return fmt.Errorf("the webhook secret must be at least %d bytes", webhook.MinSecret)
	}
	return nil
}

// config is the gateway's webhook configuration; nil when there is no URL.
func (w *webhookFlags) config() *webhook.Config {
	if w.URL == "" {
		return nil
	}
	return &webhook.Config{URL: w.URL, Secret: w.Secret, FromStart: w.FromStart}
}
