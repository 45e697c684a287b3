package connector

import "context"

// Sink writes records to another system.
//
// Lifecycle, in this order, from one goroutine at a time:
//
//  1. A Kind's NewSink builds it from checked settings; that does no I/O.
//  2. Open connects or creates files, honouring ctx. It is called once. If
//     it fails, the engine calls Close (or Abort) and does nothing else.
//  3. Write takes a batch of records (none with Err set) and returns one
//     Outcome per record, in the same order: a record the destination
//     refused fails alone, and the others go on. A non-nil error instead
//     says the whole call failed (the destination is down, the disk is
//     full): no record of the batch counts as written, and the engine
//     retries the batch under the flow's on_error policy or fails it. The
//     outcomes are nil then. Write may keep records in a buffer: an
//     accepted record is written for good only after the next successful
//     Flush (or Close).
//  4. Flush writes out everything accepted so far and makes it durable as
//     far as the destination allows (an fsync, a committed transaction).
//     The engine flushes before it checkpoints the source, so a record is
//     never behind a checkpoint before it has been flushed.
//  5. Close flushes, commits and releases everything; an error means the
//     records not yet flushed are not written. It may be called at any
//     point, also before Open or after a failed Open, and more than once;
//     only the first call does anything. Write and Flush after Close return
//     ErrClosed.
//
// Write does not keep the records or their Data after it returns, and does
// not change them.
type Sink interface {
	Open(ctx context.Context) error
	Write(ctx context.Context, records []Record) ([]Outcome, error)
	Flush(ctx context.Context) error
	Close() error
}

// Outcome is what happened to one record given to Sink.Write.
type Outcome struct {
	// Err is nil when the sink accepted the record; otherwise it says why
	// the destination refused it (bounded, with no secrets in it).
	Err error
	// Response is the destination's answer for this record as a decoded
	// JSON value (for an HTTP write, the response body), which the engine
	// puts under .response for the steps after the write. nil when the
	// destination answers nothing (files).
	Response any
}

// Committer is a Sink whose writes become visible all at once, when Close
// succeeds: a file written under a temporary name and renamed into place.
// Until then the destination is unchanged.
//
// Checkpoints do not help a run that writes to a Committer: what it wrote
// before dying was never committed. The engine therefore does not
// checkpoint the source of such a run before Close returns nil, so a
// retried run starts over and writes the whole output again.
type Committer interface {
	Sink
	// Abort discards everything written since Open and releases the sink,
	// leaving the destination as it was. The engine calls it instead of
	// Close when a run fails or is cancelled. Close after Abort, and Abort
	// after Close or Abort, do nothing.
	Abort() error
}
