package control

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chathub/chathub/internal/subject"
)

// Run fails at once, with an error, when it cannot start: it neither hangs nor says it is
// ready, and what it started has stopped when it returns.
func TestRunFailsFastWhenItCannotStart(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spoil func(w *world, g *gateway)
	}{
		{"connection closed", func(w *world, g *gateway) { g.nc.Close() }},
		{"rooms bucket gone", func(w *world, g *gateway) {
			if err := g.js.DeleteKeyValue(w.ctx, subject.RoomsBucket); err != nil {
				w.t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, testGrace, testHeartbeat)
			g := w.open("gw-a")
			tc.spoil(w, g)

			ready, done := make(chan struct{}), make(chan error, 1)
			go func() { done <- g.Run(w.ctx, ready) }()
			select {
			case err := <-done:
				if err == nil {
					t.Fatal("Run returned nil")
				}
				t.Logf("Run: %v", err)
			case <-time.After(10 * time.Second):
				t.Fatal("Run did not return")
			}
			select {
			case <-ready:
				t.Error("Run said it was ready")
			default:
			}
			if left := goroutines("control.(*Plane)."); left != "" {
				t.Errorf("goroutines of the plane still running after Run returned:\n%s", left)
			}
		})
	}
}

// goroutines returns the stacks of the running goroutines that mention fn.
func goroutines(fn string) string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, fn) && !strings.Contains(g, "control.goroutines") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
