package runs

import (
	"errors"
	"strings"
)

// errCancelled is the cause of a run's context ended by Cancel or by a
// cancel request seen in the store.
var errCancelled = errors.New("the run was cancelled")

// errGone is the cause of a run's context ended because the run was
// deleted, or ended by a sweep, while this node worked it.
var errGone = errors.New("the run was deleted or ended elsewhere")

// StateError says a request does not fit the run's state (cancelling a run
// that finished, reprocessing one still going, nothing left to
// reprocess). The API answers it with 409.
type StateError struct {
	// Code is a short machine-readable name, e.g. "run_finished".
	Code    string
	Message string
}

func (e *StateError) Error() string { return e.Message }

// ReprocessError says a run's records cannot be reprocessed as asked: the
// flow's source cannot fetch a record by its entity ID, or some entity IDs
// given are not failures of the run. The API answers it with 422.
type ReprocessError struct {
	Message string
	// Field names the part of the request or flow at fault
	// ("entity_ids", "read").
	Field string
	// Unknown lists the entity IDs given that are not failures of the run.
	Unknown []string
}

func (e *ReprocessError) Error() string {
	if len(e.Unknown) == 0 {
		return e.Message
	}
	return e.Message + ": " + strings.Join(e.Unknown, ", ")
}
