package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/chathub/chathub/internal/protocol"
)

// event is one held event: its id and stored payload (without "id").
type event struct {
	id   uint64
	data []byte
}

// body is {"events":[...]}, each event as clients see it, with its id first.
func body(events []event) []byte {
	b := make([]byte, 0, 64*len(events)+16)
	b = append(b, `{"events":[`...)
	for i, e := range events {
		if i > 0 {
			b = append(b, ',')
		}
		b = protocol.AppendWithID(b, e.data, e.id)
	}
	return append(b, "]}"...)
}

// Sign is the Chat-Signature header of body sent at t: t=<unix>,v1=<hex HMAC-SHA256 of
// "<unix>.<body>">.
func Sign(secret, body []byte, t time.Time) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// post sends one attempt of a batch. It returns nil on a 2xx, else the status or error.
func (d *Deliverer) post(ctx context.Context, b []byte, delivery string) error {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.cfg.URL, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "chat-gateway/"+d.cfg.Gateway)
	req.Header.Set("Chat-Signature", Sign(d.cfg.Secret, b, time.Now()))
	req.Header.Set("Chat-Delivery", delivery)
	resp, err := d.cfg.Client.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// backoff is the wait after the given number of failed attempts.
func (d *Deliverer) backoff(failed int) time.Duration {
	w := d.cfg.MinBackoff
	for i := 1; i < failed && w < d.cfg.MaxBackoff; i++ {
		w *= 2
	}
	return min(w, d.cfg.MaxBackoff)
}
