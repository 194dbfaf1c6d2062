package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/chathub/chathub/internal/api"
)

// minAPIKey is the shortest API key accepted: a key is a password for the whole chat.
const minAPIKey = 16

// apiFlags registers the server API's flags.
func (c *config) apiFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.APIKeyFile, "api-key-file", "", "switches the server API on (docs/api.md): file of API keys, one a line (several for rotation; # comments); or set CHAT_API_KEY to one key")
}

// apiKeys reads the server API's keys from CHAT_API_KEY or --api-key-file.
func (c *config) apiKeys(getenv func(string) string) error {
	env := getenv("CHAT_API_KEY")
	switch {
	case env != "" && c.APIKeyFile != "":
		return errors.New("set CHAT_API_KEY or --api-key-file, not both")
	case env != "":
		c.APIKeys = []string{env}
	case c.APIKeyFile != "":
		b, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return fmt.Errorf("--api-key-file: %w", err)
		}
		c.APIKeys = api.ParseKeys(string(b))
		if len(c.APIKeys) == 0 {
			return errors.New("--api-key-file holds no key")
		}
	}
	for _, k := range c.APIKeys {
		if len(k) < minAPIKey {
			return fmt.Errorf("an API key must be at least %d characters", minAPIKey)
		}
	}
	return nil
}
