// Package auth checks and makes the tokens of token mode: JWTs signed with HS256 whose
// "sub" is the user id and whose "exp" is required. Every other algorithm, "none"
// included, is refused.
package auth

import (
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

// Verify checks a token against secret.
func Verify(secret []byte, token string) (Identity, error) {
	if token == "" {
		return Identity{}, ErrNoToken
	}
	var claims jwt.RegisteredClaims
	_, err := jwt.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return secret, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: %w", ErrBadToken, err)
	}
	if !protocol.ValidName(claims.Subject) {
		return Identity{}, ErrBadUser
	}
	return Identity{User: claims.Subject, Expires: claims.ExpiresAt.Time}, nil
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
