package auth

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Config says which tokens a Verifier accepts. At least one of Secret, PublicKeyPEM and
// JWKSURL is required; Secret may be combined with either of the others (an application
// that mints HS256 tokens itself besides those of its identity provider), PublicKeyPEM and
// JWKSURL may not be combined. Zero values are documented per field.
type Config struct {
	// Secret verifies HS256 tokens; nil accepts no HS256 token. At least MinSecret bytes.
	Secret []byte
	// PublicKeyPEM holds one or more PEM public keys ("PUBLIC KEY", "RSA PUBLIC KEY" or
	// "CERTIFICATE" blocks): an RSA key of at least 2048 bits verifies RS256, a P-256 key
	// ES256, an Ed25519 key EdDSA. Several keys allow a rotation; a token is checked against
	// those of its algorithm. Nil accepts none.
	PublicKeyPEM []byte
	// JWKSURL is where the identity provider publishes its keys (RSA, P-256 and Ed25519
	// keys are used, for RS256, ES256 and EdDSA). It is fetched when the Verifier is made
	// (an error then fails NewVerifier), every hour, and when a token names a kid not known
	// (at most once per RefetchEvery); a failed fetch keeps the keys there were. Empty: none.
	JWKSURL string
	// HTTPClient fetches JWKSURL; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
	// RefetchEvery is the least time between two fetches for unknown kids; zero means a
	// minute.
	RefetchEvery time.Duration
	// Rules are what a token must satisfy besides its signature.
	Rules Rules
	// Logger receives failed fetches of JWKSURL; nil discards them.
	Logger *slog.Logger
}

// Verifier checks tokens. Make it with NewVerifier and end it with Close.
type Verifier struct {
	rules   Rules
	methods []string // the algorithms there are keys for
	secret  []byte
	pem     map[string][]crypto.PublicKey // by algorithm
	jwks    *jwks
}

// The algorithms a Verifier may accept.
var (
	hs256 = jwt.SigningMethodHS256.Alg()
	rs256 = jwt.SigningMethodRS256.Alg()
	es256 = jwt.SigningMethodES256.Alg()
	eddsa = jwt.SigningMethodEdDSA.Alg()
)

// NewVerifier makes a Verifier for cfg; with a JWKSURL it fetches the keys first (within
// 10 s).
func NewVerifier(cfg Config) (*Verifier, error) {
	v := &Verifier{rules: cfg.Rules}
	if cfg.Secret != nil {
		if len(cfg.Secret) < MinSecret {
			return nil, fmt.Errorf("auth: the secret must be at least %d bytes", MinSecret)
		}
		v.secret = cfg.Secret
		v.methods = append(v.methods, hs256)
	}
	switch {
	case cfg.PublicKeyPEM != nil && cfg.JWKSURL != "":
		return nil, errors.New("auth: a public key file or a JWKS URL, not both")
	case cfg.PublicKeyPEM != nil:
		keys, err := parsePEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, err
		}
		v.pem = keys
		for _, alg := range []string{rs256, es256, eddsa} {
			if len(keys[alg]) > 0 {
				v.methods = append(v.methods, alg)
			}
		}
	case cfg.JWKSURL != "":
		j, err := newJWKS(cfg)
		if err != nil {
			return nil, err
		}
		v.jwks = j
		v.methods = append(v.methods, rs256, es256, eddsa)
	}
	if len(v.methods) == 0 {
		return nil, errors.New("auth: no secret, public key or JWKS URL to verify tokens with")
	}
	return v, nil
}

// Close stops the JWKS refreshes, if any. A nil Verifier may be closed.
func (v *Verifier) Close() {
	if v != nil && v.jwks != nil {
		v.jwks.stop()
	}
}

// Verify checks a token. ctx bounds a fetch of the JWKS that a new kid may cause.
func (v *Verifier) Verify(ctx context.Context, token string) (Identity, error) {
	return parse(token, v.methods, func(t *jwt.Token) (any, error) { return v.key(ctx, t) }, v.rules)
}

// key returns the keys that may have signed t: those of t's algorithm only.
func (v *Verifier) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	var keys []crypto.PublicKey
	switch {
	case alg == hs256 && v.secret != nil:
		return v.secret, nil
	case alg == hs256:
		return nil, errors.New("no secret")
	case v.pem != nil:
		keys = v.pem[alg]
	case v.jwks != nil:
		var err error
		if keys, err = v.jwks.keys(ctx, t, alg); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no %s key", alg)
	}
	set := jwt.VerificationKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, k)
	}
	return set, nil
}
