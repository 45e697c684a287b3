package http

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// defaultParallel is how many requests one Write has in flight when the
// connection sets no concurrency limit.
const defaultParallel = 4

// Sink sends records to an HTTP API: one request per record, or a JSON
// array of batch records per request.
type Sink struct {
	c     *client
	req   *flow.CompiledRequest
	batch int
	// bodySize is the size of the last body sent, the first guess for
	// the next one's buffer.
	bodySize atomic.Int64

	opened, closed bool
}

var (
	_ connector.Sink      = (*Sink)(nil)
	_ connector.Previewer = (*Sink)(nil)
)

// NewSink checks settings (see the kind's write fields) and builds a Sink
// over conn. It does no I/O.
func NewSink(env connector.Env, conn Conn, settings map[string]any) (*Sink, error) {
	s, ps := connector.Check(sinkFields, settings)
	if len(ps) > 0 {
		return nil, &connector.ValidationError{Problems: ps}
	}
	return newSink(env, conn, s)
}

func newSink(env connector.Env, conn Conn, s map[string]any) (*Sink, error) {
	w, err := compileWrite(s)
	if err != nil {
		return nil, err
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	return &Sink{c: c, req: w.Request, batch: max(w.Batch, 1)}, nil
}

// Open prepares the sink; requests are made by Write.
func (s *Sink) Open(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	if s.opened {
		return errors.New("http: Open called twice")
	}
	s.opened = true
	return ctx.Err()
}

// Flush does nothing: every request is complete when Write returns.
func (s *Sink) Flush(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	return nil
}

// Close releases the sink.
func (s *Sink) Close() error {
	s.closed = true
	return nil
}

// group is the records of one request, by their index in the Write.
type group struct{ from, to int }

func (s *Sink) groups(n int) []group {
	var out []group
	for i := 0; i < n; i += s.batch {
		out = append(out, group{i, min(i+s.batch, n)})
	}
	return out
}

// Write sends the records, a request per record or per batch, several at
// once within the connection's concurrency limit. A refused request (4xx
// other than 408 and 429) fails its records; a transient failure (408,
// 429, 5xx, no answer) gives its records a connector.TransientError and
// the requests not yet sent get the same, so a struggling destination is
// not pressed further and the engine retries them after its wait.
func (s *Sink) Write(ctx context.Context, records []connector.Record) ([]connector.Outcome, error) {
	switch {
	case s.closed:
		return nil, connector.ErrClosed
	case !s.opened:
		return nil, errors.New("http: Write before Open")
	}
	out := make([]connector.Outcome, len(records))
	// A record broken at the source fails alone and is not sent.
	good := make([]int, 0, len(records))
	for i, r := range records {
		if r.Err != nil {
			out[i].Err = r.Err
			continue
		}
		good = append(good, i)
	}
	gs := s.groups(len(good))
	parallel := s.c.conn.Limits.Concurrency()
	if parallel == 0 {
		parallel = defaultParallel
	}
	parallel = min(parallel, len(gs))
	var (
		next    atomic.Int64
		stopped atomic.Pointer[connector.TransientError]
		wg      sync.WaitGroup
	)
	for range parallel {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(gs) {
					return
				}
				idx := good[gs[i].from:gs[i].to]
				if te := stopped.Load(); te != nil {
					for _, j := range idx {
						out[j].Err = &connector.TransientError{Err: fmt.Errorf("not sent: an earlier request failed: %w", te.Err), After: te.After}
					}
					continue
				}
				recs := make([]connector.Record, len(idx))
				outs := make([]connector.Outcome, len(idx))
				for k, j := range idx {
					recs[k] = records[j]
				}
				s.send(ctx, recs, outs, &stopped)
				for k, j := range idx {
					out[j] = outs[k]
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("http: write: %w", context.Cause(ctx))
	}
	return out, nil
}

// send sends one request for recs and fills their outcomes.
func (s *Sink) send(ctx context.Context, recs []connector.Record, out []connector.Outcome, stopped *atomic.Pointer[connector.TransientError]) {
	fail := func(err error) {
		for i := range out {
			out[i].Err = err
		}
	}
	o, err := s.request(ctx, recs)
	if err != nil {
		fail(err)
		return
	}
	a, err := s.c.send(ctx, o)
	if err != nil {
		err = asTransient(err)
		var te *connector.TransientError
		if errors.As(err, &te) {
			stopped.CompareAndSwap(nil, te)
		}
		fail(err)
		return
	}
	v := decodeAnswer(a)
	if arr, ok := v.([]any); ok && s.batch > 1 && len(arr) == len(recs) {
		for i := range out {
			out[i].Response = arr[i]
		}
		return
	}
	for i := range out {
		out[i].Response = v
	}
}

// request builds the request of recs: templates on the first record; the
// body is the record (or its body jq), or an array of them in a batch.
func (s *Sink) request(ctx context.Context, recs []connector.Record) (*outgoing, error) {
	o, err := s.c.build(ctx, s.req, recs[0].Data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("request %w", err)
	}
	if s.req.Method == "GET" {
		return o, nil
	}
	bodies := make([]any, len(recs))
	for i, r := range recs {
		b, err := body(ctx, s.req, r.Data)
		if err != nil {
			return nil, err
		}
		bodies[i] = b
	}
	var v any = bodies[0]
	if s.batch > 1 {
		v = bodies
	}
	buf := make([]byte, 0, s.bodySize.Load()*9/8+64)
	if err := o.withBodyBuffer(buf, v); err != nil {
		return nil, err
	}
	s.bodySize.Store(int64(len(o.body)))
	return o, nil
}

// body is what a record sends: the body jq's one value, or the record.
func body(ctx context.Context, r *flow.CompiledRequest, data any) (any, error) {
	if r.Body == nil {
		return data, nil
	}
	vs, err := runJQ(ctx, r.Body, data, 1)
	if err != nil {
		return nil, fmt.Errorf("request.body: %v", err)
	}
	if len(vs) != 1 {
		return nil, errors.New("request.body gave no value: it must give the body to send")
	}
	return vs[0], nil
}

// preview is what a write would send, as a dry run shows it.
type preview struct {
	Method  string            `json:"method"`
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    any               `json:"body,omitempty"`
	// Batch is the 1-based number of the request the record goes in,
	// when records are sent in batches.
	Batch int    `json:"batch,omitempty"`
	Error string `json:"error,omitempty"`
}

// Preview implements connector.Previewer: for each record, the request it
// would go in (method, URL, headers without credentials, body). A record
// whose request cannot be built shows why.
func (s *Sink) Preview(ctx context.Context, records []connector.Record) ([]any, error) {
	out := make([]any, len(records))
	for n, g := range s.groups(len(records)) {
		var p preview
		o, err := s.request(ctx, records[g.from:g.to])
		if err != nil {
			p = preview{Method: s.req.Method, Error: err.Error()}
		} else {
			u := *o.url
			u.RawQuery = redactPatterns(u.RawQuery)
			p = preview{Method: o.method, URL: u.String(), Headers: previewHeaders(o.header)}
			if o.body != nil {
				b, _ := decode(o.body)
				p.Body = b
			}
		}
		if s.batch > 1 {
			p.Batch = n + 1
		}
		for j := g.from; j < g.to; j++ {
			out[j] = p
		}
	}
	return out, nil
}
