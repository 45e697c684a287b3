package httpauth

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestRFC7617Examples checks Basic credentials against RFC 7617: §2's
// Aladdin / open sesame and §2.1's UTF-8 example, test / 123£ (the pound
// sign as UTF-8 C2 A3), through the whole transport.
func TestRFC7617Examples(t *testing.T) {
	cases := []struct{ user, pass, want string }{
		{"Aladdin", "open sesame", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="}, // RFC 7617 §2
		{"test", "123\u00a3", "Basic dGVzdDoxMjPCow=="},                  // RFC 7617 §2.1
	}
	for _, tc := range cases {
		rec := &recorder{}
		rt := mustNew(t, Config{Type: TypeBasic, Basic: &Basic{Username: tc.user, Password: tc.pass}}, rec, Options{BaseURL: "https://example.com"})
		req, _ := http.NewRequest("GET", "https://example.com/x", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		sent, _ := rec.last(t)
		if got := sent.Header.Get("Authorization"); got != tc.want {
			t.Errorf("%s: Authorization %q, want %q", tc.user, got, tc.want)
		}
	}
}

// TestBasicNormalizesToNFC checks RFC 7617 §2.1: with charset UTF-8 the
// user-id and password are sent in Unicode Normalization Form C, so a
// decomposed é (e + U+0301) goes out as the composed U+00E9 (C3 A9).
func TestBasicNormalizesToNFC(t *testing.T) {
	got := basicCredentials("Jose\u0301", "caf\u0065\u0301")
	raw, _ := base64.StdEncoding.DecodeString(got)
	if want := "Jos\u00e9:caf\u00e9"; string(raw) != want {
		t.Errorf("credentials %q, want %q", raw, want)
	}
}

// basicFromTokenRequest is a token endpoint that records the Basic header
// it received and answers with a token.
func basicFromTokenRequest(seen *string) *recorder {
	return &recorder{respond: func(r *http.Request) *http.Response {
		if r.URL.Path != "/token" {
			return answer(r, 200, "")
		}
		*seen = r.Header.Get("Authorization")
		resp := answer(r, 200, `{"access_token":"at","token_type":"bearer","expires_in":3600}`)
		resp.Header.Set("Content-Type", "application/json")
		return resp
	}}
}

// TestRFC6749Section231ClientSecretBasic checks client_secret_basic: RFC
// 6749 §2.3.1 has the client identifier and secret encoded with the
// application/x-www-form-urlencoded algorithm (Appendix B) before they go
// into HTTP Basic. First the section's own example (s6BhdRkqt3 /
// 7Fjfp0ZBr1KtDRbnfVdmIw), then identifiers with a space, ':', '%', '+',
// '/' and non-ASCII text, whose form encoding is written out by hand here
// (space → '+', others → %XX of their UTF-8 bytes).
func TestRFC6749Section231ClientSecretBasic(t *testing.T) {
	cases := []struct {
		id, secret string
		wantPair   string // form-encoded id ":" form-encoded secret
		wantHeader string
	}{
		{"s6BhdRkqt3", "7Fjfp0ZBr1KtDRbnfVdmIw", "s6BhdRkqt3:7Fjfp0ZBr1KtDRbnfVdmIw", "Basic czZCaGRSa3F0Mzo3RmpmcDBaQnIxS3REUmJuZlZkbUl3"},
		{"my client:1", "s3 cr:et%", "my+client%3A1:s3+cr%3Aet%25", ""},
		{"caf\u00e9/app", "p\u20acss+w\u00f6rd", "caf%C3%A9%2Fapp:p%E2%82%ACss%2Bw%C3%B6rd", ""},
	}
	for _, tc := range cases {
		var seen string
		cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{
			Grant: GrantClientCredentials, TokenURL: "https://auth.example.com/token",
			ClientID: tc.id, ClientSecret: tc.secret, AuthStyle: AuthStyleBasic,
		}}
		rt := mustNew(t, cfg, basicFromTokenRequest(&seen), Options{BaseURL: "https://api.example.com"})
		req, _ := http.NewRequest("GET", "https://api.example.com/x", nil)
		if _, err := rt.RoundTrip(req); err != nil {
			t.Fatalf("%q: %v", tc.id, err)
		}
		want := tc.wantHeader
		if want == "" {
			want = "Basic " + base64.StdEncoding.EncodeToString([]byte(tc.wantPair))
		}
		if seen != want {
			raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(seen, "Basic "))
			t.Errorf("client %q: token request carried %q (%s), want %s", tc.id, seen, raw, tc.wantPair)
		}
	}
}

