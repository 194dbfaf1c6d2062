// Package auth checks and makes the tokens of token mode: JWTs whose "sub" is the user id
// and whose "exp" is required, a number, and not further away than a maximum lifetime;
// "iss" and "aud" must match when the gateway is told them, and "nbf" and "exp" are honoured
// with Leeway. A Verifier accepts only the algorithms it has keys for: HS256 with a shared
// secret, RS256, ES256 and EdDSA with public keys from a PEM file or a JWKS URL. Every
// other algorithm, "none" included, is refused, and a key is used only for the algorithm of
// its type, so a token cannot pick how it is checked.
package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/golang-jwt/jwt/v5"
)

// Errors of Verify; the client sees only "unauthorized".
var (
	ErrNoToken  = errors.New("auth: token missing")
	ErrBadToken = errors.New("auth: token invalid")
	ErrBadUser  = errors.New("auth: token subject is not a valid user id")
)

// MinSecret is the shortest HMAC secret accepted (HS256 wants at least 256 bits).
const MinSecret = 32

// Leeway is the clock skew allowed for "exp" and "nbf": a token is taken until 30 s after
// its exp, and from 30 s before its nbf.
const Leeway = 30 * time.Second

// clock is what tokens' times are checked against; a test stops it to check the leeway's
// edges to the second.
var clock = time.Now

// Identity is who a valid token speaks for, until when.
type Identity struct {
	User string
	// Admin is the token's "chat_admin" claim: a moderator of every room.
	Admin bool
	// Expires is the token's exp; the token is taken until Leeway after it.
	Expires time.Time
}

// Rules are what a token must satisfy besides its signature. Zero values are documented
// per field.
type Rules struct {
	// Issuer, when set, must be the token's "iss".
	Issuer string
	// Audience, when set, must be one of the token's "aud".
	Audience string
	// MaxLifetime bounds how far in the future "exp" may be; zero means DefaultMaxLifetime.
	MaxLifetime time.Duration
}

// DefaultMaxLifetime is the longest a token may still be valid for, unless told otherwise.
const DefaultMaxLifetime = 7 * 24 * time.Hour

// parse checks a token's signature with keys (a jwt.Keyfunc), its algorithm against
// methods, and its claims against rules.
func parse(token string, methods []string, keys jwt.Keyfunc, rules Rules) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(Leeway),
		jwt.WithTimeFunc(clock),
	}
	if rules.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(rules.Issuer))
	}
	if rules.Audience != "" {
		opts = append(opts, jwt.WithAudience(rules.Audience))
	}
	var c claims
	if _, err := jwt.ParseWithClaims(token, &c, keys, opts...); err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if !protocol.ValidName(c.Subject) {
		return Identity{}, ErrBadUser
	}
	maxLife := rules.MaxLifetime
	if maxLife <= 0 {
		maxLife = DefaultMaxLifetime
	}
	if c.ExpiresAt.Time.Sub(clock()) > maxLife+Leeway {
		return Identity{}, fmt.Errorf("%w: it expires more than %v from now", ErrBadToken, maxLife)
	}
	return Identity{User: c.Subject, Admin: c.Admin, Expires: c.ExpiresAt.Time}, nil
}

// claims are the registered claims and chat_admin, with the times required to be JSON
// numbers, as RFC 7519 says ("exp":"9999999999" is refused, not read as a number), and
// chat_admin a JSON boolean ("chat_admin":"true" is refused, so that an identity provider
// mapping it wrongly is noticed rather than silently ignored).
type claims struct {
	jwt.RegisteredClaims
	Admin bool
}

func (c *claims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[k]; ok && (len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
			return fmt.Errorf("claim %s is not a number", k)
		}
	}
	if v, ok := raw["chat_admin"]; ok {
		if err := json.Unmarshal(v, &c.Admin); err != nil {
			return errors.New("claim chat_admin is not true or false")
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// Sign makes an HS256 token for user valid for ttl.
func Sign(secret []byte, user string, ttl time.Duration) (string, error) {
	if !protocol.ValidName(user) {
		return "", ErrBadUser
	}
	now := time.Now()
	claims := jwt.RegisteredClaims{
		Subject:   user,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
