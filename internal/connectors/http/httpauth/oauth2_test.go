package httpauth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenServer is a fake token endpoint (at /token) and API (elsewhere) on
// one fake transport.
type tokenServer struct {
	mu       sync.Mutex
	forms    []url.Values
	issued   atomic.Int32
	refresh  string // refresh token issued next ("" none)
	status   int    // token endpoint status (0 = 200)
	body     string // token endpoint answer override
	accepted func(token string) bool
	api      atomic.Int32
}

func (s *tokenServer) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	if r.URL.Path == "/token" {
		form, _ := url.ParseQuery(string(b))
		s.mu.Lock()
		s.forms = append(s.forms, form)
		status, body, rt := s.status, s.body, s.refresh
		s.mu.Unlock()
		if status == 0 {
			status = 200
		}
		if body == "" {
			n := s.issued.Add(1)
			body = `{"access_token":"at` + string(rune('0'+n)) + `","token_type":"bearer","expires_in":60`
			if rt != "" {
				body += `,"refresh_token":"` + rt + `"`
			}
			body += "}"
		}
		resp := answer(r, status, body)
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	}
	s.api.Add(1)
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if s.accepted != nil && !s.accepted(tok) {
		return answer(r, 401, ""), nil
	}
	return answer(r, 200, "ok "+tok+" "+string(b)), nil
}

func (s *tokenServer) lastForm() url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.forms[len(s.forms)-1]
}

func ccConfig() Config {
	return Config{Type: TypeOAuth2, OAuth2: &OAuth2{
		Grant: GrantClientCredentials, TokenURL: "https://auth.example.com/token",
		ClientID: "c", ClientSecret: "s", Scopes: []string{"a", "b"},
		Audience: "https://api.example.com", ExtraParams: map[string]string{"resource": "urn:x"},
	}}
}

func call(t *testing.T, rt http.RoundTripper, method, body string) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, "https://api.example.com/x", rd)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestOAuth2ClientCredentialsRequest(t *testing.T) {
	srv := &tokenServer{}
	rt := mustNew(t, ccConfig(), srv, Options{BaseURL: "https://api.example.com"})
	if _, body := call(t, rt, "GET", ""); body != "ok at1 " {
		t.Fatalf("API saw %q", body)
	}
	f := srv.lastForm()
	if f.Get("grant_type") != "client_credentials" || f.Get("scope") != "a b" || f.Get("audience") != "https://api.example.com" || f.Get("resource") != "urn:x" {
		t.Errorf("token request form %v", f)
	}
	if f.Has("client_secret") {
		t.Error("client_secret_basic also sent the secret in the body")
	}
}

func TestOAuth2RenewsBeforeExpiryAndCaches(t *testing.T) {
	srv := &tokenServer{}
	clock := &fixedClock{t: time.Now()}
	rt := mustNew(t, ccConfig(), srv, Options{BaseURL: "https://api.example.com", Now: clock.Now, ExpiryMargin: 10 * time.Second})
	for range 3 {
		call(t, rt, "GET", "")
	}
	if n := srv.issued.Load(); n != 1 {
		t.Fatalf("%d tokens for 3 calls, want 1", n)
	}
	clock.Add(49 * time.Second) // 60 s token, 10 s margin: still fine
	call(t, rt, "GET", "")
	if n := srv.issued.Load(); n != 1 {
		t.Fatalf("renewed %ds before expiry, want 10s", 60-49)
	}
	clock.Add(2 * time.Second)
	if _, body := call(t, rt, "GET", ""); body != "ok at2 " {
		t.Fatalf("after the margin the API saw %q, want the second token", body)
	}
}

