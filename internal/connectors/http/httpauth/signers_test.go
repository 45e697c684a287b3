package httpauth

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestNewNeedsBaseAndBaseURL(t *testing.T) {
	cfg := Config{Type: TypeBearer, Bearer: &Bearer{Token: "t"}}
	if _, err := New(cfg, nil, Options{BaseURL: "https://a"}); err == nil {
		t.Error("nil base accepted")
	}
	if _, err := New(cfg, &recorder{}, Options{}); err == nil {
		t.Error("missing BaseURL accepted")
	}
	if _, err := New(cfg, &recorder{}, Options{BaseURL: "/relative"}); err == nil {
		t.Error("relative BaseURL accepted")
	}
	if _, err := New(Config{Type: TypeBearer, Bearer: &Bearer{}}, &recorder{}, Options{BaseURL: "https://a"}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("invalid config: %v", err)
	}
	base := &recorder{}
	if rt, _ := New(Config{}, base, Options{BaseURL: "https://a"}); rt != base {
		t.Error("type none should return the base transport itself")
	}
}

func TestStaticSigners(t *testing.T) {
	cases := []struct {
		name       string
		cfg        Config
		url        string
		wantHeader [2]string
		wantQuery  string
	}{
		{"bearer", Config{Type: TypeBearer, Bearer: &Bearer{Token: "abc.DEF-_~+/=="}}, "https://api.example.com/v1?a=1",
			[2]string{"Authorization", "Bearer abc.DEF-_~+/=="}, "a=1"},
		{"api key header", Config{Type: TypeAPIKey, APIKey: &APIKey{In: InHeader, Name: "X-Api-Key", APIKey: "k 1"}}, "https://api.example.com/v1",
			[2]string{"X-Api-Key", "k 1"}, ""},
		{"api key query", Config{Type: TypeAPIKey, APIKey: &APIKey{In: InQuery, Name: "api key", APIKey: "k&=1"}},
			"https://api.example.com/v1?z=%2f&api+key=old&a=b+c", [2]string{}, "z=%2f&a=b+c&api+key=k%26%3D1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			rt := mustNew(t, tc.cfg, rec, Options{BaseURL: "https://api.example.com/base/"})
			req, _ := http.NewRequest("GET", tc.url, nil)
			origURL := req.URL.String()
			if _, err := rt.RoundTrip(req); err != nil {
				t.Fatal(err)
			}
			sent, _ := rec.last(t)
			if tc.wantHeader[0] != "" && sent.Header.Get(tc.wantHeader[0]) != tc.wantHeader[1] {
				t.Errorf("%s = %q, want %q", tc.wantHeader[0], sent.Header.Get(tc.wantHeader[0]), tc.wantHeader[1])
			}
			if sent.URL.RawQuery != tc.wantQuery {
				t.Errorf("query %q, want %q", sent.URL.RawQuery, tc.wantQuery)
			}
			if len(req.Header) != 0 || req.URL.String() != origURL {
				t.Errorf("the caller's request was changed: %v %s", req.Header, req.URL)
			}
		})
	}
}

// TestCredentialsStayOnTheirOrigin sends each scheme's request to another
// origin (another host, port or scheme, as after a redirect) and checks
// that nothing of the credentials goes with it, and that no token is
// fetched for it.
func TestCredentialsStayOnTheirOrigin(t *testing.T) {
	_, privPEM, _ := rsaKeyPEMs(t)
	cfgs := map[string]Config{
		"basic":   {Type: TypeBasic, Basic: &Basic{Username: "u", Password: "p"}},
		"bearer":  {Type: TypeBearer, Bearer: &Bearer{Token: "t"}},
		"api key": {Type: TypeAPIKey, APIKey: &APIKey{In: InQuery, Name: "key", APIKey: "k"}},
		"oauth1":  {Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "ck", SignatureMethod: RSASHA256, PrivateKey: privPEM}},
		"oauth2":  {Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantClientCredentials, TokenURL: "https://api.example.com/token", ClientID: "c", ClientSecret: "s"}},
		"dynamic": {Type: TypeDynamicToken, DynamicToken: &DynamicToken{Request: TokenRequest{Path: "/token"}, Token: ".t"}},
		"ntlm":    {Type: TypeNTLM, NTLM: &NTLM{Username: "u", Password: "p"}},
	}
	others := []string{"https://cdn.example.net/file", "http://api.example.com/x", "https://api.example.com:8443/x", "https://evil.api.example.com/x"}
	for name, cfg := range cfgs {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			var base http.RoundTripper = rec
			opts := Options{BaseURL: "https://API.example.com:443/v1"}
			if name == "ntlm" {
				opts.DedicatedTransport = true
			}
			rt := mustNew(t, cfg, base, opts)
			for _, u := range others {
				req, _ := http.NewRequest("GET", u, nil)
				if _, err := rt.RoundTrip(req); err != nil {
					t.Fatal(err)
				}
				sent, _ := rec.last(t)
				if sent.URL.String() != u || len(sent.Header) != 0 {
					t.Errorf("%s went out as %s with %v", u, sent.URL, sent.Header)
				}
			}
			if len(rec.reqs) != len(others) {
				t.Errorf("%d requests went out for %d calls: a token was fetched for a foreign origin", len(rec.reqs), len(others))
			}
		})
	}
}