// TestClientSecretPost checks client_secret_post (RFC 6749 §2.3.1): the
// id and secret go in the form body, form-encoded once, with no
// Authorization header.
func TestClientSecretPost(t *testing.T) {
	var form url.Values
	var authz string
	base := &recorder{respond: func(r *http.Request) *http.Response {
		b, _ := io.ReadAll(r.Body)
		form, _ = url.ParseQuery(string(b))
		authz = r.Header.Get("Authorization")
		resp := answer(r, 200, `{"access_token":"at","token_type":"Bearer"}`)
		resp.Header.Set("Content-Type", "application/json")
		return resp
	}}
	tok, err := clientCredentialsOnce(t, base, "my client:1", "s3 cr:et%\u20ac", AuthStylePost)
	if err != nil {
		t.Fatal(err)
	}
	if tok != "Bearer at" {
		t.Errorf("token %q", tok)
	}
	if authz != "" {
		t.Errorf("client_secret_post also sent Authorization %q", authz)
	}
	if form.Get("client_id") != "my client:1" || form.Get("client_secret") != "s3 cr:et%\u20ac" || form.Get("grant_type") != "client_credentials" {
		t.Errorf("form %v", form)
	}
}

func clientCredentialsOnce(t *testing.T, base http.RoundTripper, id, secret, style string) (string, error) {
	t.Helper()
	s := &oauth2Source{o: OAuth2{Grant: GrantClientCredentials, TokenURL: "https://auth.example.com/token", ClientID: id, ClientSecret: secret, AuthStyle: style},
		client: tokenClient(base), now: (&fixedClock{}).Now, margin: defaultExpiryMargin, endpoint: "https://auth.example.com/token"}
	tok, err := s.fetch(context.Background())
	return tok.header, err
}

// TestRFC7636AppendixB checks PKCE S256 against RFC 7636 Appendix B: the
// verifier dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk has the challenge
// E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM, and AuthCodeURL sends it
// with code_challenge_method=S256.
func TestRFC7636AppendixB(t *testing.T) {
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := oauth2.S256ChallengeFromVerifier(verifier); got != challenge {
		t.Fatalf("challenge %s, want %s", got, challenge)
	}
	cfg := Config{Type: TypeOAuth2, OAuth2: &OAuth2{
		Grant: GrantAuthorizationCode, AuthURL: "https://auth.example.com/authorize?tenant=t1",
		TokenURL: "https://auth.example.com/token", ClientID: "sluice", ClientSecret: "s",
		Scopes: []string{"read", "offline_access"}, Audience: "https://api.example.com",
	}}
	link, err := AuthCodeURL(cfg, "st4te", verifier, "https://sluice.example.com/oauth/callback")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	q := u.Query()
	want := map[string]string{
		"response_type": "code", "client_id": "sluice", "state": "st4te", "tenant": "t1",
		"redirect_uri": "https://sluice.example.com/oauth/callback", "scope": "read offline_access",
		"code_challenge": challenge, "code_challenge_method": "S256", "audience": "https://api.example.com",
	}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s=%q, want %q (in %s)", k, q.Get(k), v, link)
		}
	}
	if q.Has("code_verifier") {
		t.Error("the verifier itself must never be in the authorization request")
	}
}
