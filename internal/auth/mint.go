package auth

import (
	"time"

	"github.com/chathub/chathub/internal/protocol"
	"github.com/golang-jwt/jwt/v5"
)

// Grant is what a token minted by Mint says.
type Grant struct {
	// User is the token's "sub".
	User string
	// TTL is how long the token is valid from now.
	TTL time.Duration
	// Admin sets "chat_admin":true: the user moderates every room.
	Admin bool
	// Issuer and Audience, when set, become "iss" and "aud", so that a gateway checking
	// them accepts the token.
	Issuer, Audience string
}

// mintClaims are the claims of a minted token.
type mintClaims struct {
	jwt.RegisteredClaims
	Admin bool `json:"chat_admin,omitempty"`
}

// Mint signs a token for g with secret (HS256) and returns it with its expiry.
func Mint(secret []byte, g Grant) (string, time.Time, error) {
	if !protocol.ValidName(g.User) {
		return "", time.Time{}, ErrBadUser
	}
	now := time.Now()
	exp := now.Add(g.TTL)
	c := mintClaims{Admin: g.Admin, RegisteredClaims: jwt.RegisteredClaims{
		Subject:   g.User,
		Issuer:    g.Issuer,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}}
	if g.Audience != "" {
		c.Audience = jwt.ClaimStrings{g.Audience}
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(secret)
	return tok, exp, err
}
