package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	stdhttp "net/http"
	"net/url"
	"strings"
	"time"

	"github.com/itchyny/gojq"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/jsonx"
)

// MaxAnswer bounds the answer to one request (a page, or the answer to a
// write or call): a larger one is an error rather than a process that
// runs out of memory.
const MaxAnswer = 64 << 20

// client sends the requests of one source, sink or caller.
type client struct {
	conn Conn
	base *url.URL
	// trace sees every exchange (a console log; nil: none).
	trace func(connector.Exchange)
}

func newClient(env connector.Env, conn Conn) (*client, error) {
	base, err := checkConn(conn)
	if err != nil {
		return nil, err
	}
	return &client{conn: conn, base: base, trace: env.Trace}, nil
}

// outgoing is a request ready to send (and to send again).
type outgoing struct {
	method string
	url    *url.URL
	header stdhttp.Header
	body   []byte // nil: no body
}

// where names the request in errors: method and path, never the query
// (it may carry a key the auth signer or the API put there).
func (o *outgoing) where() string {
	return o.method + " " + o.url.EscapedPath()
}

// build renders a compiled request against input (the record; null for a
// page request) with vars ($entity_id in fetch_one), adding extra query
// parameters (pagination) after the request's own.
func (c *client) build(ctx context.Context, r *flow.CompiledRequest, input any, vars []any, extra url.Values) (*outgoing, error) {
	path, err := r.Path.Render(ctx, input, url.PathEscape, vars...)
	if err != nil {
		return nil, fmt.Errorf("path %s: %w", r.Path.Source, err)
	}
	u, err := url.Parse(c.conn.BaseURL + path)
	if err != nil || origin(u) != origin(c.base) {
		return nil, fmt.Errorf("path %s does not make a URL on the connection's base URL", r.Path.Source)
	}
	q := u.Query()
	for k, t := range r.Query {
		v, err := t.Render(ctx, input, nil, vars...)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", k, err)
		}
		q.Set(k, v)
	}
	for k, vs := range extra {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	h := stdhttp.Header{}
	for k, v := range c.conn.Headers {
		h.Set(k, v)
	}
	for k, t := range r.Headers {
		v, err := t.Render(ctx, input, nil, vars...)
		if err != nil {
			return nil, fmt.Errorf("header %s: %w", k, err)
		}
		h.Set(k, v)
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", "application/json")
	}
	return &outgoing{method: r.Method, url: u, header: h}, nil
}

// withBody sets a JSON body (what json.Marshal gives).
func (o *outgoing) withBody(v any) error { return o.withBodyBuffer(nil, v) }

// withBodyBuffer is withBody writing into buf, made large enough for the
// body (a batch of records) not to be grown step by step.
func (o *outgoing) withBodyBuffer(buf []byte, v any) error {
	b, err := jsonx.Append(buf, v)
	if err != nil {
		return fmt.Errorf("the body is not JSON: %w", err)
	}
	o.body = b
	if o.header.Get("Content-Type") == "" {
		o.header.Set("Content-Type", "application/json")
	}
	return nil
}

// answer is a read answer.
type answer struct {
	status int
	header stdhttp.Header
	body   []byte
	url    *url.URL // after redirects
}

// send sends o once: limits first, then the request with the connection's
// timeout. A non-2xx answer is a *StatusError; a failure to get an answer
// is a *sendError.
func (c *client) send(ctx context.Context, o *outgoing) (*answer, error) {
	release, err := c.conn.Limits.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	timeout := c.conn.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var body io.Reader
	if o.body != nil {
		body = bytes.NewReader(o.body)
	}
	req, err := stdhttp.NewRequestWithContext(rctx, o.method, o.url.String(), body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", o.where(), err)
	}
	req.Header = o.header.Clone()
	start := time.Now()
	resp, err := c.conn.Client.Do(req)
	if err != nil {
		c.traced(o, start, nil, nil, err)
		return nil, c.sendErr(ctx, o, err)
	}
	defer resp.Body.Close()
	b, err := readAnswer(resp)
	c.traced(o, start, resp, b, err)
	if err != nil {
		return nil, c.sendErr(ctx, o, err)
	}
	if len(b) > MaxAnswer {
		return nil, fmt.Errorf("%s: the answer is larger than %d MiB", o.where(), MaxAnswer>>20)
	}
	a := &answer{status: resp.StatusCode, header: resp.Header, body: b, url: resp.Request.URL}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return a, &StatusError{Method: o.method, Path: o.url.EscapedPath(), Status: resp.StatusCode,
			Excerpt: c.excerpt(b), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), c.now())}
	}
	return a, nil
}

// traced shows an exchange to the trace, if any: the request as Sluice
// built it (the connection's authentication is added below, by its
// transport, and is not in it) and the answer, or the error.
func (c *client) traced(o *outgoing, start time.Time, resp *stdhttp.Response, body []byte, err error) {
	if c.trace == nil {
		return
	}
	x := connector.Exchange{Method: o.method, URL: o.url, RequestHeader: o.header, RequestBody: o.body,
		Duration: time.Since(start), Err: err}
	if resp != nil {
		x.Status, x.ResponseHeader, x.ResponseBody = resp.StatusCode, resp.Header, body
	}
	c.trace(x)
}

// readAnswer reads an answer's body, at most MaxAnswer+1 bytes. A body
// whose length is announced is read into one buffer of that size rather
// than one grown step by step (pages of hundreds of kilobytes made
// several times their size in garbage).
func readAnswer(resp *stdhttp.Response) ([]byte, error) {
	r := io.LimitReader(resp.Body, MaxAnswer+1)
	if n := resp.ContentLength; n > 0 && n <= MaxAnswer {
		buf := bytes.NewBuffer(make([]byte, 0, n+1)) // +1: EOF is seen without growing
		_, err := buf.ReadFrom(r)
		return buf.Bytes(), err
	}
	return io.ReadAll(r)
}

