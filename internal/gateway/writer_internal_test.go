package gateway

import (
	"bytes"
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/hub"
)

// A batch is gathered in a buffer grown once to its size, not by doubling as frames come:
// a fresh buffer costs one allocation for its bytes. And the batch is the frames' objects
// one per line, up to batchBytes.
func TestCollectGrowsItsBufferOnce(t *testing.T) {
	obj := `{"type":"online","user_id":"` + strings.Repeat("u", 60) + `"}`
	taken := make([]*hub.Frame, 1000)
	for i := range taken {
		taken[i] = &hub.Frame{Data: []byte(obj)}
	}
	var data []byte
	var n int
	allocs := testing.AllocsPerRun(20, func() {
		buf := new(bytes.Buffer) // one allocation
		data, n, _, _, _ = collect(buf, taken)
	})
	if allocs > 2 {
		t.Errorf("collect made %v allocations for a fresh buffer, want at most 2 (the buffer and its bytes)", allocs)
	}
	if want := strings.Repeat(obj+"\n", n-1) + obj; string(data) != want {
		t.Errorf("batch of %d frames is not their objects one per line", n)
	}
	if len(data) < batchBytes || len(data) > batchBytes+len(obj)+1 {
		t.Errorf("batch of %d bytes, want just past %d", len(data), batchBytes)
	}
}
