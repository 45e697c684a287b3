package connector

import (
	"context"
	"errors"
	"time"
)

// TransientError marks a failure worth trying again later: a 429 or 5xx
// answer, a timeout, a connection refused or reset. After is how long the
// other system asked to wait (its Retry-After), 0 when it said nothing.
//
// A Sink returns it as the error of a whole Write, or as the Err of one
// Outcome; a Caller returns it from Call. The engine then tries that
// call or those records again under the flow's on_error policy, waiting
// at least After. Any other error is final for the record.
type TransientError struct {
	Err   error
	After time.Duration
}

func (e *TransientError) Error() string { return e.Err.Error() }

// Unwrap gives the error behind.
func (e *TransientError) Unwrap() error { return e.Err }

// Transient reports whether err is worth trying again, and the wait the
// other system asked for (0 when none).
func Transient(err error) (time.Duration, bool) {
	var te *TransientError
	if errors.As(err, &te) {
		return te.After, true
	}
	return 0, false
}

// Previewer is a Sink that can tell, without sending or writing anything,
// what Write would send for these records: one JSON-ready value per
// record, in order (for an HTTP write the method, URL and body of the
// request the record would go in; for a table, the table, the mode and
// the row). Dry runs use it; a sink that is not a Previewer is shown as
// the records it would be given.
type Previewer interface {
	Preview(ctx context.Context, records []Record) ([]any, error)
}
