package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/jsonx"
)

// maxRecordsPerPage bounds the records one page may hold.
const maxRecordsPerPage = 1_000_000

// maxEmptyPages bounds the empty pages a cursor or Link read follows in a
// row before it gives up: an API that answers empty pages with a next
// cursor forever would otherwise hold the run.
const maxEmptyPages = 1000

// Source reads the records of an HTTP API page by page.
type Source struct {
	c    *client
	read *flow.CompiledRead
	pg   flow.Paginate
	// incremental: the parameter and the value sent in it ("" on the
	// first run).
	incParam, since string
	retries         int
	backoff, most   time.Duration
	batch           int

	opened, closed bool
	next           page // the page to fetch next
	skip           int  // records of next already delivered (a resume)
	last           bool // no page after the one buf came from
	buf            []connector.Record
	cur            page // the page buf came from
	curDone        int  // records of cur delivered so far
	index          int64
	fetched        int // pages fetched by this source
	max            cursorValue
	// ahead is the fetch of next started when Read gave the last records
	// of the page before (nil: none in flight).
	ahead *prefetch
}

// prefetch is a page being fetched beside the engine's work on the page
// before it.
type prefetch struct {
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	res    pageResult // set when done is closed
}

// pageResult is a page fetched and its records picked, not yet taken by
// Read.
type pageResult struct {
	recs []connector.Record
	next page // the page after it, when more
	more bool
	err  error
}

var (
	_ connector.Source    = (*Source)(nil)
	_ connector.Resumable = (*Source)(nil)
	_ connector.FetchByID = (*Source)(nil)
	_ CursorSource        = (*Source)(nil)
)

// CursorSource is a Source of an incremental read: at the end of a run,
// the runs layer keeps Cursor's value with the flow and gives it to the
// next run's source as incremental.since.
type CursorSource interface {
	// Cursor is the largest incremental cursor value read so far (or the
	// since value it started from, when no record had a larger one); ok
	// is false when the read is not incremental or has no value yet.
	Cursor() (value string, ok bool)
	// SetSince gives the source the value the flow's last run kept, to
	// send as the incremental param; it is called before Open (and
	// before Resume). A source whose read is not incremental ignores it.
	SetSince(value string) error
}

// page names one page: its number or offset, its cursor, or its Link URL
// (path and query on the connection's origin).
type page struct {
	N      int     `json:"n,omitempty"`
	Cursor *string `json:"cursor,omitempty"`
	Link   string  `json:"link,omitempty"`
}

// position is the Position of an http source: the page to read next, how
// many of its records were delivered, and the state kept across it.
type position struct {
	Style string `json:"style"`
	Page  page   `json:"page"`
	Skip  int    `json:"skip,omitempty"`
	// Done says the last page was delivered: a resume reads nothing.
	Done bool `json:"done,omitempty"`
	// Index is the count of records delivered before.
	Index int64 `json:"index,omitempty"`
	// Max is the largest incremental cursor value read before.
	Max *cursorValue `json:"max,omitempty"`
}

// NewSource checks settings (see the kind's read fields) and builds a
// Source over conn. It does no I/O.
func NewSource(env connector.Env, conn Conn, settings map[string]any) (*Source, error) {
	s, ps := connector.Check(sourceFields, settings)
	if len(ps) > 0 {
		return nil, &connector.ValidationError{Problems: ps}
	}
	return newSource(env, conn, s)
}

