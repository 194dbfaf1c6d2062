package gateway

import "time"

// SetLinger makes g's writers linger d after a small frame, as if the process were short of
// CPU. Start g with a negative Config.Linger, or its watcher will move it.
func SetLinger(g *Gateway, d time.Duration) { g.pressure.linger.Store(int64(d)) }
