package httpauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/itchyny/gojq"
)

// dynamicSource fetches a token from a token endpoint and picks it out of
// the JSON answer with jq (github.com/itchyny/gojq).
type dynamicSource struct {
	method      string
	target      *url.URL
	headers     map[string]string
	body        []byte
	contentType string
	client      *http.Client
	token       *gojq.Code
	expires     *gojq.Code // nil: fixed
	fixed       time.Duration
	prefix      string
	now         func() time.Time
	margin      time.Duration
	endpoint    string
}

func newDynamic(d *DynamicToken, base http.RoundTripper, origin *url.URL, opts Options) (http.RoundTripper, error) {
	r := d.Request
	var target *url.URL
	if r.URL != "" {
		u, err := url.Parse(r.URL)
		if err != nil {
			return nil, fmt.Errorf("httpauth: dynamic token url: %w", err)
		}
		target = u
	} else {
		ref, err := url.Parse(r.Path)
		if err != nil {
			return nil, fmt.Errorf("httpauth: dynamic token path: %w", err)
		}
		target = origin.ResolveReference(ref)
	}
	s := &dynamicSource{
		method:   r.Method,
		target:   target,
		headers:  r.Headers,
		now:      opts.Now,
		margin:   opts.ExpiryMargin,
		prefix:   "Bearer ",
		fixed:    defaultTokenLife,
		endpoint: endpointString(target),
	}
	if s.method == "" {
		s.method = http.MethodPost
	}
	if d.Prefix != nil {
		s.prefix = *d.Prefix
	}
	if len(r.Body) > 0 {
		if r.BodyFormat == BodyForm {
			v, err := formBody(r.Body)
			if err != nil {
				return nil, err
			}
			s.body, s.contentType = []byte(v.Encode()), "application/x-www-form-urlencoded"
		} else {
			s.body, s.contentType = []byte(r.Body), "application/json"
		}
	}
	var err error
	if s.token, err = compileJQ(d.Token, jqTokenExample); err != nil {
		return nil, err
	}
	switch {
	case d.ExpiresIn.Expr != "":
		if s.expires, err = compileJQ(d.ExpiresIn.Expr, jqExpiresExample); err != nil {
			return nil, err
		}
	case d.ExpiresIn.Seconds > 0:
		s.fixed = time.Duration(d.ExpiresIn.Seconds) * time.Second
	}
	tokenRT := base
	if r.Auth != nil {
		// The token request's own credentials go to the token endpoint's
		// origin only.
		if tokenRT, err = newSigner(*r.Auth, base, target, opts); err != nil {
			return nil, fmt.Errorf("httpauth: dynamic token request auth: %w", err)
		}
	}
	s.client = tokenClient(tokenRT)
	header := d.Header
	if header == "" {
		header = "Authorization"
	}
	t := &tokenTransport{
		base:   base,
		origin: origin,
		cache:  newTokenCache(s.fetch, opts.Now),
		header: header,
	}
	if tokenRT != base {
		t.close = func() { closeIdle(tokenRT) }
	}
	return t, nil
}

