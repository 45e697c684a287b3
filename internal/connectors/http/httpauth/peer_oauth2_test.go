package httpauth

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth/peertest"
)

// The OAuth 2.0 peer: oidc-provider from npm (testdata/peers/oauth2_server.mjs),
// a certified authorization server: it authenticates clients, requires
// PKCE S256, rotates refresh tokens and refuses a reused one.

const (
	peerRedirect    = "http://127.0.0.1/sluice/callback" // never contacted: the test stops at the redirect
	peerBasicID     = "sluice app:1%"                    // space, ':' and '%' must be form-encoded in Basic (RFC 6749 §2.3.1)
	peerBasicSecret = "s3 cr:et%+~/"
	peerPostID      = "sluice-post"
	peerPostSecret  = "p0st secret=&+"
)

func startOAuth2Peer(t *testing.T) string {
	t.Helper()
	return peertest.StartOAuth2Server(t, peertest.OAuth2Options{
		Clients: []peertest.OAuth2Client{
			{ID: peerBasicID, Secret: peerBasicSecret, AuthMethod: "client_secret_basic", RedirectURIs: []string{peerRedirect}},
			{ID: peerPostID, Secret: peerPostSecret, AuthMethod: "client_secret_post", RedirectURIs: []string{peerRedirect}},
		},
		AccessTokenTTL: 60,
	})
}

// countingTransport counts token endpoint requests on their way out.
type countingTransport struct {
	base   http.RoundTripper
	tokens atomic.Int32
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Path == "/token" {
		c.tokens.Add(1)
	}
	return c.base.RoundTrip(r)
}

type memStore struct {
	mu    sync.Mutex
	saved []string
	fail  error
}

func (m *memStore) SaveRefreshToken(_ context.Context, tok string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	m.saved = append(m.saved, tok)
	return nil
}

func (m *memStore) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.saved...)
}

type resourceAnswer struct {
	ClientID string  `json:"client_id"`
	Account  *string `json:"account"`
	Scope    string  `json:"scope"`
}

func getResource(t *testing.T, rt http.RoundTripper, issuer string) (resourceAnswer, error) {
	t.Helper()
	req, _ := http.NewRequest("GET", issuer+"/resource", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		return resourceAnswer{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("resource answered %d", resp.StatusCode)
	}
	var a resourceAnswer
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("resource answered %s", b)
	}
	return a, nil
}

func TestOAuth2ClientCredentialsAgainstOIDCProvider(t *testing.T) {
	issuer := startOAuth2Peer(t)
	for _, tc := range []struct{ id, secret, style string }{
		{peerBasicID, peerBasicSecret, AuthStyleBasic},
		{peerPostID, peerPostSecret, AuthStylePost},
	} {
		t.Run(tc.style, func(t *testing.T) {
			base := &countingTransport{base: &http.Transport{}}
			cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{
				Grant: GrantClientCredentials, TokenURL: issuer + "/token",
				ClientID: tc.id, ClientSecret: tc.secret, AuthStyle: tc.style, Scopes: []string{"read"},
			}}
			rt := mustNew(t, cfg, base, Options{BaseURL: issuer})
			for range 3 {
				a, err := getResource(t, rt, issuer)
				if err != nil {
					t.Fatal(err)
				}
				if a.ClientID != tc.id || a.Scope != "read" {
					t.Fatalf("resource saw %+v", a)
				}
			}
			if n := base.tokens.Load(); n != 1 {
				t.Errorf("%d token requests for 3 calls, want 1 (cached)", n)
			}

			wrong := *cfg.OAuth2
			wrong.ClientSecret = "not-" + tc.secret
			rt = mustNew(t, Config{Type: TypeOAuth2, OAuth2: &wrong}, base, Options{BaseURL: issuer})
			_, err := getResource(t, rt, issuer)
			var te *TokenError
			if !errors.As(err, &te) || te.Code != "invalid_client" || te.Status != 401 {
				t.Fatalf("wrong secret: %v, want a 401 invalid_client TokenError", err)
			}
			if strings.Contains(err.Error(), wrong.ClientSecret) {
				t.Errorf("error %q carries the secret", err)
			}
		})
	}
}

// authorize drives the authorization endpoint headlessly (the peer's
// interaction signs alice in and grants the scopes) up to the redirect to
// the redirect URI, and returns the code from it.
func authorize(t *testing.T, link, state string) string {
	t.Helper()
	q := peertest.Consent(t, link, peerRedirect)
	if q.Get("error") != "" {
		t.Fatalf("authorization refused: %s: %s", q.Get("error"), q.Get("error_description"))
	}
	if q.Get("state") != state {
		t.Fatalf("state %q came back as %q", state, q.Get("state"))
	}
	return q.Get("code")
}