func TestOAuth2FetchesOnceForConcurrentRequests(t *testing.T) {
	srv := &tokenServer{}
	rt := mustNew(t, ccConfig(), srv, Options{BaseURL: "https://api.example.com"})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
			if resp, err := rt.RoundTrip(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := srv.issued.Load(); n != 1 {
		t.Errorf("%d token requests for 20 concurrent calls, want 1", n)
	}
}

func TestOAuth2RetriesOnceOn401WithTheBody(t *testing.T) {
	srv := &tokenServer{}
	srv.accepted = func(tok string) bool { return tok != "at1" }
	rt := mustNew(t, ccConfig(), srv, Options{BaseURL: "https://api.example.com"})
	resp, body := call(t, rt, "POST", "payload")
	if resp.StatusCode != 200 || body != "ok at2 payload" {
		t.Fatalf("%d %q, want the retry with a new token and the same body", resp.StatusCode, body)
	}
	// Every token refused: one retry only, then the 401 comes back.
	srv.accepted = func(string) bool { return false }
	before := srv.api.Load()
	resp, _ = call(t, rt, "POST", "payload")
	if resp.StatusCode != 401 || srv.api.Load()-before != 2 {
		t.Fatalf("status %d after %d API calls, want 401 after 2", resp.StatusCode, srv.api.Load()-before)
	}
	// A body that cannot be read twice is not retried.
	before = srv.api.Load()
	req, _ := http.NewRequest("POST", "https://api.example.com/x", io.NopCloser(strings.NewReader("once")))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || srv.api.Load()-before != 1 {
		t.Fatalf("status %d after %d API calls, want the 401 without a retry", resp.StatusCode, srv.api.Load()-before)
	}
}

func TestOAuth2RotatedRefreshTokenIsStored(t *testing.T) {
	srv := &tokenServer{refresh: "r1"}
	store := &memStore{}
	clock := &fixedClock{t: time.Now()}
	cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantRefreshToken, TokenURL: "https://auth.example.com/token", ClientID: "c", RefreshToken: "r0"}}
	rt := mustNew(t, cfg, srv, Options{BaseURL: "https://api.example.com", TokenStore: store, Now: clock.Now})
	call(t, rt, "GET", "")
	if f := srv.lastForm(); f.Get("grant_type") != "refresh_token" || f.Get("refresh_token") != "r0" {
		t.Fatalf("refresh request %v", f)
	}
	if got := store.all(); len(got) != 1 || got[0] != "r1" {
		t.Fatalf("stored %v, want [r1]", got)
	}
	// The server stops rotating: nothing more to store, and r1 is used.
	srv.mu.Lock()
	srv.refresh = ""
	srv.mu.Unlock()
	clock.Add(time.Hour)
	call(t, rt, "GET", "")
	if f := srv.lastForm(); f.Get("refresh_token") != "r1" {
		t.Fatalf("second refresh used %q, want r1", f.Get("refresh_token"))
	}
	if got := store.all(); len(got) != 1 {
		t.Fatalf("stored %v, want only r1", got)
	}
}

func TestOAuth2FailedStoreIsRetried(t *testing.T) {
	srv := &tokenServer{refresh: "r1"}
	store := &memStore{fail: errors.New("database is locked")}
	cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantRefreshToken, TokenURL: "https://auth.example.com/token", ClientID: "c", RefreshToken: "r0"}}
	rt := mustNew(t, cfg, srv, Options{BaseURL: "https://api.example.com", TokenStore: store})
	req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
	if _, err := rt.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "database is locked") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if srv.api.Load() != 0 {
		t.Error("the request went out although the rotated token was not stored")
	}
	store.mu.Lock()
	store.fail = nil
	store.mu.Unlock()
	srv.mu.Lock()
	srv.refresh = "r2"
	srv.mu.Unlock()
	call(t, rt, "GET", "")
	if f := srv.lastForm(); f.Get("refresh_token") != "r1" {
		t.Errorf("the retry refreshed with %q, want the rotated r1 kept in memory", f.Get("refresh_token"))
	}
	if got := store.all(); len(got) != 1 || got[0] != "r2" {
		t.Errorf("stored %v, want [r2]", got)
	}
}

func TestOAuth2Preconditions(t *testing.T) {
	refresh := Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantRefreshToken, TokenURL: "https://a/t", ClientID: "c", RefreshToken: "r"}}
	if _, err := New(refresh, &recorder{}, Options{BaseURL: "https://a"}); !errors.Is(err, ErrTokenStoreRequired) {
		t.Errorf("refresh without a store: %v", err)
	}
	code := Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantAuthorizationCode, AuthURL: "https://a/auth", TokenURL: "https://a/t", ClientID: "c"}}
	if _, err := New(code, &recorder{}, Options{BaseURL: "https://a", TokenStore: &memStore{}}); !errors.Is(err, ErrConsentRequired) {
		t.Errorf("authorization_code before consent: %v", err)
	}
	if _, err := AuthCodeURL(code, "", GenerateVerifier(), "https://s/cb"); err == nil {
		t.Error("AuthCodeURL without state accepted")
	}
	if _, err := AuthCodeURL(code, "s", "short", "https://s/cb"); err == nil {
		t.Error("AuthCodeURL with a short verifier accepted")
	}
	if _, err := AuthCodeURL(ccConfig(), "s", GenerateVerifier(), "https://s/cb"); err == nil {
		t.Error("AuthCodeURL for client_credentials accepted")
	}
}

