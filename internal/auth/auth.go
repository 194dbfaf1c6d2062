// Package auth checks and makes the tokens of token mode: JWTs signed with HS256 whose
// "sub" is the user id and whose "exp" is required, a number, and not further away than a
// maximum lifetime; "iss" and "aud" must match when the gateway is told them. Every other
// algorithm, "none" included, is refused.
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

// Identity is who a valid token speaks for, until when.
type Identity struct {
	User    string
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

// leeway is the clock skew allowed for "exp" and "nbf".
const leeway = 5 * time.Second

// Verify checks a token against secret and rules.
func Verify(secret []byte, token string, rules Rules) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(leeway),
	}
	if rules.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(rules.Issuer))
	}
	if rules.Audience != "" {
		opts = append(opts, jwt.WithAudience(rules.Audience))
	}
	var claims strictClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return secret, nil }, opts...)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if !protocol.ValidName(claims.Subject) {
		return Identity{}, ErrBadUser
	}
	maxLife := rules.MaxLifetime
	if maxLife <= 0 {
		maxLife = DefaultMaxLifetime
	}
	if time.Until(claims.ExpiresAt.Time) > maxLife+leeway {
		return Identity{}, fmt.Errorf("%w: it expires more than %v from now", ErrBadToken, maxLife)
	}
	return Identity{User: claims.Subject, Expires: claims.ExpiresAt.Time}, nil
}

// strictClaims are the registered claims, with the times required to be JSON numbers, as
// RFC 7519 says ("exp":"9999999999" is refused, not read as a number).
type strictClaims struct{ jwt.RegisteredClaims }

func (c *strictClaims) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	for _, k := range []string{"exp", "nbf", "iat"} {
		if v, ok := raw[k]; ok && (len(v) == 0 || (v[0] != '-' && (v[0] < '0' || v[0] > '9'))) {
			return fmt.Errorf("claim %s is not a number", k)
		}
	}
	return json.Unmarshal(b, &c.RegisteredClaims)
}

// Sign makes a token for user valid for ttl.
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
