package httpauth

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/sluice-dev/sluice/internal/netguard"
)

// cachedToken is one token as it is sent: the whole header value, when it
// expires and when to renew it. Zero times mean "not known": such a token
// is used until the server refuses it.
type cachedToken struct {
	header  string
	expiry  time.Time
	renewAt time.Time
}

// renewTime is when to fetch a token that expires at expiry: margin before,
// but never more than half its remaining life, so a 60-second token is not
// renewed on every request.
func renewTime(now, expiry time.Time, margin time.Duration) time.Time {
	if expiry.IsZero() {
		return time.Time{}
	}
	life := expiry.Sub(now)
	if life <= 0 {
		return expiry
	}
	return expiry.Add(-min(margin, life/2))
}

// tokenCache holds one token and fetches a new one, with the context of the
// request that needs it, when there is none, when it is due for renewal or
// when the server refused it. One fetch runs at a time; the others wait
// for it (or for their context).
type tokenCache struct {
	fetch func(context.Context) (cachedToken, error)
	now   func() time.Time
	sem   chan struct{}
	cur   *cachedToken // guarded by sem
}

func newTokenCache(fetch func(context.Context) (cachedToken, error), now func() time.Time) *tokenCache {
	return &tokenCache{fetch: fetch, now: now, sem: make(chan struct{}, 1)}
}

// get returns the token to send. refused is the header value a server just
// answered 401 to ("" for none): if it is still the cached one, a new token
// is fetched; if another request already replaced it, the new one is
// returned without a second fetch.
func (c *tokenCache) get(ctx context.Context, refused string) (cachedToken, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return cachedToken{}, ctx.Err()
	}
	defer func() { <-c.sem }()
	now := c.now()
	cur := c.cur
	usable := cur != nil && (refused == "" || cur.header != refused)
	if usable && (cur.renewAt.IsZero() || now.Before(cur.renewAt)) {
		return *cur, nil
	}
	t, err := c.fetch(ctx)
	if err != nil {
		// Renewal failed but the current token has not expired and was not
		// refused: keep using it; the next request tries again.
		if usable && !cur.expiry.IsZero() && now.Before(cur.expiry) {
			return *cur, nil
		}
		return cachedToken{}, err
	}
	c.cur = &t
	return t, nil
}

// tokenTransport sends the cached token in a header (OAuth 2.0, dynamic
// token) and, when the server answers 401, fetches a new token and tries
// once more if the request body can be sent again.
type tokenTransport struct {
	base   http.RoundTripper
	origin *url.URL
	cache  *tokenCache
	header string
	close  func() // extra CloseIdleConnections work (a token transport)
}

// RoundTrip sends a clone of req with the token (for the connection's
// origin only).
func (t *tokenTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !netguard.SameOrigin(t.origin, req.URL) {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	tok, err := t.cache.get(ctx, "")
	if err != nil {
		closeBody(req)
		return nil, err
	}
	r := req.Clone(ctx)
	r.Header.Set(t.header, tok.header)
	resp, err := t.base.RoundTrip(r)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	again := replayable(req)
	if again == nil {
		return resp, nil
	}
	fresh, err := t.cache.get(ctx, tok.header)
	if err != nil {
		drain(resp)
		closeBody(again)
		return nil, err
	}
	if fresh.header == tok.header {
		closeBody(again)
		return resp, nil
	}
	drain(resp)
	again.Header.Set(t.header, fresh.header)
	return t.base.RoundTrip(again)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the base.
func (t *tokenTransport) CloseIdleConnections() {
	closeIdle(t.base)
	if t.close != nil {
		t.close()
	}
}
