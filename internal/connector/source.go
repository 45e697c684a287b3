package connector

import "context"

// Source reads records from another system in bounded batches.
//
// Lifecycle, in this order, from one goroutine at a time:
//
//  1. A Kind's NewSource builds it from checked settings; that does no I/O.
//  2. Resume (only if the source is Resumable and the engine has a
//     checkpoint) says where Open is to start.
//  3. Open connects or opens files, honouring ctx. It is called once. If it
//     fails, the engine calls Close and does nothing else.
//  4. Read returns the next batch: between 1 and Env.BatchSize records and
//     the Position just after the last of them (nil if the source has no
//     positions). At the end of the input it returns (nil, nil, io.EOF),
//     and so does every later call. Any other error means the input cannot
//     be read further (a network failure, a file that is not what its
//     format says): the engine stops reading and calls Close; a retry of
//     the run resumes from the last checkpoint. Read honours ctx and
//     returns its error, wrapped, when ctx ends. A batch may hold records
//     whose Err is set (damage confined to that record); they still count
//     toward the batch and its Position.
//  5. Close releases everything. It may be called at any point, also
//     before Open or after a failed Open, and more than once; only the
//     first call does anything. Read after Close returns ErrClosed.
//
// The slice and the records Read returns belong to the caller: the source
// does not reuse them.
type Source interface {
	Open(ctx context.Context) error
	Read(ctx context.Context) ([]Record, Position, error)
	Close() error
}

// Resumable is a Source that can start from a checkpoint.
type Resumable interface {
	// Resume makes the next Open start just after the record the Position
	// was returned with. It is called before Open, at most once; a nil
	// Position means the start. A Position this source cannot use (made
	// by another kind, for another file, or malformed) is an error
	// wrapping ErrBadPosition, returned by Resume or, when checking it
	// needs I/O, by Open; the engine then fails the run rather than read
	// everything again or skip records.
	Resume(pos Position) error
}

// FetchByID is a Source that can fetch one record again by its entity ID,
// which reprocessing needs. A source that does not implement it cannot be
// reprocessed, and the engine refuses with a clear message.
type FetchByID interface {
	// FetchByID is called after Open, instead of Read; the engine never
	// mixes the two in one run. id is the entity ID as text, as the flow's
	// entity_id expression gave it. A record the source does not have is
	// an error wrapping ErrNotFound; the record's Meta may be zero.
	FetchByID(ctx context.Context, id string) (Record, error)
}
