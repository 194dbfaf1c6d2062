package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/chathub/chathub/internal/auth"
)

// token prints a token for testing token mode:
//
//	CHAT_AUTH_SECRET=... gateway token --user alice --ttl 1h
func token(args []string, getenv func(string) string, out, errw io.Writer) error {
	fs := flag.NewFlagSet("gateway token", flag.ContinueOnError)
	fs.SetOutput(errw)
	user := fs.String("user", "", "the user id the token speaks for (its sub)")
	ttl := fs.Duration("ttl", time.Hour, "how long the token is valid")
	file := fs.String("auth-secret-file", "", "file holding the HS256 secret (or set CHAT_AUTH_SECRET)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := []byte(getenv("CHAT_AUTH_SECRET"))
	if *file != "" {
		b, err := os.ReadFile(*file)
		if err != nil {
			return err
		}
		secret = bytes.TrimSpace(b)
	}
	if len(secret) < auth.MinSecret {
		return fmt.Errorf("a secret of at least %d bytes is needed (CHAT_AUTH_SECRET or --auth-secret-file)", auth.MinSecret)
	}
	if *ttl <= 0 {
		return errors.New("--ttl must be greater than zero")
	}
	tok, err := auth.Sign(secret, *user, *ttl)
	if err != nil {
		return fmt.Errorf("--user %q: must be 1 to 64 of A-Z a-z 0-9 _ -", *user)
	}
	_, err = fmt.Fprintln(out, tok)
	return err
}
