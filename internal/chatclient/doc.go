// Package chatclient is the one chat client of the tests and tools: it speaks the wire
// protocol (/work/shared/PROTOCOL.md, docs/protocol.md) in open mode and checks what a
// gateway sends.
//
//   - Lines splits a gateway frame into its objects; Decode reads one into a Msg, and Scan
//     reads the few fields a load generator needs without allocating.
//   - Conn is one WebSocket connection: commands with refs, replies awaited by ref, every
//     object handed to a callback and, when asked, queued for a test to take in order.
//   - Checker follows what one session receives, room by room: ids strictly increase, no
//     duplicate, a first joined ends with the session's own join or add, nothing in a joined
//     reply comes again live, a rejoin with since is recovered (or the client was told).
//     Verify compares what it kept with the room's stored events: no gap, nothing twice.
//   - Session is a client that lives across connections: it reconnects with the same session
//     id, rejoins its rooms with since, posts with refs and sends again what was not
//     acknowledged, opens private rooms, and can be taken over by a connection of its own.
package chatclient
