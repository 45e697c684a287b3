package http

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// Caller sends one request per record in the middle of a flow (the call
// step) and returns the answer.
type Caller struct {
	c   *client
	req *flow.CompiledRequest

	opened bool
	closed atomicBool
}

var _ connector.Caller = (*Caller)(nil)

// NewCaller checks settings (see the kind's call fields) and builds a
// Caller over conn. It does no I/O.
func NewCaller(env connector.Env, conn Conn, settings map[string]any) (*Caller, error) {
	s, ps := connector.Check(callerFields, settings)
	if len(ps) > 0 {
		return nil, &connector.ValidationError{Problems: ps}
	}
	return newCaller(env, conn, s)
}

func newCaller(env connector.Env, conn Conn, s map[string]any) (*Caller, error) {
	req, err := compileCall(s)
	if err != nil {
		return nil, err
	}
	c, err := newClient(env, conn)
	if err != nil {
		return nil, err
	}
	return &Caller{c: c, req: req}, nil
}

// Open prepares the caller; requests are made by Call.
func (c *Caller) Open(ctx context.Context) error {
	if c.closed.Load() {
		return connector.ErrClosed
	}
	if c.opened {
		return errors.New("http: Open called twice")
	}
	c.opened = true
	return ctx.Err()
}

// Close releases the caller.
func (c *Caller) Close() error {
	c.closed.Store(true)
	return nil
}

// Call sends the request built from rec.Data and returns the answer
// decoded: JSON as a value, other text as a string, an empty answer or a
// 404 as nil (so a lookup that finds nothing can be tested with
// `.customer == null`). Other 4xx answers fail the record; 408, 429, 5xx
// and network failures are connector.TransientError.
func (c *Caller) Call(ctx context.Context, rec connector.Record) (any, error) {
	switch {
	case c.closed.Load():
		return nil, connector.ErrClosed
	case !c.opened:
		return nil, errors.New("http: Call before Open")
	}
	o, err := c.c.build(ctx, c.req, rec.Data, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("request %w", err)
	}
	if c.req.Method != "GET" {
		b, err := body(ctx, c.req, rec.Data)
		if err != nil {
			return nil, err
		}
		if err := o.withBody(b); err != nil {
			return nil, err
		}
	}
	a, err := c.c.send(ctx, o)
	var se *StatusError
	if errors.As(err, &se) && se.Status == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, asTransient(err)
	}
	return decodeAnswer(a), nil
}
