package eventlog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/chathub/chathub/internal/protocol"
)

// file is the event log being appended to. Owned by one goroutine.
type file struct {
	path  string
	f     *os.File
	w     *bufio.Writer
	last  uint64 // id of the last line written to w
	lines int    // lines written to w since the last sync
}

// openFile opens or creates path, cuts off a torn last line, and reads the last id.
func openFile(path string, log *slog.Logger) (*file, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	last, err := repair(f, log)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("eventlog: %s: %w", path, err)
	}
	return &file{path: path, f: f, w: bufio.NewWriterSize(f, 64<<10), last: last}, nil
}

// repair truncates f after its last newline and returns the id of its last line (0 if none).
func repair(f *os.File, log *slog.Logger) (uint64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	nl, err := lastNewline(f, st.Size())
	if err != nil {
		return 0, err
	}
	end := nl + 1 // 0 when the file has no complete line
	if end < st.Size() {
		if err := f.Truncate(end); err != nil {
			return 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, err
		}
		log.Warn("eventlog: torn last line cut off", "bytes", st.Size()-end)
	}
	if end == 0 {
		return 0, nil
	}
	start, err := lastNewline(f, end-1)
	if err != nil {
		return 0, err
	}
	return lineID(f, start+1, end-1)
}

// lastNewline returns the offset of the last '\n' before offset before, or -1.
func lastNewline(r io.ReaderAt, before int64) (int64, error) {
	buf := make([]byte, 32<<10)
	for before > 0 {
		n := min(int64(len(buf)), before)
		chunk := buf[:n]
		if _, err := r.ReadAt(chunk, before-n); err != nil {
			return 0, err
		}
		if i := bytes.LastIndexByte(chunk, '\n'); i >= 0 {
			return before - n + int64(i), nil
		}
		before -= n
	}
	return -1, nil
}

// lineID reads the line in [start, end) and returns its "id".
func lineID(r io.ReaderAt, start, end int64) (uint64, error) {
	line := make([]byte, end-start)
	if _, err := r.ReadAt(line, start); err != nil {
		return 0, err
	}
	var ev struct {
		ID uint64 `json:"id"`
	}
	if err := json.Unmarshal(line, &ev); err != nil || ev.ID == 0 {
		return 0, errors.New("last line has no event id; fix or move the file")
	}
	return ev.ID, nil
}

// write appends the event with this id and stored payload as one line.
func (f *file) write(id uint64, stored []byte) error {
	line := protocol.WithID(stored, id)
	if bytes.IndexByte(line, '\n') >= 0 { // one event, one line
		var b bytes.Buffer
		if err := json.Compact(&b, line); err == nil {
			line = b.Bytes()
		}
	}
	f.w.Write(line)
	if err := f.w.WriteByte('\n'); err != nil {
		return fmt.Errorf("eventlog: write %s: %w", f.path, err)
	}
	f.last, f.lines = id, f.lines+1
	return nil
}

// sync makes every written line durable.
func (f *file) sync() error {
	if f.lines == 0 {
		return nil
	}
	if err := f.w.Flush(); err != nil {
		return fmt.Errorf("eventlog: write %s: %w", f.path, err)
	}
	if err := f.f.Sync(); err != nil {
		return fmt.Errorf("eventlog: sync %s: %w", f.path, err)
	}
	f.lines = 0
	return nil
}

func (f *file) close() error { return f.f.Close() }
