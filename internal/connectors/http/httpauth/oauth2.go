package httpauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// OAuth 2.0 (RFC 6749). golang.org/x/oauth2 does the protocol: token
// requests, client authentication (client_secret_basic with the
// form-encoded id and secret of RFC 6749 §2.3.1, or client_secret_post),
// refresh, PKCE and error parsing. Written here: the cache around it
// (tokencache.go), because x/oauth2's ReuseTokenSource fetches without a
// context, so a cancelled run could not stop a hanging token request;
// persisting rotated refresh tokens; and errors that never carry the token
// endpoint's raw answer (RetrieveError.Error prints it).

type oauth2Source struct {
	o        OAuth2
	client   *http.Client
	store    TokenStore
	now      func() time.Time
	margin   time.Duration
	endpoint string

	// Guarded by the token cache's semaphore: fetch runs one at a time.
	refresh string
	unsaved bool
}

func newOAuth2(o *OAuth2, base http.RoundTripper, origin *url.URL, opts Options) (http.RoundTripper, error) {
	if o.Grant != GrantClientCredentials {
		if o.RefreshToken == "" {
			return nil, ErrConsentRequired
		}
		if opts.TokenStore == nil {
			return nil, ErrTokenStoreRequired
		}
	}
	s := &oauth2Source{
		o:        *o,
		client:   tokenClient(base),
		store:    opts.TokenStore,
		now:      opts.Now,
		margin:   opts.ExpiryMargin,
		endpoint: endpointOf(o.TokenURL),
		refresh:  o.RefreshToken,
	}
	return &tokenTransport{
		base:   base,
		origin: origin,
		cache:  newTokenCache(s.fetch, opts.Now),
		header: "Authorization",
	}, nil
}

func (s *oauth2Source) fetch(ctx context.Context) (cachedToken, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, s.client)
	var (
		tok *oauth2.Token
		err error
	)
	if s.o.Grant == GrantClientCredentials {
		cc := clientcredentials.Config{
			ClientID:       s.o.ClientID,
			ClientSecret:   s.o.ClientSecret,
			TokenURL:       s.o.TokenURL,
			Scopes:         s.o.Scopes,
			EndpointParams: s.o.extraParams(),
			AuthStyle:      s.o.authStyle(),
		}
		tok, err = cc.Token(ctx)
	} else {
		// A token with only a refresh token is expired for x/oauth2, so
		// Token() refreshes at once, with ctx.
		tok, err = s.o.config("").TokenSource(ctx, &oauth2.Token{RefreshToken: s.refresh}).Token()
		if err == nil && tok.RefreshToken != "" && tok.RefreshToken != s.refresh {
			s.refresh, s.unsaved = tok.RefreshToken, true
		}
	}
	if err != nil {
		return cachedToken{}, oauth2Error(s.endpoint, err)
	}
	if s.unsaved {
		if err := s.store.SaveRefreshToken(ctx, s.refresh); err != nil {
			return cachedToken{}, fmt.Errorf("httpauth: the authorization server rotated the refresh token and it could not be stored (the request was not sent; it is tried again next time): %w", err)
		}
		s.unsaved = false
	}
	if tok.AccessToken == "" || hasCTL(tok.AccessToken) || strings.ContainsAny(tok.AccessToken, " ") {
		return cachedToken{}, fmt.Errorf("httpauth: token endpoint %s answered an empty or malformed access_token", s.endpoint)
	}
	now := s.now()
	return cachedToken{
		header:  tok.Type() + " " + tok.AccessToken,
		expiry:  tok.Expiry,
		renewAt: renewTime(now, tok.Expiry, s.margin),
	}, nil
}

// config is the x/oauth2 view of o. The auth style is always explicit:
// x/oauth2's default probes by sending the secret both ways.
func (o *OAuth2) config(redirectURL string) *oauth2.Config {
	return &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: o.ClientSecret,
		Endpoint: oauth2.Endpoint{
			AuthURL:   o.AuthURL,
			TokenURL:  o.TokenURL,
			AuthStyle: o.authStyle(),
		},
		RedirectURL: redirectURL,
		Scopes:      o.Scopes,
	}
}

func (o *OAuth2) authStyle() oauth2.AuthStyle {
	if o.AuthStyle == AuthStylePost {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}

func (o *OAuth2) extraParams() url.Values {
	v := url.Values{}
	if o.Audience != "" {
		v.Set("audience", o.Audience)
	}
	for k, val := range o.ExtraParams {
		v.Set(k, val)
	}
	return v
}

// oauth2Error turns an x/oauth2 error into one that names the endpoint and
// the RFC 6749 §5.2 code but not the answer's body.
func oauth2Error(endpoint string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		hint := tokenHint(re.ErrorCode, status)
		if status >= 300 && status < 400 {
			hint = "the token endpoint redirects, and token requests follow no redirect: enter the final URL"
		}
		return &TokenError{
			Endpoint:    endpoint,
			Status:      status,
			Code:        shorten(re.ErrorCode, 64),
			Description: shorten(re.ErrorDescription, 200),
			Hint:        hint,
		}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("httpauth: token request to %s: %w", endpoint, err)
	}
	return fmt.Errorf("httpauth: token request to %s: %w", endpoint, redactURLError(err))
}

func endpointOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "[unparsable URL]"
	}
	return endpointString(u)
}