func newSource(env connector.Env, conn Conn, s map[string]any) (*Source, error) {
	read, err := compileRead(s)
	if err != nil {
		return nil, err
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	src := &Source{c: c, read: read, pg: read.Paginate, batch: env.Batch()}
	src.retries, _ = s["retries"].(int)
	src.backoff, _ = s["backoff"].(time.Duration)
	src.most, _ = s["max_backoff"].(time.Duration)
	if src.most < src.backoff {
		return nil, invalid("max_backoff", "is shorter than backoff (%s)", src.backoff)
	}
	if inc := obj(s, "incremental"); inc != nil {
		src.incParam = read.IncrementalParam
		src.since, _ = inc["since"].(string)
		if src.since != "" {
			src.max = newCursorValue(src.since)
		}
	}
	if src.pg.Start != nil {
		src.next.N = *src.pg.Start
	}
	return src, nil
}

// Resume makes the next Open start at the Position's page, after the
// records of it already delivered; nil means the start.
func (s *Source) Resume(pos connector.Position) error {
	if s.opened || s.closed {
		return errors.New("http: Resume after Open")
	}
	if len(pos) == 0 {
		return nil
	}
	var p position
	if err := json.Unmarshal(pos, &p); err != nil {
		return fmt.Errorf("%w: http position %s: %v", connector.ErrBadPosition, pos, err)
	}
	if p.Style != s.pg.Style {
		return fmt.Errorf("%w: the checkpoint was made by a read with pagination %q, this one is %q", connector.ErrBadPosition, p.Style, s.pg.Style)
	}
	if p.Skip < 0 || p.Index < 0 || p.Page.N < 0 {
		return fmt.Errorf("%w: http position %s has a negative count", connector.ErrBadPosition, pos)
	}
	if p.Page.Link != "" {
		if _, err := s.linkURL(p.Page.Link); err != nil {
			return fmt.Errorf("%w: %v", connector.ErrBadPosition, err)
		}
	}
	s.next, s.skip, s.last, s.index = p.Page, p.Skip, p.Done, p.Index
	if p.Max != nil && p.Max.Text != "" {
		s.max = *p.Max
	}
	return nil
}

// Open prepares the source; the first request is made by Read.
func (s *Source) Open(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	if s.opened {
		return errors.New("http: Open called twice")
	}
	s.opened = true
	return ctx.Err()
}

// Close releases the source, stopping a page fetch still in flight. Idle
// connections belong to the connection's client, which other sources
// share.
func (s *Source) Close() error {
	s.closed = true
	s.buf = nil
	s.dropAhead()
	return nil
}

// dropAhead stops the prefetch in flight, if any, and forgets it.
func (s *Source) dropAhead() {
	if s.ahead != nil {
		s.ahead.cancel()
		<-s.ahead.done
		s.ahead = nil
	}
}

// SetSince implements CursorSource.
func (s *Source) SetSince(v string) error {
	if s.opened || s.closed {
		return errors.New("http: SetSince after Open")
	}
	if s.read.IncrementalCursor == nil {
		return nil
	}
	s.since = v
	if since := newCursorValue(v); v != "" && (s.max.Text == "" || s.max.less(since)) {
		s.max = since
	}
	return nil
}

// Cursor implements CursorSource.
func (s *Source) Cursor() (string, bool) {
	if s.read.IncrementalCursor == nil || s.max.Text == "" {
		return "", false
	}
	return s.max.Text, true
}

// Read returns the next batch of records and the Position after it.
func (s *Source) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	switch {
	case s.closed:
		return nil, nil, connector.ErrClosed
	case !s.opened:
		return nil, nil, errors.New("http: Read before Open")
	}
	empty := 0
	for len(s.buf) == 0 {
		if s.last {
			return nil, nil, io.EOF
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("http: read: %w", context.Cause(ctx))
		}
		if err := s.fetchNext(ctx); err != nil {
			return nil, nil, err
		}
		if len(s.buf) == 0 && !s.last {
			if empty++; empty > maxEmptyPages {
				return nil, nil, fmt.Errorf("http: read: %d empty pages in a row, each with a next page: the API does not seem to end", maxEmptyPages)
			}
		}
	}
	n := min(s.batch, len(s.buf))
	out := make([]connector.Record, n)
	copy(out, s.buf[:n])
	s.buf = s.buf[n:]
	s.curDone += n
	if len(s.buf) == 0 {
		s.buf = nil
	}
	s.index += int64(n)
	for i := range out {
		if out[i].Err == nil {
			s.observe(ctx, &out[i])
		}
	}
	p := position{Style: s.pg.Style, Index: s.index}
	switch {
	case len(s.buf) > 0:
		p.Page, p.Skip = s.cur, s.curDone
	case s.last:
		p.Done = true
	default:
		p.Page = s.next
	}
	if s.max.Text != "" {
		m := s.max
		p.Max = &m
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, nil, fmt.Errorf("http: read: position: %w", err)
	}
	if len(s.buf) == 0 && !s.last {
		s.startAhead(ctx)
	}
	return out, connector.Position(b), nil
}

