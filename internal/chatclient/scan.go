package chatclient

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Object holds the fields of one gateway object that a hot path looks at. Byte slices
// point into the frame being read: they are valid until the next frame. Decoding with
// encoding/json costs several allocations and a few microseconds per event; Scan costs
// neither, which matters when a thousand receivers share two cores (cmd/chatload).
type Object struct {
	Type, Room, Message, Ref, Code, User, Session []byte
	ID                                            uint64
	HasID                                         bool
	Recovered                                     bool
	Events                                        []byte // the raw array of a joined or history reply
}

// ErrSyntax is a malformed object from a gateway.
var ErrSyntax = errors.New("chatclient: malformed JSON from gateway")

// Scan fills o from the JSON object in b, skipping unknown fields.
func Scan(b []byte, o *Object) error {
	*o = Object{}
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return ErrSyntax
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil
	}
	for i < len(b) {
		key, next, err := scanValue(b, i)
		if err != nil || b[i] != '"' {
			return ErrSyntax
		}
		i = skipSpace(b, next)
		if i >= len(b) || b[i] != ':' {
			return ErrSyntax
		}
		i = skipSpace(b, i+1)
		start := i
		if _, i, err = scanValue(b, i); err != nil {
			return err
		}
		o.set(key[1:len(key)-1], b[start:i])
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return nil
		}
		if i >= len(b) || b[i] != ',' {
			return ErrSyntax
		}
		i = skipSpace(b, i+1)
	}
	return ErrSyntax
}

func (o *Object) set(key, v []byte) {
	switch string(key) {
	case "type":
		o.Type = unquote(v)
	case "chatroomId":
		o.Room = unquote(v)
	case "message":
		o.Message = unquote(v)
	case "ref":
		o.Ref = unquote(v)
	case "code":
		o.Code = unquote(v)
	case "userId":
		o.User = unquote(v)
	case "sessionId":
		o.Session = unquote(v)
	case "id":
		o.ID, o.HasID = parseUint(v)
	case "recovered":
		o.Recovered = string(v) == "true"
	case "events":
		o.Events = v
	}
}

// unquote returns the contents of a JSON string. Strings with escapes are rare here (room
// ids and generated bodies have none) and take the slow path.
func unquote(v []byte) []byte {
	if len(v) < 2 || v[0] != '"' {
		return nil
	}
	in := v[1 : len(v)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		return in
	}
	var s string
	if json.Unmarshal(v, &s) != nil {
		return nil
	}
	return []byte(s)
}

func parseUint(v []byte) (uint64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

// scanValue returns the value starting at b[i] and the index just past it.
func scanValue(b []byte, i int) ([]byte, int, error) {
	if i >= len(b) {
		return nil, i, ErrSyntax
	}
	start := i
	switch b[i] {
	case '"':
		i = scanString(b, i)
	case '{', '[':
		i = scanNested(b, i)
	default:
		for i < len(b) && !isDelim(b[i]) {
			i++
		}
		if i == start {
			return nil, i, ErrSyntax
		}
	}
	if i < 0 {
		return nil, i, ErrSyntax
	}
	return b[start:i], i, nil
}

func isDelim(c byte) bool {
	return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// scanString returns the index just past the string starting at b[i], or -1.
func scanString(b []byte, i int) int {
	start := i + 1
	for i = start; ; i++ {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		i += j
		escapes := 0
		for k := i - 1; k >= start && b[k] == '\\'; k-- {
			escapes++
		}
		if escapes%2 == 0 {
			return i + 1
		}
	}
}

// scanNested returns the index just past the object or array at b[i], or -1.
func scanNested(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			if i = scanString(b, i); i < 0 {
				return -1
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}

// Elements calls fn with each element of the JSON array arr.
func Elements(arr []byte, fn func(elem []byte) error) error {
	i := skipSpace(arr, 0)
	if i >= len(arr) || arr[i] != '[' {
		return ErrSyntax
	}
	i = skipSpace(arr, i+1)
	for i < len(arr) && arr[i] != ']' {
		elem, next, err := scanValue(arr, i)
		if err != nil {
			return err
		}
		if err := fn(elem); err != nil {
			return err
		}
		i = skipSpace(arr, next)
		if i < len(arr) && arr[i] == ',' {
			i = skipSpace(arr, i+1)
		}
	}
	return nil
}
