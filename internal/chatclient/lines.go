package chatclient

import (
	"bytes"
	"iter"
)

// Lines yields the objects of one gateway frame in order. A frame holds one or more JSON
// objects separated by newlines; empty pieces (a trailing newline, white space) are skipped.
// The slices point into frame.
func Lines(frame []byte) iter.Seq[[]byte] {
	return func(yield func([]byte) bool) {
		for len(frame) > 0 {
			line := frame
			if i := bytes.IndexByte(frame, '\n'); i >= 0 {
				line, frame = frame[:i], frame[i+1:]
			} else {
				frame = nil
			}
			if blank(line) {
				continue
			}
			if !yield(line) {
				return
			}
		}
	}
}

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