// startAhead starts fetching s.next while the caller works on the records
// just returned: the engine maps and writes a page while the next one is
// on its way, as a minimal loop could not. It moves nothing on: s.next
// stays the page to fetch (and the Position says so) until fetchNext
// takes the result, so a checkpoint never covers a page not delivered.
// At most one page is fetched ahead, with ctx (the run's).
func (s *Source) startAhead(ctx context.Context) {
	pctx, cancel := context.WithCancel(ctx)
	s.fetched++
	pf := &prefetch{ctx: pctx, cancel: cancel, done: make(chan struct{})}
	p, n := s.next, s.fetched
	go func() {
		defer close(pf.done)
		pf.res = s.load(pctx, p, n)
	}()
	s.ahead = pf
}

// fetchNext fetches s.next (or takes it from the prefetch in flight) and
// fills buf with its records not yet delivered, moving next on (or
// setting last).
func (s *Source) fetchNext(ctx context.Context) error {
	var r pageResult
	if pf := s.ahead; pf != nil {
		select {
		case <-pf.done:
		case <-ctx.Done():
			s.dropAhead()
			return fmt.Errorf("http: read: %w", context.Cause(ctx))
		}
		s.ahead = nil
		pf.cancel()
		r = pf.res
		if r.err != nil && pf.ctx.Err() != nil && ctx.Err() == nil {
			// The prefetch ended with the context of an earlier Read,
			// not this one: fetch the page now.
			r = s.load(ctx, s.next, s.fetched)
		}
	} else {
		s.fetched++
		r = s.load(ctx, s.next, s.fetched)
	}
	if r.err != nil {
		return r.err
	}
	skip := min(s.skip, len(r.recs))
	s.skip = 0
	for i := range r.recs {
		r.recs[i].Meta.Index = s.index + int64(i-skip) + 1
	}
	s.buf, s.cur, s.curDone = r.recs[skip:], s.next, skip
	if r.more {
		s.next = r.next
	} else {
		s.last = true
	}
	return nil
}

// load fetches page p, the n'th page of this source, and picks its
// records. It reads the source's settings only, never its state, so a
// prefetch runs it beside Read.
func (s *Source) load(ctx context.Context, p page, n int) pageResult {
	fail := func(err error) pageResult { return pageResult{err: err} }
	o, err := s.pageRequest(ctx, p)
	if err != nil {
		return fail(fmt.Errorf("http: read: %w", err))
	}
	name := s.describe(p, n)
	where := o.where()
	if name != "" {
		where += " (" + name + ")"
	}
	a, err := s.fetch(ctx, o)
	if err != nil {
		// The error names the request already.
		if name != "" {
			return fail(fmt.Errorf("http: read, %s: %w", name, err))
		}
		return fail(fmt.Errorf("http: read: %w", err))
	}
	body, err := s.pageJSON(a)
	if err != nil {
		return fail(fmt.Errorf("http: read %s: %w", where, err))
	}
	recs, err := s.records(ctx, body)
	if err != nil {
		return fail(fmt.Errorf("http: read %s: %w", where, err))
	}
	next, more, err := s.after(ctx, a, body, len(recs), p)
	if err != nil {
		return fail(fmt.Errorf("http: read %s: %w", where, err))
	}
	return pageResult{recs: recs, next: next, more: more}
}

// describe names page p, the n'th of this run, in errors ("" for style
// none).
func (s *Source) describe(p page, n int) string {
	switch s.pg.Style {
	case "page":
		return fmt.Sprintf("page %d", p.N)
	case "offset":
		return fmt.Sprintf("offset %d", p.N)
	case "none":
		return ""
	}
	return fmt.Sprintf("page %d of this run", n)
}

// pageRequest builds the request of page p.
func (s *Source) pageRequest(ctx context.Context, p page) (*outgoing, error) {
	extra := url.Values{}
	first := p.Cursor == nil && p.Link == ""
	if s.incParam != "" && s.since != "" && (s.pg.Style != "link_header" || first) {
		extra.Set(s.incParam, s.since)
	}
	if s.pg.SizeParam != "" && s.pg.Size > 0 && p.Link == "" {
		extra.Set(s.pg.SizeParam, strconv.Itoa(s.pg.Size))
	}
	switch s.pg.Style {
	case "page", "offset":
		extra.Set(s.pg.Param, strconv.Itoa(p.N))
	case "cursor":
		if p.Cursor != nil {
			extra.Set(s.pg.Param, *p.Cursor)
		}
	}
	o, err := s.c.build(ctx, s.read.Request, nil, nil, extra)
	if err != nil {
		return nil, err
	}
	if s.read.Request.Body != nil {
		vs, err := runJQ(ctx, s.read.Request.Body, nil, 1)
		if err != nil || len(vs) != 1 {
			return nil, fmt.Errorf("request.body must give one value on null: %v", errOr(err, "it gave none"))
		}
		if err := o.withBody(vs[0]); err != nil {
			return nil, err
		}
	}
	if p.Link != "" {
		u, err := s.linkURL(p.Link)
		if err != nil {
			return nil, err
		}
		o.url = u
	}
	return o, nil
}