func TestOAuth2AuthorizationCodeRefreshAgainstOIDCProvider(t *testing.T) {
	issuer := startOAuth2Peer(t)
	base := &countingTransport{base: &http.Transport{}}
	cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{
		Grant: GrantAuthorizationCode, AuthURL: issuer + "/auth", TokenURL: issuer + "/token",
		ClientID: peerBasicID, ClientSecret: peerBasicSecret, Scopes: []string{"read", "offline_access"},
	}}
	ctx := context.Background()

	// PKCE is enforced: the wrong verifier is refused.
	verifier := GenerateVerifier()
	link, err := AuthCodeURL(cfg, "state-1", verifier, peerRedirect)
	if err != nil {
		t.Fatal(err)
	}
	code := authorize(t, link, "state-1")
	_, err = Exchange(ctx, cfg, code, GenerateVerifier(), peerRedirect, base)
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" {
		t.Fatalf("exchange with the wrong verifier: %v, want invalid_grant", err)
	}

	verifier = GenerateVerifier()
	link, _ = AuthCodeURL(cfg, "state-2", verifier, peerRedirect)
	tok, err := Exchange(ctx, cfg, authorize(t, link, "state-2"), verifier, peerRedirect, base)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("exchange gave %+v, want access and refresh tokens", tok)
	}
	r0 := tok.RefreshToken

	// Use the refresh token as the connection would, with a clock the test
	// can move ahead of the server's.
	clock := &fixedClock{t: time.Now()}
	store := &memStore{}
	cfg.OAuth2.RefreshToken = r0
	rt := mustNew(t, cfg, base, Options{BaseURL: issuer, TokenStore: store, Now: clock.Now})
	before := base.tokens.Load()
	a, err := getResource(t, rt, issuer)
	if err != nil {
		t.Fatal(err)
	}
	if a.Account == nil || *a.Account != "alice" || a.ClientID != peerBasicID {
		t.Fatalf("resource saw %+v", a)
	}
	saved := store.all()
	if len(saved) != 1 || saved[0] == r0 {
		t.Fatalf("after the first refresh the store holds %d tokens, want the rotated one", len(saved))
	}
	if _, err := getResource(t, rt, issuer); err != nil {
		t.Fatal(err)
	}
	if n := base.tokens.Load() - before; n != 1 {
		t.Fatalf("%d token requests for two calls, want 1", n)
	}
	// 31 s later the 60-second token is inside the 30-second margin: it is
	// renewed although the server still takes it, and the refresh token
	// rotates again.
	clock.Add(31 * time.Second)
	if _, err := getResource(t, rt, issuer); err != nil {
		t.Fatal(err)
	}
	if n := base.tokens.Load() - before; n != 2 {
		t.Fatalf("%d token requests, want 2 (renewed before expiry)", n)
	}
	saved = store.all()
	if len(saved) != 2 || saved[1] == saved[0] {
		t.Fatalf("store holds %d tokens, want 2 distinct rotations", len(saved))
	}

	// A restart uses the stored refresh token.
	cfg.OAuth2.RefreshToken = saved[1]
	restarted := mustNew(t, cfg, base, Options{BaseURL: issuer, TokenStore: &memStore{}})
	if _, err := getResource(t, restarted, issuer); err != nil {
		t.Fatalf("the stored refresh token did not work: %v", err)
	}

	// The first refresh token was rotated away: the server refuses it.
	cfg.OAuth2.RefreshToken = r0
	stale := mustNew(t, cfg, base, Options{BaseURL: issuer, TokenStore: &memStore{}})
	_, err = getResource(t, stale, issuer)
	if !errors.As(err, &te) || te.Code != "invalid_grant" || !strings.Contains(err.Error(), "authorize the connection again") {
		t.Fatalf("reused refresh token: %v, want invalid_grant with advice", err)
	}
}

// TestOAuth2RetriesOnceAfterRevocation revokes the cached access token at
// the server; the next call gets 401, fetches a new token and succeeds.
func TestOAuth2RetriesOnceAfterRevocation(t *testing.T) {
	issuer := startOAuth2Peer(t)
	base := &countingTransport{base: &http.Transport{}}
	var current string
	spy := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.URL.Path == "/resource" {
			current = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		}
		return base.RoundTrip(r)
	})
	cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{
		Grant: GrantClientCredentials, TokenURL: issuer + "/token",
		ClientID: peerPostID, ClientSecret: peerPostSecret, AuthStyle: AuthStylePost,
	}}
	rt := mustNew(t, cfg, spy, Options{BaseURL: issuer})
	if _, err := getResource(t, rt, issuer); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"token": {current}, "client_id": {peerPostID}, "client_secret": {peerPostSecret}}
	resp, err := http.PostForm(issuer+"/token/revocation", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("revocation answered %d", resp.StatusCode)
	}
	if _, err := getResource(t, rt, issuer); err != nil {
		t.Fatalf("after revocation: %v", err)
	}
	if n := base.tokens.Load(); n != 2 {
		t.Errorf("%d token requests, want 2", n)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
