package gateway

// A goroutine starts on a small stack (2 KB here), and the runtime grows it by copying the
// stack into one twice the size, walking every frame on it to move its pointers. A
// session's writer grows its stack once, deep in coder/websocket's write (its lock is a
// select), eleven frames down; at 100 msg/s to 100 clients in one room, where every event
// starts a writer per session, copying those stacks was 8 % of the gateway's CPU
// (docs/benchmarks.md, Run 13). Grown at the writer's start, the copy walks one frame.

// growStack grows the calling goroutine's stack to 4 KB while it is shallow, as the
// writer's path will need. The runtime doubles a stack until the frame that overflowed it
// fits with a margin (928 bytes) under it: 1,280 bytes of frame always overflow a 2 KB
// stack, whatever its caller used, and take it to 4 KB, not beyond, while the caller has
// used under 1.8 KB (writeLoop, at the bottom of its goroutine, uses 256 bytes). A
// goroutine the runtime started on a larger stack (it starts them at the average size it
// saw) does not grow here.
//
//go:noinline
func growStack() {
	var frame [1280]byte
	keep(frame[:])
}

// keep is a call the compiler cannot see through, so frame above stays whole.
//
//go:noinline
func keep([]byte) {}
