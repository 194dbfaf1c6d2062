// Package subject builds every NATS subject, stream and bucket name the project uses.
//
// Names reach a subject only through this file, and only after protocol validation: a room or
// user id is one whole subject token of [A-Za-z0-9_-], so '.', '*', '>' and white space can
// never reach a subject (NATS would store "chat.events.*" literally if they did).
package subject

// Stream and bucket names, as operators see them in `nats stream ls` and `nats kv ls`.
const (
	// Stream holds every stored event of every room.
	Stream = "CHAT_EVENTS"
	// EventsAll is the stream's subject filter.
	EventsAll = "chat.events.>"
	// LiveAll is where the stream republishes each stored event, with its sequence.
	LiveAll = "chat.live.>"

	// PresenceBucket holds sessions, room memberships and online users.
	PresenceBucket = "chat_presence"
	// RoomsBucket holds every room ever created, public and private.
	RoomsBucket = "chat_rooms"
	// GatewaysBucket holds one heartbeat key per live gateway.
	GatewaysBucket = "chat_gateways"
	// MarkersBucket holds every user's read marker of every room.
	MarkersBucket = "chat_markers"
	// BansBucket holds the bans: of a user from one room, and of a user from the chat.
	BansBucket = "chat_bans"

	// Users carries online/offline notices to every gateway (not stored).
	Users = "chat.users"
	// Private carries "a private room was opened" notices to every gateway (not stored).
	Private = "chat.private"
	// Close carries "close these connections" notices of the server API to every gateway
	// (not stored).
	Close = "chat.close"
	// Rules carries the changes every gateway must apply before they are answered (bans,
	// a room's deletion): each live gateway replies once it has (not stored).
	Rules = "chat.rules"
	// FenceAll is the stream's subject for barriers: a gateway's barrier, stored behind
	// everything it published before, tells it that all of that has been stored.
	FenceAll = "chat.fence.>"
	// API is the prefix of the server API's NATS subjects: API + "." + method.
	API = "chat.api"
)

// Events is the stored subject of one room's events.
func Events(room string) string { return "chat.events." + room }

// Live is the subject on which the stream republishes one room's stored events.
func Live(room string) string { return "chat.live." + room }

// Typing carries the typing notices of one room (core NATS, not stored).
func Typing(room string) string { return "chat.typing." + room }

// Gateway is the control subject of one gateway (session take-overs are sent there).
func Gateway(id string) string { return "chat.gateway." + id }

// Fence is the barrier subject of one gateway (in the event stream, never a room's).
func Fence(gateway string) string { return "chat.fence." + gateway }