func (s *dynamicSource) fetch(ctx context.Context) (cachedToken, error) {
	req, err := http.NewRequestWithContext(ctx, s.method, s.target.String(), bytes.NewReader(s.body))
	if err != nil {
		return cachedToken{}, fmt.Errorf("httpauth: dynamic token request: %w", redactURLError(err))
	}
	if len(s.body) == 0 {
		req.Body, req.GetBody, req.ContentLength = http.NoBody, nil, 0
	} else {
		req.Header.Set("Content-Type", s.contentType)
	}
	req.Header.Set("Accept", "application/json")
	for k, v := range s.headers {
		req.Header.Set(k, v)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return cachedToken{}, fmt.Errorf("httpauth: dynamic token request to %s: %w", s.endpoint, redactURLError(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenAnswer+1))
	if err != nil {
		return cachedToken{}, fmt.Errorf("httpauth: read the answer of %s: %w", s.endpoint, err)
	}
	if len(data) > maxTokenAnswer {
		return cachedToken{}, fmt.Errorf("httpauth: token endpoint %s answered more than %d KiB", s.endpoint, maxTokenAnswer>>10)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return cachedToken{}, answerError(s.endpoint, resp.StatusCode, data)
	}
	var doc any
	if err := json.Unmarshal(data, &doc); err != nil {
		return cachedToken{}, fmt.Errorf("httpauth: token endpoint %s answered %d with %s, not JSON: check the request (method, body_format, headers)",
			s.endpoint, resp.StatusCode, contentTypeOf(resp))
	}
	// A jq runtime error quotes values of the answer, and the answer holds
	// the token: say that it failed, not what it said.
	v, err := runJQ(ctx, s.token, doc)
	if err != nil {
		return cachedToken{}, errors.New("httpauth: auth.token: the jq expression failed on the token endpoint's answer (its message is not shown, as it may quote the token): try it on a sample answer")
	}
	tok, ok := v.(string)
	if !ok || tok == "" {
		return cachedToken{}, fmt.Errorf("httpauth: auth.token: the jq expression gave %s, want the token as non-empty text: check it against the token endpoint's answer", jqTypeName(v))
	}
	if hasCTL(tok) {
		return cachedToken{}, errors.New("httpauth: auth.token: the token holds a control character or line break, which cannot go in a header")
	}
	life := s.fixed
	if s.expires != nil {
		v, err := runJQ(ctx, s.expires, doc)
		if err != nil {
			return cachedToken{}, errors.New("httpauth: auth.expires_in: the jq expression failed on the token endpoint's answer (its message is not shown, as it may quote the token): try it on a sample answer")
		}
		secs, ok, err := jqSeconds(v)
		if err != nil {
			return cachedToken{}, fmt.Errorf("httpauth: auth.expires_in: the jq expression %v", err)
		}
		if ok {
			life = time.Duration(secs * float64(time.Second))
		}
	}
	now := s.now()
	expiry := now.Add(max(life, 0))
	return cachedToken{header: s.prefix + tok, expiry: expiry, renewAt: renewTime(now, expiry, s.margin)}, nil
}

// answerError describes a refused token request from its status and, when
// the answer is an RFC 6749-style JSON error, its code and description.
func answerError(endpoint string, status int, data []byte) error {
	var e struct {
		Error       any    `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(data, &e)
	code, _ := e.Error.(string)
	return &TokenError{
		Endpoint:    endpoint,
		Status:      status,
		Code:        shorten(code, 64),
		Description: shorten(e.Description, 200),
		Hint:        tokenHint(code, status),
	}
}

func contentTypeOf(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return shorten(ct, 60)
	}
	return "no Content-Type"
}

// formBody turns a flat JSON object into form values: text as it is,
// numbers as written, booleans as true/false, null as empty, and an array
// of those as a repeated name.
func formBody(raw json.RawMessage) (url.Values, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("body_format form needs the body as a JSON object of names and values, such as {\"grant_type\": \"password\"}")
	}
	v := url.Values{}
	names := make([]string, 0, len(obj))
	for k := range obj {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		vals, ok := obj[k].([]any)
		if !ok {
			vals = []any{obj[k]}
		}
		for _, x := range vals {
			s, ok := formScalar(x)
			if !ok {
				return nil, fmt.Errorf("body_format form needs a flat object, but %q holds %s: use text, numbers or booleans", k, jqTypeName(x))
			}
			v.Add(k, s)
		}
	}
	return v, nil
}

func formScalar(x any) (string, bool) {
	switch t := x.(type) {
	case nil:
		return "", true
	case string:
		return t, true
	case json.Number:
		return t.String(), true
	case bool:
		if t {
			return "true", true
		}
		return "false", true
	}
	return "", false
}
