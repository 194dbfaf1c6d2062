package smallset

import (
	"slices"
	"testing"
)

func TestSetAddsOnceDeletesAndForgetsWhenEmpty(t *testing.T) {
	var s Set[string]
	if s.Has("a") || len(s) != 0 {
		t.Fatal("the zero set is not empty")
	}
	if !s.Add("a") || !s.Add("b") || s.Add("a") {
		t.Fatal("Add: want true, true, then false for a member")
	}
	if !slices.Equal(s, Set[string]{"a", "b"}) || !s.Has("b") {
		t.Fatalf("set %v, want [a b]", s)
	}
	if s.Delete("c") || !s.Delete("a") || s.Has("a") || !slices.Equal(s, Set[string]{"b"}) {
		t.Fatalf("after deleting a (and not c): %v, want [b]", s)
	}
	if !s.Delete("b") || s != nil {
		t.Fatalf("an emptied set holds %v (cap %d), want nil", s, cap(s))
	}
}