func (c *client) now() time.Time {
	if c.conn.Now != nil {
		return c.conn.Now()
	}
	return time.Now()
}

// sendError is a request that got no answer: refused, reset, timed out.
type sendError struct {
	where     string
	err       error
	transient bool
}

func (e *sendError) Error() string { return e.where + ": " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func (c *client) sendErr(ctx context.Context, o *outgoing, err error) error {
	// net/http puts the whole URL, query included, in its errors.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := c.redact(err.Error())
	if ctx.Err() != nil {
		// The run ends: say so, and let the caller see ctx's error.
		return fmt.Errorf("%s: %w", o.where(), context.Cause(ctx))
	}
	return &sendError{where: o.where(), err: errors.New(msg), transient: transientNetErr(err)}
}

// transientNetErr says whether a failure to get an answer is worth trying
// again: timeouts, refused and reset connections, an answer cut short.
// An egress refusal or a TLS verification failure is not.
func transientNetErr(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"connection refused", "connection reset", "broken pipe", "server closed idle connection", "EOF"} {
		if strings.Contains(msg, s) {
			return !strings.Contains(msg, "egress")
		}
	}
	return false
}

// StatusError is a non-2xx answer.
type StatusError struct {
	Method string
	// Path is the request's path, without its query.
	Path   string
	Status int
	// Excerpt is the start of the answer, bounded and redacted.
	Excerpt string
	// RetryAfter is the answer's Retry-After (0 when none).
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	msg := fmt.Sprintf("%s %s answered %d %s", e.Method, e.Path, e.Status, stdhttp.StatusText(e.Status))
	if e.Excerpt != "" {
		msg += ": " + e.Excerpt
	}
	return msg
}

// Transient says whether the status is worth trying again: 408, 429
// and 5xx other than 501.
func (e *StatusError) Transient() bool {
	return e.Status == 408 || e.Status == 429 || (e.Status >= 500 && e.Status != 501)
}

// retryable says whether err is worth trying again, and the wait asked for.
func retryable(err error) (time.Duration, bool) {
	var se *StatusError
	if errors.As(err, &se) {
		return se.RetryAfter, se.Transient()
	}
	var ne *sendError
	if errors.As(err, &ne) {
		return 0, ne.transient
	}
	return 0, false
}

// asTransient wraps a retryable error as connector.TransientError for the
// engine.
func asTransient(err error) error {
	if after, ok := retryable(err); ok {
		return &connector.TransientError{Err: err, After: after}
	}
	return err
}

// maxRetryAfter is the longest Retry-After a read waits for: a server
// asking for longer is not waited for inside one run (and the engine
// fails a write or call asking for longer at once, for reprocessing).
const maxRetryAfter = 10 * time.Minute

// maxRetryAfterRead bounds a Retry-After as read, so absurd values cannot
// overflow.
const maxRetryAfterRead = 24 * time.Hour

// retryAfter reads a Retry-After value: delay-seconds or an HTTP-date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := parseSeconds(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := stdhttp.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfterRead)
}

func parseSeconds(v string) (int64, error) {
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, errors.New("not seconds")
		}
		n = n*10 + int64(c-'0')
		if n > int64(maxRetryAfterRead/time.Second) {
			n = int64(maxRetryAfterRead / time.Second)
		}
	}
	return n, nil
}

// backoff is the wait before attempt n+1 (n from 0): exponential from
// base, capped at most, with full jitter on the upper half so two
// clients do not retry in step; a Retry-After wins when it is longer.
func backoff(n int, base, most, after time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	if d > 1 {
		d = d/2 + rand.N(d/2+1)
	}
	return max(d, after)
}

// decode reads a JSON answer with UseNumber; empty gives nil.
func decode(b []byte) (any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	return jsonx.Decode(b)
}

// decodeAnswer is the answer of a write or call as a value: JSON decoded,
// other text as a (bounded) string, nothing as nil.
func decodeAnswer(a *answer) any {
	v, err := decode(a.body)
	if err == nil {
		return v
	}
	s := string(a.body)
	if len(s) > 64<<10 {
		s = s[:64<<10]
	}
	return s
}

// excerpt is the start of an answer, for errors: one line, at most 200
// bytes, with secret-looking values and the connection's secrets taken
// out.
func (c *client) excerpt(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	s = c.redact(s)
	if len(s) > 200 {
		cut := 200
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// redact removes the connection's secrets and secret-looking values.
func (c *client) redact(s string) string {
	if c.conn.Redact != nil {
		s = c.conn.Redact(s)
	}
	return redactPatterns(s)
}

// describe names a value's JSON type for errors.
func describe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case json.Number:
		return "a number"
	}
	return "a " + gojq.TypeOf(v)
}

// runJQ runs code on input and collects its values, bounded.
func runJQ(ctx context.Context, code *gojq.Code, input any, limit int) ([]any, error) {
	iter := code.RunWithContext(ctx, input)
	var out []any
	for {
		v, ok := iter.Next()
		if !ok {
			return out, nil
		}
		if err, isErr := v.(error); isErr {
			var he *gojq.HaltError
			if errors.As(err, &he) && he.Value() == nil {
				return out, nil
			}
			return nil, err
		}
		if len(out) >= limit {
			return nil, fmt.Errorf("gave more than %d values", limit)
		}
		out = append(out, v)
	}
}
