// Package smallset is a set kept as a slice, for the sets a connection holds for its life:
// the rooms it is in, a user's sessions. They hold one or a few members, where a Go map
// costs hundreds of bytes each (a connection in one room kept 450 bytes for its map of
// rooms); lookups scan, which for a few members is as fast as hashing.
package smallset

import "slices"

// Set is a set of comparable values, in the order they were added. The zero value is an
// empty set. Its methods that change it take a pointer.
type Set[T comparable] []T

// Has reports whether v is in s.
func (s Set[T]) Has(v T) bool { return slices.Contains(s, v) }

// Add puts v in s, and reports whether it was not there.
func (s *Set[T]) Add(v T) bool {
	if s.Has(v) {
		return false
	}
	*s = append(*s, v)
	return true
}

// Delete takes v out of s, and reports whether it was there. An emptied set holds no
// memory.
func (s *Set[T]) Delete(v T) bool {
	i := slices.Index(*s, v)
	if i < 0 {
		return false
	}
	*s = slices.Delete(*s, i, i+1)
	if len(*s) == 0 {
		*s = nil
	}
	return true
}
