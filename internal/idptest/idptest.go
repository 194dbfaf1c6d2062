// Package idptest is an identity provider for tests: it makes RSA, P-256 and Ed25519 keys,
// signs tokens with them, and publishes their public halves as a JWKS on a real HTTP
// server, which can be told to fail and counts its fetches.
package idptest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/MicahParks/jwkset"
	"github.com/golang-jwt/jwt/v5"
)

// Key is one signing key of the provider.
type Key struct {
	KID    string
	Method jwt.SigningMethod
	Signer crypto.Signer
	// NoAlg publishes the key without its "alg" (identity providers may leave it out).
	NoAlg bool
}

// NewKey makes a key for alg: "RS256", "ES256" or "EdDSA".
func NewKey(t testing.TB, kid, alg string) Key {
	t.Helper()
	var s crypto.Signer
	var err error
	switch alg {
	case "RS256":
		s, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		s, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "EdDSA":
		_, s, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("idptest: no algorithm %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return Key{KID: kid, Method: jwt.GetSigningMethod(alg), Signer: s}
}

// Sign signs claims with k, naming its kid in the header unless it is empty.
func (k Key) Sign(t testing.TB, claims jwt.Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(k.Method, claims)
	if k.KID != "" {
		tok.Header["kid"] = k.KID
	}
	s, err := tok.SignedString(k.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// PEM is the key's public half as a PEM "PUBLIC KEY" block.
func (k Key) PEM(t testing.TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.Signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// IdP serves a JWKS of its keys at URL.
type IdP struct {
	URL     string
	fetches atomic.Int64

	mu   sync.Mutex
	keys []Key
	fail bool
}

// Start serves a JWKS of keys until the test ends.
func Start(t testing.TB, keys ...Key) *IdP {
	t.Helper()
	p := &IdP{keys: keys}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL + "/jwks.json"
	return p
}

// Publish replaces the published keys (a rotation).
func (p *IdP) Publish(keys ...Key) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys = keys
}

// Fail makes every fetch answer 503 (true) or the keys again (false).
func (p *IdP) Fail(fail bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fail = fail
}

// Fetches is how many times the JWKS was asked for, failures included.
func (p *IdP) Fetches() int64 { return p.fetches.Load() }

func (p *IdP) serve(w http.ResponseWriter, r *http.Request) {
	p.fetches.Add(1)
	p.mu.Lock()
	keys, fail := p.keys, p.fail
	p.mu.Unlock()
	if fail {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	set := jwkset.NewMemoryStorage()
	for _, k := range keys {
		meta := jwkset.JWKMetadataOptions{KID: k.KID, ALG: jwkset.ALG(k.Method.Alg()), USE: jwkset.UseSig}
		if k.NoAlg {
			meta.ALG = ""
		}
		jwk, err := jwkset.NewJWKFromKey(k.Signer.Public(), jwkset.JWKOptions{Metadata: meta})
		if err == nil {
			err = set.KeyWrite(r.Context(), jwk)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	body, err := set.JSONPublic(context.WithoutCancel(r.Context()))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}
