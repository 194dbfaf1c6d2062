package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// keys are the API keys' SHA-256 sums: a presented key is hashed and compared with every
// one in constant time, so neither its content nor its length shows in the time taken.
type keys [][sha256.Size]byte

func newKeys(list []string) keys {
	var k keys
	for _, s := range list {
		if s != "" {
			k = append(k, sha256.Sum256([]byte(s)))
		}
	}
	return k
}

// match reports whether key is one of the keys; it compares with all of them.
func (k keys) match(key string) bool {
	sum := sha256.Sum256([]byte(key))
	ok := 0
	for i := range k {
		ok |= subtle.ConstantTimeCompare(sum[:], k[i][:])
	}
	return ok == 1 && key != ""
}

// authorized reports whether r carries one of the keys as "Authorization: Bearer <key>".
func (k keys) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	return ok && strings.EqualFold(scheme, "Bearer") && k.match(strings.TrimSpace(key))
}

// ParseKeys reads an API key file: one key a line; blank lines and lines starting with #
// are skipped, and white space around a key is trimmed.
func ParseKeys(data string) []string {
	var out []string
	for _, line := range strings.Split(data, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	return out
}
