package control

import "sync"

// recentKeys bounds the writes a recent remembers: enough for every change in flight in a
// join storm (a join writes its session key, then its member key twice), not one entry per
// connection for its life.
const recentKeys = 4096

// recent remembers this gateway's last writes to a bucket, the value and its revision, so
// that the next change of a key it wrote a moment ago (a join writes the session key that
// the connect wrote; a member change writes its key, then clears the key's mark) tries its
// compare-and-set on what it wrote instead of reading the key first. A remembered value is
// only a guess: if anyone wrote the key since, the compare-and-set fails and update reads
// the leader, as after any conflict. It saves one read per such change.
type recent struct {
	mu   sync.Mutex
	m    map[string]recentWrite
	ring []string // keys in the order written, to forget the oldest
	next int
}

type recentWrite struct {
	val []byte
	rev uint64
}

func newRecent() *recent {
	return &recent{m: make(map[string]recentWrite), ring: make([]string, recentKeys)}
}

// get returns the value written last to key and its revision, if remembered.
func (r *recent) get(key string) (val []byte, rev uint64, ok bool) {
	if r == nil {
		return nil, 0, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	w, ok := r.m[key]
	return w.val, w.rev, ok
}

// put remembers a write of key (val nil: a delete, which is forgotten instead).
func (r *recent) put(key string, val []byte, rev uint64) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if val == nil {
		delete(r.m, key)
		return
	}
	if _, ok := r.m[key]; !ok {
		if old := r.ring[r.next]; old != "" {
			delete(r.m, old)
		}
		r.ring[r.next] = key
		r.next = (r.next + 1) % len(r.ring)
	}
	r.m[key] = recentWrite{val: val, rev: rev}
}

// forget drops what is remembered of key (a write of it failed or lost its race).
func (r *recent) forget(key string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.m, key)
}
