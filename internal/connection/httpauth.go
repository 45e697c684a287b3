package connection

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth"
)

// authObjectSecrets are auth fields whose secret value is an object (a
// dynamic token's request carries the credentials its endpoint wants): they
// are sealed as JSON text.
var authObjectSecrets = map[string]bool{"request": true}

// authConfig turns an auth object (plain and secret fields together) into
// the signer's configuration.
func authConfig(auth map[string]any) (httpauth.Config, error) {
	var cfg httpauth.Config
	b, err := json.Marshal(auth)
	if err != nil {
		return cfg, err
	}
	err = json.Unmarshal(b, &cfg)
	return cfg, err
}

// ValidateHTTPAuth checks an http connection's auth object with the
// signer's own rules.
func ValidateHTTPAuth(auth map[string]any) []Problem {
	cfg, err := authConfig(auth)
	if err != nil {
		return []Problem{{Field: "auth", Message: strings.TrimPrefix(err.Error(), "httpauth: ")}}
	}
	var ve *httpauth.ValidationError
	if err := cfg.Validate(); errors.As(err, &ve) {
		out := make([]Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			out[i] = Problem{Field: p.Path, Message: p.Message}
		}
		return out
	} else if err != nil {
		return []Problem{{Field: "auth", Message: err.Error()}}
	}
	return nil
}

// tokenStore persists a rotated refresh token in the connection's sealed
// secrets.
type tokenStore func(ctx context.Context, token string) error

func (f tokenStore) SaveRefreshToken(ctx context.Context, token string) error { return f(ctx, token) }

// HTTPAuth stacks the signer of an auth object on base.
func HTTPAuth(ctx context.Context, auth map[string]any, baseURL string, base http.RoundTripper, onRefresh func(ctx context.Context, token string) error) (http.RoundTripper, error) {
	cfg, err := authConfig(auth)
	if err != nil {
		return nil, err
	}
	return httpauth.New(cfg, base, httpauth.Options{BaseURL: baseURL, TokenStore: tokenStore(onRefresh)})
}
