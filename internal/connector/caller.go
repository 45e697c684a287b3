package connector

import "context"

// Caller asks another system something in the middle of a flow (the call
// step) and returns its answer, which the engine puts under the step's
// "as" name in the record.
//
// Lifecycle: a Kind's NewCaller builds it with no I/O; Open is called once
// before the first Call; Call may then be called from several goroutines at
// once, each honouring its ctx; Close releases everything, may be called at
// any point and more than once (only the first call does anything), and
// Call after Close returns ErrClosed.
type Caller interface {
	Open(ctx context.Context) error
	// Call sends one request built from rec.Data and returns the answer as
	// a decoded JSON value (nil for an empty answer). An error fails only
	// this record; it is bounded and carries no secret.
	Call(ctx context.Context, rec Record) (any, error)
	Close() error
}
