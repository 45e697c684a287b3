package httpauth

import (
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
)

// loginServer is a fake token endpoint at /login plus an API.
type loginServer struct {
	mu      sync.Mutex
	logins  []*http.Request
	bodies  []string
	answer  func(n int) (int, string)
	n       atomic.Int32
	refuse  func(tok string) bool
	apiSeen []http.Header
}

func (s *loginServer) RoundTrip(r *http.Request) (*http.Response, error) {
	var b []byte
	if r.Body != nil {
		b, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	if r.URL.Path == "/login" {
		n := int(s.n.Add(1))
		s.mu.Lock()
		s.logins = append(s.logins, r)
		s.bodies = append(s.bodies, string(b))
		s.mu.Unlock()
		status, body := 200, `{"data":{"token":"tok`+string(rune('0'+n))+`"},"expires_in":"120"}`
		if s.answer != nil {
			status, body = s.answer(n)
		}
		resp := answer(r, status, body)
		resp.Header.Set("Content-Type", "application/json")
		return resp, nil
	}
	s.mu.Lock()
	s.apiSeen = append(s.apiSeen, r.Header.Clone())
	s.mu.Unlock()
	if s.refuse != nil && s.refuse(r.Header.Get("X-Auth")) {
		return answer(r, 401, ""), nil
	}
	return answer(r, 200, "ok "+string(b)), nil
}

func dynamicConfig() Config {
	empty := ""
	return Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{
		Request: TokenRequest{
			Path:    "/login",
			Headers: map[string]string{"X-Tenant": "t1"},
			Body:    json.RawMessage(`{"user":"svc","password":"pa ss&=","remember":true,"n":12345678901234567890}`),
		},
		Token:     ".data.token",
		ExpiresIn: ExpiresIn{Expr: ".expires_in"},
		Header:    "X-Auth",
		Prefix:    &empty,
	}}
}

func TestDynamicTokenFetchesCachesAndRenews(t *testing.T) {
	srv := &loginServer{}
	clock := &fixedClock{t: time.Now()}
	rt := mustNew(t, dynamicConfig(), srv, Options{BaseURL: "https://erp.example.com/api/v2/", Now: clock.Now})
	for range 3 {
		req, _ := http.NewRequest("GET", "https://erp.example.com/api/v2/items", nil)
		resp, err := rt.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := srv.n.Load(); n != 1 {
		t.Fatalf("%d logins for 3 calls, want 1", n)
	}
	login := srv.logins[0]
	if login.Method != "POST" || login.URL.String() != "https://erp.example.com/login" {
		t.Errorf("login %s %s", login.Method, login.URL)
	}
	if login.Header.Get("Content-Type") != "application/json" || login.Header.Get("X-Tenant") != "t1" {
		t.Errorf("login headers %v", login.Header)
	}
	if srv.bodies[0] != `{"user":"svc","password":"pa ss&=","remember":true,"n":12345678901234567890}` {
		t.Errorf("login body %s, want the configured JSON as written", srv.bodies[0])
	}
	if got := srv.apiSeen[0].Get("X-Auth"); got != "tok1" {
		t.Errorf("X-Auth %q, want the bare token (prefix \"\")", got)
	}
	if srv.apiSeen[0].Get("Authorization") != "" {
		t.Error("Authorization set although header is X-Auth")
	}
	clock.Add(91 * time.Second) // 120 s life, 30 s margin
	req, _ := http.NewRequest("GET", "https://erp.example.com/api/v2/items", nil)
	resp, _ := rt.RoundTrip(req)
	resp.Body.Close()
	if n := srv.n.Load(); n != 2 {
		t.Fatalf("%d logins after the margin, want 2", n)
	}
}

func TestDynamicTokenFormBodyDefaultsAndNestedAuth(t *testing.T) {
	srv := &loginServer{answer: func(n int) (int, string) { return 200, `{"access_token":"abc"}` }}
	cfg := Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{
		Request: TokenRequest{
			Method: "PUT", URL: "https://login.example.com/login?app=1",
			Body: json.RawMessage(`{"grant_type":"password","scope":["a","b"],"n":1.5,"flag":false,"none":null}`), BodyFormat: BodyForm,
			Auth: &Config{Type: TypeBasic, Basic: &Basic{Username: "client", Password: "secret"}},
		},
		Token: ".access_token",
	}}
	clock := &fixedClock{t: time.Now()}
	rt := mustNew(t, cfg, srv, Options{BaseURL: "https://erp.example.com", Now: clock.Now})
	req, _ := http.NewRequest("GET", "https://erp.example.com/x", nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	login := srv.logins[0]
	if login.Method != "PUT" || login.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		t.Errorf("login %s %v", login.Method, login.Header)
	}
	form, _ := url.ParseQuery(srv.bodies[0])
	if form.Get("grant_type") != "password" || strings.Join(form["scope"], ",") != "a,b" || form.Get("n") != "1.5" || form.Get("flag") != "false" || !form.Has("none") {
		t.Errorf("form %v", form)
	}
	if login.Header.Get("Authorization") != "Basic "+basicCredentials("client", "secret") {
		t.Errorf("the token request's own auth is missing: %v", login.Header)
	}
	if got := srv.apiSeen[0].Get("Authorization"); got != "Bearer abc" {
		t.Errorf("Authorization %q, want the default Bearer prefix", got)
	}
	if srv.apiSeen[0].Get("Authorization") == "Basic "+basicCredentials("client", "secret") {
		t.Error("the token request's credentials went to the API")
	}
	clock.Add(5*time.Minute - 31*time.Second) // default life 5 min, margin 30 s
	req, _ = http.NewRequest("GET", "https://erp.example.com/x", nil)
	resp, _ = rt.RoundTrip(req)
	resp.Body.Close()
	if srv.n.Load() != 1 {
		t.Error("renewed before the default 5-minute life minus the margin")
	}
	clock.Add(2 * time.Second)
	req, _ = http.NewRequest("GET", "https://erp.example.com/x", nil)
	resp, _ = rt.RoundTrip(req)
	resp.Body.Close()
	if srv.n.Load() != 2 {
		t.Error("not renewed after the default life minus the margin")
	}
}

