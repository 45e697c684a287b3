package httpauth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-dev/sluice/internal/netguard"
)

// TokenStore keeps an OAuth 2.0 refresh token that the authorization server
// rotated, so the next start uses the new one. The connection layer backs
// it with the connection's encrypted secrets.
type TokenStore interface {
	// SaveRefreshToken persists token as the connection's refresh token. It
	// is called with the request's context, at most once per rotation, and
	// again on the next request if it failed.
	SaveRefreshToken(ctx context.Context, token string) error
}

// Options are what New needs besides the configuration.
type Options struct {
	// BaseURL is the connection's base URL (required). Credentials are sent
	// only to its origin (scheme, host and port); a dynamic token's request
	// path is resolved against it.
	BaseURL string

	// TokenStore persists rotated OAuth 2.0 refresh tokens. Required for
	// the refresh_token and authorization_code grants.
	TokenStore TokenStore

	// ExpiryMargin is how long before a token's expiry it is renewed
	// (default 30 s; never more than half the token's lifetime).
	ExpiryMargin time.Duration

	// DedicatedTransport tells an NTLM signer that base serves this one
	// credential only, so it need not clone it. Leave false unless base is
	// not an *http.Transport.
	DedicatedTransport bool

	// Now and Nonce replace the clock and the OAuth 1.0a nonce source in
	// tests. Nil means time.Now and 24 random letters and digits.
	Now   func() time.Time
	Nonce func() string
}

const (
	defaultExpiryMargin = 30 * time.Second
	defaultTokenLife    = 5 * time.Minute
	maxTokenAnswer      = 1 << 20  // bytes read from a token endpoint
	maxSignedBody       = 16 << 20 // bytes of a form body read to sign it (OAuth 1.0a)
)

// New returns a RoundTripper that authenticates requests with cfg and sends
// them through base, the egress guard's transport. It validates cfg and
// does no I/O. Requests to an origin other than opts.BaseURL's go out
// unauthenticated. Type none returns base itself.
func New(cfg Config, base http.RoundTripper, opts Options) (http.RoundTripper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if base == nil {
		return nil, errors.New("httpauth: no base transport: pass the egress guard's transport")
	}
	origin, err := parseOrigin(opts.BaseURL)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ExpiryMargin <= 0 {
		opts.ExpiryMargin = defaultExpiryMargin
	}
	return newSigner(cfg, base, origin, opts)
}

func newSigner(cfg Config, base http.RoundTripper, origin *url.URL, opts Options) (http.RoundTripper, error) {
	switch cfg.normalizedType() {
	case TypeNone:
		return base, nil
	case TypeBasic:
		return newBasic(cfg.Basic, base, origin), nil
	case TypeBearer:
		return newHeaderSigner(base, origin, "Authorization", "Bearer "+cfg.Bearer.Token), nil
	case TypeAPIKey:
		return newAPIKey(cfg.APIKey, base, origin), nil
	case TypeOAuth1:
		return newOAuth1(cfg.OAuth1, base, origin, opts)
	case TypeOAuth2:
		return newOAuth2(cfg.OAuth2, base, origin, opts)
	case TypeNTLM:
		return newNTLM(cfg.NTLM, base, origin, opts)
	case TypeDynamicToken:
		return newDynamic(cfg.DynamicToken, base, origin, opts)
	}
	return nil, fmt.Errorf("httpauth: unknown auth type %q", cfg.Type)
}

func parseOrigin(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, errors.New("httpauth: Options.BaseURL is required: credentials are only sent to the connection's base URL")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("httpauth: base URL %q is not an absolute http or https URL", raw)
	}
	return u, nil
}

// signingTransport adds credentials to a clone of each request for its
// origin. The static schemes (Basic, Bearer, API key, OAuth 1.0a) are one
// sign function each.
type signingTransport struct {
	base   http.RoundTripper
	origin *url.URL
	sign   func(*http.Request) error
}

// RoundTrip signs a clone of req (for the connection's origin only) and
// sends it through the base transport.
func (t *signingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !netguard.SameOrigin(t.origin, req.URL) {
		return t.base.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	if err := t.sign(r); err != nil {
		closeBody(req)
		closeBody(r)
		return nil, err
	}
	return t.base.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the base.
func (t *signingTransport) CloseIdleConnections() { closeIdle(t.base) }

func newHeaderSigner(base http.RoundTripper, origin *url.URL, name, value string) *signingTransport {
	return &signingTransport{base: base, origin: origin, sign: func(r *http.Request) error {
		r.Header.Set(name, value)
		return nil
	}}
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// closeBody closes a request body the way a RoundTripper must when it
// returns an error before handing the request on.
func closeBody(r *http.Request) {
	if r != nil && r.Body != nil {
		_ = r.Body.Close()
	}
}

// drain reads a little of a response body and closes it, so the connection
// can be reused.
func drain(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	_ = resp.Body.Close()
}

// replayable returns a fresh copy of req with a new body for a second
// attempt, or nil when the body cannot be read again.
func replayable(req *http.Request) *http.Request {
	r := req.Clone(req.Context())
	if req.Body == nil || req.Body == http.NoBody {
		return r
	}
	if req.GetBody == nil {
		return nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil
	}
	r.Body = body
	return r
}

// tokenClient is the http.Client used for token requests: the base
// transport, no redirects (a token endpoint that redirects would take the
// client secret along), no cookies.
func tokenClient(rt http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: rt,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}
