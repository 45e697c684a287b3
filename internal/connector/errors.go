package connector

import (
	"errors"
	"strings"
)

// Sentinel errors callers branch on with errors.Is.
var (
	// ErrClosed is returned by Read, Write, Flush and Call after Close.
	ErrClosed = errors.New("connector: closed")
	// ErrNotFound is wrapped by FetchByID when the source has no record
	// with the ID.
	ErrNotFound = errors.New("connector: no record with this ID")
	// ErrBadPosition is wrapped when a checkpoint cannot be used by the
	// source it was given to.
	ErrBadPosition = errors.New("connector: checkpoint cannot be used")
	// ErrUnknownKind is wrapped by Registry lookups of a kind nobody
	// registered.
	ErrUnknownKind = errors.New("connector: unknown kind")
	// ErrUnsupported is wrapped when a kind is asked for a role it does
	// not play (a sink of a read-only kind).
	ErrUnsupported = errors.New("connector: not supported by this kind")
)

// Problem is one thing wrong with a connector's settings, at a path in the
// settings object ("delimiter", "columns[2]").
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	// Err is the typed error behind the problem, when there is one (a
	// path that leaves the files directory), so that errors.Is and
	// errors.As see through a ValidationError.
	Err error `json:"-"`
}

// ValidationError lists every problem found in a kind's settings, so a
// user can fix them all at once.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid settings: " + strings.Join(parts, "; ")
}

// Unwrap gives the typed errors behind the problems.
func (e *ValidationError) Unwrap() []error {
	var errs []error
	for _, p := range e.Problems {
		if p.Err != nil {
			errs = append(errs, p.Err)
		}
	}
	return errs
}
