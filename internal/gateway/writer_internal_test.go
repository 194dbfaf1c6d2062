package gateway

import (
	"strings"
	"testing"

	"github.com/chathub/chathub/internal/hub"
)

// A batch fits the pool's buffer, whatever the frames: it is gathered without allocating,
// so every buffer goes back to the pool as it came. And the batch is the frames' objects
// one per line, up to batchBytes.
func TestCollectFitsThePoolsBuffer(t *testing.T) {
	for _, size := range []int{10, 100, 1000, largeFrame - 1} {
		obj := `{"type":"message","message":"` + strings.Repeat("m", size) + `"}`
		obj = obj[:min(len(obj), largeFrame-1)]
		taken := make([]*hub.Frame, 2*batchBytes/len(obj)+2)
		for i := range taken {
			taken[i] = &hub.Frame{Data: []byte(obj)}
		}
		buf := *batchPool.Get().(*[]byte)
		var data []byte
		var n int
		allocs := testing.AllocsPerRun(20, func() { data, n, _, _, _ = collect(buf, taken) })
		if allocs != 0 {
			t.Errorf("objects of %d bytes: collect allocated %v times", len(obj), allocs)
		}
		if &data[:1][0] != &buf[:1][0] {
			t.Errorf("objects of %d bytes: the batch is not in the pool's buffer", len(obj))
		}
		if want := strings.Repeat(obj+"\n", n-1) + obj; string(data) != want {
			t.Errorf("objects of %d bytes: the batch of %d frames is not their objects one per line", len(obj), n)
		}
		if len(data) < batchBytes || len(data) >= batchBytes+len(obj)+1 {
			t.Errorf("objects of %d bytes: batch of %d bytes, want just past %d", len(obj), len(data), batchBytes)
		}
	}
}
