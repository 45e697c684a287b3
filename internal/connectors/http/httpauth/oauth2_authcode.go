package httpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"golang.org/x/oauth2"
)

// GenerateVerifier returns a new PKCE code verifier (RFC 7636 §4.1: 32
// random octets, base64url, 43 characters). Keep it with the state until
// the callback, then pass it to Exchange.
func GenerateVerifier() string { return oauth2.GenerateVerifier() }

// AuthCodeURL returns the link that sends a user to consent, for an oauth2
// connection with grant authorization_code: response_type=code, the
// client_id, redirectURL, the scopes, state and the PKCE S256 challenge of
// verifier (RFC 7636 §4.2), plus audience and extra_params. The caller
// stores state and verifier and checks state at the callback.
func AuthCodeURL(cfg Config, state, verifier, redirectURL string) (string, error) {
	if state == "" {
		return "", errors.New("httpauth: an authorization request needs a state")
	}
	o, err := authCodeConfig(cfg, verifier, redirectURL)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for k, v := range o.extraParams() {
		opts = append(opts, oauth2.SetAuthURLParam(k, v[0]))
	}
	return o.config(redirectURL).AuthCodeURL(state, opts...), nil
}

// Exchange trades the code from the callback for tokens (RFC 6749 §4.1.3,
// with the PKCE code_verifier of RFC 7636 §4.5). base is the egress
// guard's transport: the token request goes through it and follows no
// redirect. Store the returned RefreshToken as the connection's
// refresh_token; New then uses it.
func Exchange(ctx context.Context, cfg Config, code, verifier, redirectURL string, base http.RoundTripper) (*oauth2.Token, error) {
	o, err := authCodeConfig(cfg, verifier, redirectURL)
	if err != nil {
		return nil, err
	}
	if code == "" {
		return nil, errors.New("httpauth: the callback carried no authorization code")
	}
	if base == nil {
		return nil, errors.New("httpauth: no base transport: pass the egress guard's transport")
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, tokenClient(base))
	tok, err := o.config(redirectURL).Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, oauth2Error(endpointOf(o.TokenURL), err)
	}
	return tok, nil
}

func authCodeConfig(cfg Config, verifier, redirectURL string) (*OAuth2, error) {
	if cfg.Type != TypeOAuth2 || cfg.OAuth2 == nil || cfg.OAuth2.Grant != GrantAuthorizationCode {
		return nil, fmt.Errorf("httpauth: consent needs an oauth2 connection with grant authorization_code, not %s", cfg.Type)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !validVerifier(verifier) {
		return nil, errors.New("httpauth: the PKCE verifier must be 43 to 128 characters of letters, digits and -._~ (RFC 7636 §4.1): use GenerateVerifier")
	}
	u, err := url.Parse(redirectURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("httpauth: redirect URL %q is not an absolute http or https URL", redirectURL)
	}
	return cfg.OAuth2, nil
}

// validVerifier is RFC 7636 §4.1: code-verifier = 43*128unreserved.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~'
		if !ok {
			return false
		}
	}
	return true
}
