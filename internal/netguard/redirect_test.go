package netguard

import (
	"crypto/tls"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// recorder is a loopback test server that keeps what it was sent.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

type recorded struct {
	path   string
	header http.Header
	body   string
}

// newRecorder starts a loopback server; route answers a request, or nil to
// answer 200.
func newRecorder(t *testing.T, tlsServer bool, route func(w http.ResponseWriter, r *http.Request) bool) *recorder {
	rec := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recorded{path: r.URL.RequestURI(), header: r.Header.Clone(), body: string(body)})
		rec.mu.Unlock()
		if route != nil && route(w, r) {
			return
		}
		io.WriteString(w, "ok")
	})
	if tlsServer {
		rec.Server = httptest.NewTLSServer(h)
	} else {
		rec.Server = httptest.NewServer(h)
	}
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recorded(nil), r.reqs...)
}

// redirectTo answers every request but the landing page with a redirect to
// the URL returned by target.
func redirectTo(code int, target func() string) func(http.ResponseWriter, *http.Request) bool {
	return func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/landing" {
			return false
		}
		http.Redirect(w, r, target(), code)
		return true
	}
}

// loopbackPolicy allows the loopback test servers and nothing private; its
// dialer fails the test if asked for anything but loopback.
func loopbackPolicy(t *testing.T) (*EgressPolicy, *guardDialer) {
	t.Helper()
	dialer := &guardDialer{t: t}
	p, err := NewEgressPolicy(EgressOptions{
		AllowLoopback:    true,
		Resolver:         newFakeResolver(testResolverAnswers),
		Dial:             dialer.Dial,
		SensitiveHeaders: []string{"x-api-key"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, dialer
}

func TestRedirectToRefusedAddress(t *testing.T) {
	targets := []struct {
		name     string
		location string
		ip       string
	}{
		{name: "metadata", location: "http://169.254.169.254/latest/meta-data/iam/", ip: "169.254.169.254"},
		{name: "metadata decimal", location: "http://2852039166/", ip: "169.254.169.254"},
		{name: "metadata mapped ipv6", location: "http://[::ffff:a9fe:a9fe]/", ip: "169.254.169.254"},
		{name: "metadata aws ipv6", location: "http://[fd00:ec2::254]/", ip: "fd00:ec2::254"},
		{name: "private address", location: "http://10.0.0.1:8080/", ip: "10.0.0.1"},
		{name: "name resolving private", location: "http://internal.example/", ip: "10.0.0.5"},
		{name: "name answering public and private", location: "https://mixed.example/", ip: "10.0.0.6"},
	}
	for _, tt := range targets {
		// With CheckRedirect the redirect is refused before it is
		// followed; without it the dial check still refuses. Neither
		// sends a packet toward the target.
		for _, withCheck := range []bool{true, false} {
			name := tt.name
			if !withCheck {
				name += " dial check only"
			}
			t.Run(name, func(t *testing.T) {
				p, dialer := loopbackPolicy(t)
				srv := newRecorder(t, false, redirectTo(http.StatusFound, func() string { return tt.location }))
				client := p.HTTPClient(nil, 5*time.Second)
				if !withCheck {
					client.CheckRedirect = nil
				}
				resp, err := client.Get(srv.URL + "/start")
				if err == nil {
					resp.Body.Close()
					t.Fatal("redirect was followed")
				}
				var ee *EgressError
				if !errors.As(err, &ee) {
					t.Fatalf("err = %v, want an *EgressError inside", err)
				}
				if ee.IP.String() != tt.ip {
					t.Errorf("refused IP = %v, want %s", ee.IP, tt.ip)
				}
				if withCheck && !strings.Contains(err.Error(), "egress: redirect to ") {
					t.Errorf("err = %v, want the redirect named", err)
				}
				for _, a := range dialer.addrs() {
					if !strings.HasPrefix(a, "127.0.0.1:") {
						t.Errorf("dialed %s", a)
					}
				}
			})
		}
	}
}

func TestRedirectStripsCredentials(t *testing.T) {
	secretHeaders := map[string]string{
		"Authorization":       "Bearer s3cret-token",
		"Proxy-Authorization": "Basic czNjcmV0",
		"Cookie":              "session=s3cret",
		"X-Api-Key":           "s3cret-key",
	}
	tests := []struct {
		name string
		// hops builds the redirect chain: it returns the first server,
		// and the server whose landing page is the final stop.
		hops      func(t *testing.T) (first, last *recorder)
		wantKept  bool // the credentials reach the landing page
		wantTrace bool
	}{
		{
			name: "same origin keeps them",
			hops: func(t *testing.T) (*recorder, *recorder) {
				var a *recorder
				a = newRecorder(t, false, redirectTo(http.StatusFound, func() string { return a.URL + "/landing" }))
				return a, a
			},
			wantKept: true,
		},
		{
			name: "other loopback port",
			hops: func(t *testing.T) (*recorder, *recorder) {
				b := newRecorder(t, false, nil)
				a := newRecorder(t, false, redirectTo(http.StatusFound, func() string { return b.URL + "/landing" }))
				return a, b
			},
		},
		{
			name: "other host name same server",
			hops: func(t *testing.T) (*recorder, *recorder) {
				var a *recorder
				a = newRecorder(t, false, redirectTo(http.StatusFound, func() string {
					u, _ := url.Parse(a.URL)
					return "http://localhost:" + u.Port() + "/landing"
				}))
				return a, a
			},
		},
		{
			name: "away and back",
			hops: func(t *testing.T) (*recorder, *recorder) {
				var a *recorder
				b := newRecorder(t, false, redirectTo(http.StatusTemporaryRedirect, func() string { return a.URL + "/landing" }))
				a = newRecorder(t, false, redirectTo(http.StatusFound, func() string { return b.URL + "/bounce" }))
				return a, a
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := loopbackPolicy(t)
			first, last := tt.hops(t)
			req, err := http.NewRequest("GET", first.URL+"/start?api_key=s3cret-query", nil)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range secretHeaders {
				req.Header.Set(k, v)
			}
			req.Header.Set("X-Trace", "keep-me")
			resp, err := p.HTTPClient(nil, 5*time.Second).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			var landing *recorded
			for _, r := range last.requests() {
				if r.path == "/landing" {
					landing = &r
				}
			}
			if landing == nil {
				t.Fatal("landing page never reached")
			}
			for k := range secretHeaders {
				if got := landing.header.Get(k) != ""; got != tt.wantKept {
					t.Errorf("%s at landing page: present = %v, want %v", k, got, tt.wantKept)
				}
			}
			if !tt.wantKept && landing.header.Get("Referer") != "" {
				t.Errorf("Referer %q reached another origin", landing.header.Get("Referer"))
			}
			if landing.header.Get("X-Trace") != "keep-me" {
				t.Error("an ordinary header was dropped")
			}
		})
	}

	// What net/http does on its own for another port of the same host:
	// it compares host names only, so it would pass the token on. Logged,
	// not asserted, to show why CheckRedirect does not rely on it.
	t.Run("net/http alone", func(t *testing.T) {
		p, _ := loopbackPolicy(t)
		b := newRecorder(t, false, nil)
		a := newRecorder(t, false, redirectTo(http.StatusFound, func() string { return b.URL + "/landing" }))
		req, _ := http.NewRequest("GET", a.URL+"/start", nil)
		req.Header.Set("Authorization", "Bearer s3cret-token")
		resp, err := (&http.Client{Transport: p.Transport(nil)}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		reqs := b.requests()
		if len(reqs) == 1 {
			t.Logf("without CheckRedirect, Authorization sent to another port: %v", reqs[0].header.Get("Authorization") != "")
		}
	})
}

func TestRedirectRefusals(t *testing.T) {
	tests := []struct {
		name    string
		method  string
		body    string
		code    int
		target  func(self, other *recorder) string
		tls     bool
		wantErr string
		// the other server must not be reached, or the landing page
		// must be reached with the body (wantErr == "")
	}{
		{name: "https to http", code: http.StatusFound, tls: true, target: func(_, o *recorder) string { return o.URL + "/landing" }, wantErr: "downgrades HTTPS to plain HTTP"},
		{name: "non-http scheme", code: http.StatusFound, target: func(_, _ *recorder) string { return "ftp://files.example/x" }, wantErr: "only http and https are followed"},
		{name: "post body to other origin", method: "POST", body: "client_secret=s3cret", code: http.StatusTemporaryRedirect, target: func(_, o *recorder) string { return o.URL + "/landing" }, wantErr: "would resend the POST body to another origin"},
		{name: "post body 308 to other origin", method: "POST", body: "client_secret=s3cret", code: http.StatusPermanentRedirect, target: func(_, o *recorder) string { return o.URL + "/landing" }, wantErr: "would resend the POST body"},
		{name: "post body same origin", method: "POST", body: "client_secret=s3cret", code: http.StatusTemporaryRedirect, target: func(s, _ *recorder) string { return s.URL + "/landing" }},
		{name: "post 303 to other origin becomes get", method: "POST", body: "client_secret=s3cret", code: http.StatusSeeOther, target: func(_, o *recorder) string { return o.URL + "/landing" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := loopbackPolicy(t)
			other := newRecorder(t, false, nil)
			var self *recorder
			self = newRecorder(t, tt.tls, redirectTo(tt.code, func() string { return tt.target(self, other) }))
			var tlsCfg *tls.Config
			if tt.tls {
				var err error
				tlsCfg, err = ClientTLSConfig(ClientTLSOptions{CABundlePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: self.Certificate().Raw})})
				if err != nil {
					t.Fatal(err)
				}
			}
			method := tt.method
			if method == "" {
				method = "GET"
			}
			req, err := http.NewRequest(method, self.URL+"/start", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := p.HTTPClient(tlsCfg, 5*time.Second).Do(req)
			if resp != nil {
				resp.Body.Close()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "/start") {
					t.Errorf("error repeats more than the origin: %v", err)
				}
				if n := len(other.requests()); n != 0 {
					t.Fatalf("the redirect target was reached %d times", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var landed []recorded
			for _, r := range append(self.requests(), other.requests()...) {
				if r.path == "/landing" {
					landed = append(landed, r)
				}
			}
			if len(landed) != 1 {
				t.Fatalf("landing page reached %d times, want once", len(landed))
			}
			if tt.code == http.StatusSeeOther && landed[0].body != "" {
				t.Errorf("a 303 resent the body %q", landed[0].body)
			}
		})
	}
}

func TestRedirectLimit(t *testing.T) {
	p, _ := loopbackPolicy(t)
	var srv *recorder
	srv = newRecorder(t, false, func(w http.ResponseWriter, r *http.Request) bool {
		http.Redirect(w, r, srv.URL+"/loop", http.StatusFound)
		return true
	})
	_, err := p.HTTPClient(nil, 5*time.Second).Get(srv.URL + "/start")
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Fatalf("err = %v, want the redirect cap", err)
	}
	if got := len(srv.requests()); got != MaxRedirects {
		t.Fatalf("server saw %d requests, want %d (the first and nine redirects)", got, MaxRedirects)
	}
}

func TestTransportIgnoresEnvironmentProxy(t *testing.T) {
	// A proxy would resolve and connect on the guard's behalf.
	t.Setenv("HTTP_PROXY", "http://10.0.0.1:3128")
	t.Setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
	p, dialer := loopbackPolicy(t)
	tr := p.Transport(nil)
	if tr.Proxy != nil {
		t.Fatal("Transport has a Proxy function")
	}
	if tr.TLSClientConfig == nil || tr.TLSClientConfig.MinVersion != tls.VersionTLS12 {
		t.Fatal("Transport TLS config does not require TLS 1.2")
	}
	srv := newRecorder(t, false, nil)
	resp, err := p.HTTPClient(nil, 5*time.Second).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := dialer.addrs(); len(got) != 1 || got[0] != strings.TrimPrefix(srv.URL, "http://") {
		t.Fatalf("dialed %q, want the server itself", got)
	}
	in := &tls.Config{ServerName: "x.example", MinVersion: tls.VersionTLS13}
	if p.Transport(in).TLSClientConfig == in {
		t.Error("Transport kept the caller's *tls.Config instead of a clone")
	}
}