// errSummary is a short name for why a wait ended.
func errSummary(err error) string {
	if errors.Is(err, context.Canceled) {
		return "the run was stopped"
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "out of time"
	}
	return "interrupted"
}

func errOr(err error, msg string) error {
	if err != nil {
		return err
	}
	return errors.New(msg)
}

// fetch sends a page request, trying a transient failure again with
// backoff up to the retries setting.
func (s *Source) fetch(ctx context.Context, o *outgoing) (*answer, error) {
	sleep := s.c.conn.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	for attempt := 0; ; attempt++ {
		a, err := s.c.send(ctx, o)
		if err == nil {
			return a, nil
		}
		after, ok := retryable(err)
		if !ok {
			return nil, err
		}
		if attempt >= s.retries {
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt+1, err)
		}
		if after > maxRetryAfter {
			return nil, fmt.Errorf("the API asked to wait %s (Retry-After), longer than the %s a read waits; run the flow again later: %w", after, maxRetryAfter, err)
		}
		if err := sleep(ctx, backoff(attempt, s.backoff, s.most, after)); err != nil {
			if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return nil, fmt.Errorf("waiting to try the page again (%v): %w", errSummary(err), err)
		}
	}
}

// pageJSON decodes a page, saying clearly when it is not JSON.
func (s *Source) pageJSON(a *answer) (any, error) {
	v, err := decode(a.body)
	if err == nil {
		return v, nil
	}
	ct := a.header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	if ct != "" && mt != "application/json" && !jsonish(mt) {
		return nil, fmt.Errorf("the answer is %s, not JSON (an HTML page is often a login or error page: check the path and the connection's auth); it starts: %s",
			mt, s.c.excerpt(a.body))
	}
	return nil, fmt.Errorf("the answer is not valid JSON: %v; it starts: %s", jsonErr(err), s.c.excerpt(a.body))
}

func jsonish(mt string) bool {
	return len(mt) > 5 && (mt[len(mt)-5:] == "+json" || mt == "text/json")
}

// jsonErr says where a JSON syntax error is, without the document.
func jsonErr(err error) string {
	if off, ok := jsonx.SyntaxOffset(err); ok {
		return fmt.Sprintf("%s (at byte %d)", err.Error(), off)
	}
	return err.Error()
}

// records runs the records expression on a page.
func (s *Source) records(ctx context.Context, body any) ([]connector.Record, error) {
	vs, err := runJQ(ctx, s.read.Records, body, maxRecordsPerPage)
	if err != nil {
		return nil, fmt.Errorf("records: %v", err)
	}
	if len(vs) == 1 {
		if arr, ok := vs[0].([]any); ok {
			vs = arr
		}
	}
	out := make([]connector.Record, len(vs))
	for i, v := range vs {
		if _, ok := v.(map[string]any); !ok {
			return nil, fmt.Errorf("records gave %s as record %d of the page: each record must be a JSON object; check the records expression (e.g. .orders[], or .[] when the page is an array)", describe(v), i+1)
		}
		out[i] = connector.Record{Data: v}
	}
	return out, nil
}

// after works out the page after cur, just fetched with n records, and
// whether there is one.
func (s *Source) after(ctx context.Context, a *answer, body any, n int, cur page) (page, bool, error) {
	switch s.pg.Style {
	case "page", "offset":
		if n == 0 || (s.pg.Size > 0 && n < s.pg.Size) {
			return page{}, false, nil
		}
		if s.pg.Style == "page" {
			return page{N: cur.N + 1}, true, nil
		}
		return page{N: cur.N + n}, true, nil
	case "cursor":
		vs, err := runJQ(ctx, s.read.Next, body, 1)
		if err != nil {
			return page{}, false, fmt.Errorf("paginate.next: %v", err)
		}
		if len(vs) == 0 || vs[0] == nil || vs[0] == "" {
			return page{}, false, nil
		}
		c, ok := scalarText(vs[0])
		if !ok {
			return page{}, false, fmt.Errorf("paginate.next gave %s: the cursor must be text or a number", describe(vs[0]))
		}
		if cur.Cursor != nil && *cur.Cursor == c {
			return page{}, false, errors.New("paginate.next gave the same cursor as the page's own: stopping rather than read the same page forever")
		}
		return page{Cursor: &c}, true, nil
	case "link_header":
		link, ok := nextLink(a.header.Values("Link"))
		if !ok {
			return page{}, false, nil
		}
		rel, err := s.keepLink(a.url, link)
		if err != nil {
			return page{}, false, err
		}
		if rel == cur.Link {
			return page{}, false, errors.New("the Link header's next is the page itself: stopping rather than read it forever")
		}
		return page{Link: rel}, true, nil
	}
	return page{}, false, nil
}