func TestOAuth1RefusesPlaintextOverHTTP(t *testing.T) {
	cfg := Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", ConsumerSecret: "s", SignatureMethod: Plaintext}}
	if _, err := New(cfg, &recorder{}, Options{BaseURL: "http://erp.example.com"}); !errors.Is(err, ErrPlaintextNeedsTLS) {
		t.Fatalf("New over http: %v, want ErrPlaintextNeedsTLS", err)
	}
	rec := &recorder{}
	rt := mustNew(t, cfg, rec, Options{BaseURL: "https://erp.example.com"})
	req, _ := http.NewRequest("GET", "https://erp.example.com/x", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	sent, _ := rec.last(t)
	if p := oauthParams(t, sent.Header.Get("Authorization")); p["oauth_signature"] != "s%26" {
		t.Errorf("PLAINTEXT signature %q, want s%%26", p["oauth_signature"])
	}
}

func TestOAuth1RSASHA256VerifiesWithThePublicKey(t *testing.T) {
	key, privPEM, _ := rsaKeyPEMs(t)
	rec := &recorder{}
	rt := mustNew(t, Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "ck", Token: "tok", SignatureMethod: RSASHA256, PrivateKey: privPEM}},
		rec, Options{BaseURL: "https://erp.example.com", Now: func() time.Time { return time.Unix(1700000000, 0) }, Nonce: func() string { return "n0nce" }})
	req, _ := http.NewRequest("GET", "https://erp.example.com/r?b=2&a=1", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	sent, _ := rec.last(t)
	p := oauthParams(t, sent.Header.Get("Authorization"))
	sigText, _ := url.QueryUnescape(p["oauth_signature"])
	sig, _ := base64.StdEncoding.DecodeString(sigText)
	base := "GET&https%3A%2F%2Ferp.example.com%2Fr&a%3D1%26b%3D2%26oauth_consumer_key%3Dck%26oauth_nonce%3Dn0nce%26" +
		"oauth_signature_method%3DRSA-SHA256%26oauth_timestamp%3D1700000000%26oauth_token%3Dtok%26oauth_version%3D1.0"
	digest := sha256.Sum256([]byte(base))
	if err := rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, digest[:], sig); err != nil {
		t.Errorf("signature does not verify over %s: %v", base, err)
	}
}

func TestBaseStringURI(t *testing.T) {
	cases := map[string]string{
		"HTTP://EXAMPLE.com:80/a%20b?x=1#f": "http://example.com/a%20b",
		"https://example.com:443":           "https://example.com/",
		"https://example.com:80/p":          "https://example.com:80/p",
		"http://example.com:443/p":          "http://example.com:443/p",
		"http://[::1]:8080/x":               "http://[::1]:8080/x",
		"https://[2001:DB8::1]:443/":        "https://[2001:db8::1]/",
	}
	for in, want := range cases {
		if got := baseStringURI(mustURL(t, in), ""); got != want {
			t.Errorf("%s → %s, want %s", in, got, want)
		}
	}
	if got := baseStringURI(mustURL(t, "http://10.0.0.1/x"), "erp.example.com"); got != "http://erp.example.com/x" {
		t.Errorf("the Host header should win: %s", got)
	}
}

type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestOAuth1RefusesAnOversizedFormBody(t *testing.T) {
	rec := &recorder{}
	rt := mustNew(t, Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", ConsumerSecret: "s", SignatureMethod: HMACSHA256}}, rec, Options{BaseURL: "https://a.example"})
	body := &closeTracker{Reader: io.LimitReader(zeros{}, maxSignedBody+10)}
	req, _ := http.NewRequest("POST", "https://a.example/x", body)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if _, err := rt.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Fatalf("err = %v", err)
	}
	if !body.closed {
		t.Error("the request body was not closed")
	}
	if len(rec.reqs) != 0 {
		t.Error("an unsigned request went out")
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

func TestParseFormEncoded(t *testing.T) {
	got, err := parseFormEncoded("a=1&&b&c=x+y%2B;z&a=2")
	if err != nil {
		t.Fatal(err)
	}
	want := []param{{"a", "1"}, {"b", ""}, {"c", "x y+;z"}, {"a", "2"}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("%d: %v, want %v", i, got[i], want[i])
		}
	}
	if _, err := parseFormEncoded("a=%zz"); err == nil {
		t.Error("bad escape accepted")
	}
}
