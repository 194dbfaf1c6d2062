package gateway

// A goroutine starts on a 2 KB stack, and the runtime grows it by copying the stack into one
// twice the size, walking every frame on it to move its pointers. A session's writer grows
// its stack once, deep in coder/websocket's write (its lock is a select), eleven frames down;
// at 100 msg/s to 100 clients in one room, where every event starts a writer per session,
// copying those stacks was 8 % of the gateway's CPU (docs/benchmarks.md, Run 13). Grown at
// the writer's start, the copy walks one frame.

// growStack grows the calling goroutine's stack to 4 KB while it is shallow, as the
// writer's path will need (the runtime doubles a stack until the frame that overflowed it
// fits, with a margin under it: 1 KB of frame takes a 2 KB stack to 4 KB, not beyond).
//
//go:noinline
func growStack() {
	var frame [1 << 10]byte
	keep(frame[:])
}

// keep is a call the compiler cannot see through, so frame above stays whole.
//
//go:noinline
func keep([]byte) {}