func TestDynamicTokenRefreshesOnceOn401(t *testing.T) {
	srv := &loginServer{}
	srv.refuse = func(tok string) bool { return tok == "tok1" }
	rt := mustNew(t, dynamicConfig(), srv, Options{BaseURL: "https://erp.example.com"})
	req, _ := http.NewRequest("POST", "https://erp.example.com/items", strings.NewReader("row"))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok row" || srv.n.Load() != 2 {
		t.Fatalf("%d %q after %d logins", resp.StatusCode, b, srv.n.Load())
	}
}

func TestDynamicTokenErrors(t *testing.T) {
	cases := []struct {
		name   string
		cfg    func(*DynamicToken)
		answer func(int) (int, string)
		want   string
		leak   string
	}{
		{"refused", nil, func(int) (int, string) {
			return 401, `{"error":"invalid_grant","error_description":"wrong password","password":"pa ss&="}`
		}, "answered 401 invalid_grant (wrong password)", "pa ss"},
		{"not json", nil, func(int) (int, string) { return 200, "<html>login</html>" }, "not JSON", "<html>"},
		{"no token", nil, func(int) (int, string) { return 200, `{"data":{}}` }, "auth.token: the jq expression gave null", ""},
		{"token not text", nil, func(int) (int, string) { return 200, `{"data":{"token":42}}` }, "gave a number", ""},
		{"header injection", nil, func(int) (int, string) { return 200, `{"data":{"token":"a\r\nX-Evil: 1"}}` }, "line break", ""},
		{"bad lifetime", nil, func(int) (int, string) { return 200, `{"data":{"token":"t"},"expires_in":"soon"}` }, "auth.expires_in", ""},
		{"jq runtime error", func(d *DynamicToken) { d.Token = ".data.token | ascii_downcase | error" }, nil, "auth.token: the jq expression failed", "tok1"},
		{"lifetime quotes the token", func(d *DynamicToken) { d.ExpiresIn = ExpiresIn{Expr: ".data.token"} }, nil, "auth.expires_in", "tok1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := dynamicConfig()
			if tc.cfg != nil {
				tc.cfg(cfg.DynamicToken)
			}
			srv := &loginServer{answer: tc.answer}
			rt := mustNew(t, cfg, srv, Options{BaseURL: "https://erp.example.com"})
			req, _ := http.NewRequest("GET", "https://erp.example.com/x", nil)
			_, err := rt.RoundTrip(req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
			if tc.leak != "" && strings.Contains(err.Error(), tc.leak) {
				t.Errorf("err %q leaks %q", err, tc.leak)
			}
			if len(srv.apiSeen) != 0 {
				t.Error("the API was called without a token")
			}
		})
	}
}

func TestDynamicTokenRequestFollowsNoRedirect(t *testing.T) {
	srv := &loginServer{answer: func(int) (int, string) { return 307, "" }}
	rt := mustNew(t, dynamicConfig(), srv, Options{BaseURL: "https://erp.example.com"})
	req, _ := http.NewRequest("GET", "https://erp.example.com/x", nil)
	_, err := rt.RoundTrip(req)
	var te *TokenError
	if !errors.As(err, &te) || te.Status != 307 || srv.n.Load() != 1 {
		t.Fatalf("err = %v after %d logins, want a 307 TokenError and no second request", err, srv.n.Load())
	}
}

func TestExpiresInJSON(t *testing.T) {
	for in, want := range map[string]ExpiresIn{`600`: {Seconds: 600}, `".expires_in"`: {Expr: ".expires_in"}, `null`: {}} {
		var e ExpiresIn
		if err := json.Unmarshal([]byte(in), &e); err != nil || e != want {
			t.Errorf("%s → %+v %v", in, e, err)
		}
	}
	var e ExpiresIn
	if err := json.Unmarshal([]byte(`1.5`), &e); err == nil {
		t.Error("fractional seconds accepted")
	}
}
