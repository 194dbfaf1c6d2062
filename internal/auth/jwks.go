package auth

import (
	"context"
	"crypto"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"
)

const (
	fetchTimeout = 10 * time.Second // one fetch of the JWKS
	refreshEvery = time.Hour        // the JWKS is fetched again this often in any case
)

// jwks is a JWKS URL's keys, cached and refreshed by jwkset (fetches, the rate limit of
// fetches for unknown kids, keeping the old keys when a fetch fails) and picked for a token
// by keyfunc (by kid, checking the key's alg and use).
type jwks struct {
	kf   keyfunc.Keyfunc
	stop context.CancelFunc // ends the hourly refreshes
}

func newJWKS(cfg Config) (*jwks, error) {
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: fetchTimeout}
	}
	every := cfg.RefetchEvery
	if every <= 0 {
		every = time.Minute
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	store, err := jwkset.NewStorageFromHTTP(cfg.JWKSURL, jwkset.HTTPClientStorageOptions{
		Client:          client,
		Ctx:             ctx,
		HTTPTimeout:     fetchTimeout,
		RefreshInterval: refreshEvery,
		RefreshErrorHandler: func(_ context.Context, err error) {
			log.Warn("fetching the JWKS failed; the keys fetched before are kept", "url", cfg.JWKSURL, "err", err)
		},
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	set, err := jwkset.NewHTTPClient(jwkset.HTTPClientOptions{
		HTTPURLs: map[string]jwkset.Storage{cfg.JWKSURL: store},
		// A token naming an unknown kid waits at most this long for its turn to fetch (and
		// for the fetch): a second unknown kid within RefetchEvery is refused at once.
		RateLimitWaitMax:  fetchTimeout,
		RefreshUnknownKID: rate.NewLimiter(rate.Every(every), 1),
	})
	if err != nil {
		stop()
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	kf, err := keyfunc.New(keyfunc.Options{Ctx: ctx, Storage: set, UseWhitelist: []jwkset.USE{jwkset.UseSig, ""}})
	if err != nil {
		stop()
		return nil, fmt.Errorf("auth: JWKS: %w", err)
	}
	return &jwks{kf: kf, stop: stop}, nil
}

// keys returns the keys that may have signed t, of algorithm alg: the key its kid names,
// or without a kid every key of the set.
func (j *jwks) keys(ctx context.Context, t *jwt.Token, alg string) ([]crypto.PublicKey, error) {
	got, err := j.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, err
	}
	var all []crypto.PublicKey
	switch k := got.(type) {
	case jwt.VerificationKeySet:
		for _, key := range k.Keys {
			all = append(all, key)
		}
	default:
		all = append(all, k)
	}
	var out []crypto.PublicKey
	for _, k := range all {
		if a, err := algOf(k); err == nil && a == alg {
			out = append(out, k)
		}
	}
	return out, nil
}
