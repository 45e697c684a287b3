package http

import (
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// The runs layer holds flows already compiled (and checked) by the flow
// package, so it builds sources, sinks and callers from the compiled
// forms directly rather than through settings text. A read built this way
// tries a failing page DefaultRetries more times, waiting from
// DefaultBackoff up to DefaultMaxBackoff.

// Defaults of a read's page retries.
const (
	DefaultRetries    = 5
	DefaultBackoff    = time.Second
	DefaultMaxBackoff = 30 * time.Second
)

// NewSourceFrom builds a Source for a flow's compiled http read over
// conn. It does no I/O.
func NewSourceFrom(env connector.Env, conn Conn, r *flow.CompiledRead) (*Source, error) {
	if r == nil || r.Kind != flow.KindHTTP || r.Request == nil || r.Records == nil {
		return nil, fmt.Errorf("http: the read is not a compiled http read")
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	src := &Source{c: c, read: r, pg: r.Paginate, batch: env.Batch(),
		retries: DefaultRetries, backoff: DefaultBackoff, most: DefaultMaxBackoff}
	if r.IncrementalCursor != nil {
		src.incParam = r.IncrementalParam
	}
	if src.pg.Style == "" {
		src.pg.Style = "none"
	}
	if src.pg.Start != nil {
		src.next.N = *src.pg.Start
	}
	return src, nil
}

// NewSinkFrom builds a Sink for a flow's compiled http write over conn.
// It does no I/O.
func NewSinkFrom(env connector.Env, conn Conn, w *flow.CompiledWrite) (*Sink, error) {
	if w == nil || w.Kind != flow.KindHTTP || w.Request == nil {
		return nil, fmt.Errorf("http: the write is not a compiled http write")
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	return &Sink{c: c, req: w.Request, batch: max(w.Batch, 1)}, nil
}

// NewCallerFrom builds a Caller for a flow's compiled call step over
// conn. It does no I/O.
func NewCallerFrom(env connector.Env, conn Conn, call *flow.CompiledCall) (*Caller, error) {
	if call == nil || call.Request == nil {
		return nil, fmt.Errorf("http: the call step has no compiled request")
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	return &Caller{c: c, req: call.Request}, nil
}