// TestOAuth2ErrorsCarryNoAnswerBody checks that what a token endpoint says
// beyond the RFC 6749 error fields (it may echo what it was sent) stays
// out of errors, as does the token URL's query.
func TestOAuth2ErrorsCarryNoAnswerBody(t *testing.T) {
	cases := []struct {
		status       int
		body         string
		code, substr string
	}{
		{400, `{"error":"invalid_client","error_description":"bad client","echo":"client_secret=ECHOED"}`, "invalid_client", "check client_id"},
		{500, `<html>client_secret=ECHOED</html>`, "", "500"},
		{302, ``, "", "redirects"},
	}
	for _, tc := range cases {
		srv := &tokenServer{status: tc.status, body: tc.body}
		cfg := ccConfig()
		cfg.OAuth2.TokenURL = "https://auth.example.com/token?tenant=QUERYSECRET"
		rt := mustNew(t, cfg, srv, Options{BaseURL: "https://api.example.com"})
		req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
		_, err := rt.RoundTrip(req)
		var te *TokenError
		if !errors.As(err, &te) || te.Status != tc.status || te.Code != tc.code {
			t.Errorf("%d: %v", tc.status, err)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "ECHOED") || strings.Contains(msg, "QUERYSECRET") || strings.Contains(msg, "client_secret=") {
			t.Errorf("%d: error %q leaks the answer or the query", tc.status, msg)
		}
		if !strings.Contains(msg, tc.substr) {
			t.Errorf("%d: error %q should contain %q", tc.status, msg, tc.substr)
		}
	}
}

func TestTokenFetchHonoursTheRequestContext(t *testing.T) {
	hang := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		<-r.Context().Done()
		return nil, r.Context().Err()
	})
	rt := mustNew(t, ccConfig(), hang, Options{BaseURL: "https://api.example.com"})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://api.example.com/x", nil)
	start := time.Now()
	_, err := rt.RoundTrip(req)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestTokenCacheKeepsAValidTokenWhenRenewalFails(t *testing.T) {
	clock := &fixedClock{t: time.Now()}
	fail := false
	n := 0
	c := newTokenCache(func(context.Context) (cachedToken, error) {
		if fail {
			return cachedToken{}, errors.New("token endpoint down")
		}
		n++
		exp := clock.Now().Add(60 * time.Second)
		return cachedToken{header: "t" + string(rune('0'+n)), expiry: exp, renewAt: renewTime(clock.Now(), exp, 30*time.Second)}, nil
	}, clock.Now)
	ctx := context.Background()
	if tok, _ := c.get(ctx, ""); tok.header != "t1" {
		t.Fatal(tok)
	}
	fail = true
	clock.Add(40 * time.Second) // due for renewal, not expired
	if tok, err := c.get(ctx, ""); err != nil || tok.header != "t1" {
		t.Fatalf("%v %v: want the still-valid token", tok, err)
	}
	if _, err := c.get(ctx, "t1"); err == nil {
		t.Fatal("a refused token must not be reused when renewal fails")
	}
	clock.Add(30 * time.Second) // expired
	if _, err := c.get(ctx, ""); err == nil {
		t.Fatal("an expired token must not be reused when renewal fails")
	}
}

func TestRenewTime(t *testing.T) {
	now := time.Unix(1000, 0)
	cases := []struct {
		life, margin, want time.Duration
	}{
		{time.Hour, 30 * time.Second, time.Hour - 30*time.Second},
		{40 * time.Second, 30 * time.Second, 20 * time.Second},
		{0, 30 * time.Second, 0},
	}
	for _, tc := range cases {
		if got := renewTime(now, now.Add(tc.life), tc.margin).Sub(now); got != tc.want {
			t.Errorf("life %v margin %v: renew after %v, want %v", tc.life, tc.margin, got, tc.want)
		}
	}
	if !renewTime(now, time.Time{}, time.Second).IsZero() {
		t.Error("unknown expiry must mean no planned renewal")
	}
}
