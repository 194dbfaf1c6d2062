package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"unicode/utf8"

	"github.com/chathub/chathub/internal/protocol"
)

// decode reads a body holding one JSON object into v (a pointer to a struct), strictly: a
// field v does not have (names are case-sensitive, unlike encoding/json's matching), a
// field of the wrong type or anything after the object is bad_request. An empty body is {}.
func decode(body []byte, v any) *protocol.Error {
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	if !utf8.Valid(body) {
		return protocol.Errorf(protocol.CodeBadRequest, "the body is not valid UTF-8")
	}
	if bytes.TrimSpace(body)[0] != '{' {
		return protocol.Errorf(protocol.CodeBadRequest, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "%s", decodeError(err))
	}
	if len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return protocol.Errorf(protocol.CodeBadRequest, "one JSON object per body")
	}
	return exactNames(body, v)
}

// exactNames refuses a field whose name matches one of v's only when case is ignored
// ("chatroomID"): encoding/json would take it for chatroomId.
func exactNames(body []byte, v any) *protocol.Error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return protocol.Errorf(protocol.CodeBadRequest, "the body is not a valid JSON object")
	}
	t := reflect.TypeOf(v).Elem()
	names := make(map[string]bool, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names[name] = true
	}
	for name := range fields {
		if !names[name] {
			return protocol.Errorf(protocol.CodeBadRequest, "unknown field %q", name)
		}
	}
	return nil
}

// decodeError says what is wrong with a body without quoting it.
func decodeError(err error) string {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field != "":
		return typ.Field + " has the wrong type"
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return "the body is not a valid JSON object"
}

// room checks a chatroomId.
func room(id string) *protocol.Error {
	switch {
	case id == "":
		return protocol.Errorf(protocol.CodeBadRequest, "chatroomId is missing")
	case !protocol.ValidName(id):
		return protocol.Errorf(protocol.CodeInvalidRoom, "chatroomId must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	return nil
}

// user checks a userId that must be given.
func user(id string) *protocol.Error {
	switch {
	case id == "":
		return protocol.Errorf(protocol.CodeBadRequest, "userId is missing")
	case !protocol.ValidName(id):
		return protocol.Errorf(protocol.CodeInvalidUser, "userId must be 1 to 64 of A-Z a-z 0-9 _ -")
	}
	return nil
}

func firstError(es ...*protocol.Error) *protocol.Error {
	for _, e := range es {
		if e != nil {
			return e
		}
	}
	return nil
}

// encode marshals an answer; answers hold only strings, numbers and raw JSON made here.
func encode(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("api: encode answer: " + err.Error())
	}
	return b
}