// scalarText is a cursor value as text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case int:
		return strconv.Itoa(x), true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	if s, ok := bigText(v); ok {
		return s, true
	}
	return "", false
}

// keepLink resolves a Link target against the page's URL, holds it to the
// connection's origin and returns it as path and query with the auth's
// query parameters taken out (the signer adds them again).
func (s *Source) keepLink(pageURL *url.URL, target string) (string, error) {
	ref, err := url.Parse(target)
	if err != nil {
		return "", errors.New("the Link header's next URL cannot be read")
	}
	u := pageURL.ResolveReference(ref)
	if origin(u) != origin(s.c.base) {
		return "", fmt.Errorf("the Link header's next URL leads to %s, not to the connection's origin %s: it is not followed", origin(u), origin(s.c.base))
	}
	q := u.Query()
	for _, k := range s.c.conn.SecretQuery {
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	return u.RequestURI(), nil
}

// linkURL is a kept Link target as a URL on the connection's origin.
func (s *Source) linkURL(rel string) (*url.URL, error) {
	ref, err := url.Parse(rel)
	if err != nil || ref.IsAbs() || ref.Host != "" || len(rel) == 0 || rel[0] != '/' {
		return nil, fmt.Errorf("the kept Link %q is not a path on the connection's origin", rel)
	}
	return s.c.base.ResolveReference(ref), nil
}

// FetchByID fetches one record with the fetch_one request. A 404 answer,
// null or an empty array is connector.ErrNotFound; an array of one object
// is that object.
func (s *Source) FetchByID(ctx context.Context, id string) (connector.Record, error) {
	switch {
	case s.closed:
		return connector.Record{}, connector.ErrClosed
	case !s.opened:
		return connector.Record{}, errors.New("http: FetchByID before Open")
	case s.read.FetchOne == nil:
		return connector.Record{}, fmt.Errorf("%w: the http read has no fetch_one request, so it cannot fetch a record by its ID; add read.fetch_one, e.g. {method: GET, path: /orders/{{entity_id}}}", connector.ErrUnsupported)
	}
	o, err := s.c.build(ctx, s.read.FetchOne, nil, []any{id}, nil)
	if err != nil {
		return connector.Record{}, fmt.Errorf("http: fetch %q: %w", id, err)
	}
	a, err := s.fetch(ctx, o)
	var se *StatusError
	if errors.As(err, &se) && (se.Status == 404 || se.Status == 410) {
		return connector.Record{}, fmt.Errorf("%w: %s answered %d", connector.ErrNotFound, o.where(), se.Status)
	}
	if err != nil {
		return connector.Record{}, fmt.Errorf("http: fetch %q: %w", id, err)
	}
	v, err := s.pageJSON(a)
	if err != nil {
		return connector.Record{}, fmt.Errorf("http: fetch %q: %s: %w", id, o.where(), err)
	}
	if arr, ok := v.([]any); ok {
		switch len(arr) {
		case 0:
			return connector.Record{}, fmt.Errorf("%w: %s answered an empty list", connector.ErrNotFound, o.where())
		case 1:
			v = arr[0]
		default:
			return connector.Record{}, fmt.Errorf("http: fetch %q: %s answered %d records, not one", id, o.where(), len(arr))
		}
	}
	switch v.(type) {
	case nil:
		return connector.Record{}, fmt.Errorf("%w: %s answered nothing", connector.ErrNotFound, o.where())
	case map[string]any:
		return connector.Record{Data: v}, nil
	}
	return connector.Record{}, fmt.Errorf("http: fetch %q: %s answered %s, not a JSON object", id, o.where(), describe(v))
}
