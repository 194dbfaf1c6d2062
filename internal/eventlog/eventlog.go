// Package eventlog appends every stored chat event to a file, one JSON line per event, as a
// simple datastore (the old hub's events.log).
//
// Each line is the client-visible event JSON with "id" first (protocol.WithID), in stream
// order. Events are read through a durable JetStream consumer and acknowledged only after the
// fsync that made their line durable. The file itself is the resume point: on start its last
// complete line gives the last id written, a torn last line is cut off, and every event with an
// id at or below the last one is acknowledged without being written again. An event that
// arrives with ids missing between it and the last line (redelivered out of order, or acked
// but lost from the file) is preceded by the missing events, read from the stream directly.
// So a restart or crash neither skips nor repeats a line.
package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/chathub/chathub/internal/subject"
)

// Config says where events go. Path is required; the other zero values are documented.
type Config struct {
	// Path is the file events are appended to; it is created when missing.
	Path string
	// Durable is the durable consumer's name; zero means "eventlog-" and a short hash of the
	// absolute path and the host name.
	Durable string
	// Stream is the stream read; zero means subject.Stream.
	Stream string
}

const (
	flushEvery   = 100 * time.Millisecond // longest a written line waits for fsync and ack
	flushLines   = 1000                   // most events handled between two flushes
	ackWait      = 30 * time.Second       // consumer AckWait; far above flushEvery
	maxAckPend   = 10_000                 // consumer MaxAckPending; several flushes' worth
	pullBatch    = 500                    // messages buffered by the client
	drainTimeout = 2 * time.Second        // bound on handling what arrived before a stop
	retryDelay   = time.Second            // Nak delay when a gap cannot be filled yet
	setupTimeout = 10 * time.Second       // bound on creating the consumer
)

func (c Config) withDefaults() (Config, error) {
	if c.Path == "" {
		return c, errors.New("eventlog: Config.Path is required")
	}
	if c.Stream == "" {
		c.Stream = subject.Stream
	}
	if c.Durable == "" {
		name, err := durableName(c.Path)
		if err != nil {
			return c, err
		}
		c.Durable = name
	}
	return c, nil
}

// durableName is "eventlog-" and 12 hex digits of the absolute path and host name.
func durableName(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("eventlog: %w", err)
	}
	host, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("eventlog: host name: %w", err)
	}
	sum := sha256.Sum256([]byte(host + "\x00" + abs))
	return "eventlog-" + hex.EncodeToString(sum[:6]), nil
}

// Run appends events until ctx ends. It returns nil when ctx ends, and an error when the file
// cannot be opened or written or the stream cannot be read at start. The stream must exist
// (history.Open creates it).
func Run(ctx context.Context, js jetstream.JetStream, cfg Config, log *slog.Logger) error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("file", cfg.Path)
	f, err := openFile(cfg.Path, log)
	if err != nil {
		return err
	}
	defer f.close()
	stream, cons, err := setup(ctx, js, cfg)
	if err != nil {
		return err
	}
	info := cons.CachedInfo()
	log.Info("eventlog: started", "consumer", cfg.Durable, "stream", cfg.Stream,
		"resume_after", f.last, "consumer_ack_floor", info.AckFloor.Stream)
	r := &runner{f: f, stream: stream, nc: js.Conn(), log: log, msgc: make(chan jetstream.Msg, pullBatch)}
	if err := r.catchUp(ctx, info.AckFloor.Stream); err != nil {
		return err
	}
	return r.run(ctx, cons)
}
