package apptest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// Client talks to an Instance like a browser (cookie jar, Origin and CSRF
// header on unsafe requests) or like a script (Bearer API key).
type Client struct {
	Base   string
	HTTP   *http.Client
	CSRF   string
	Bearer string
	// NoOrigin stops the client from sending Origin (curl does not).
	NoOrigin bool
}

// NewClient is a fresh client with an empty cookie jar.
func (i *Instance) NewClient() *Client {
	jar, _ := cookiejar.New(nil)
	tr := &http.Transport{TLSClientConfig: i.tlsConfig(), DisableKeepAlives: false}
	return &Client{Base: i.URL, HTTP: &http.Client{Jar: jar, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is a read answer.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// String reads a top-level string field of a JSON answer (dots descend
// into objects: "user.email").
func (r *Response) String(path string) string {
	v := r.Get(path)
	s, _ := v.(string)
	return s
}

// Get reads a field of a JSON answer by a dotted path.
func (r *Response) Get(path string) any {
	var cur any = r.JSON
	for _, p := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

// ErrorCode is the error.code of an error answer.
func (r *Response) ErrorCode() string { return r.String("error.code") }

// Do sends a JSON request (body nil for none) and reads the answer.
func (c *Client) Do(t testing.TB, method, path string, body any) *Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.Send(t, req)
}

// Raw sends a request with a raw body and content type.
func (c *Client) Raw(t testing.TB, method, path, contentType string, body []byte) *Response {
	t.Helper()
	req, err := http.NewRequest(method, c.Base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.Send(t, req)
}

// Form posts an HTML form.
func (c *Client) Form(t testing.TB, path string, v url.Values) *Response {
	t.Helper()
	return c.Raw(t, "POST", path, "application/x-www-form-urlencoded", []byte(v.Encode()))
}

// Send adds the client's credentials and headers to req and reads the
// answer.
func (c *Client) Send(t testing.TB, req *http.Request) *Response {
	t.Helper()
	if c.Bearer != "" && req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+c.Bearer)
	}
	if req.Method != "GET" && req.Method != "HEAD" {
		if !c.NoOrigin && req.Header.Get("Origin") == "" {
			req.Header.Set("Origin", c.Base)
		}
		if c.CSRF != "" && req.Header.Get("X-CSRF-Token") == "" {
			req.Header.Set("X-CSRF-Token", c.CSRF)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(b, &r.JSON)
	}
	return r
}

// Cookie is the value of a cookie the client holds for the server.
func (c *Client) Cookie(name string) string {
	u, _ := url.Parse(c.Base)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}
