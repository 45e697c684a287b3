package store

import "errors"

// ErrNotFound is returned when the row asked for does not exist (or is not
// visible to the caller's scope).
var ErrNotFound = errors.New("store: not found")

// ErrConflict is returned when a write would break a uniqueness rule, such as
// a second user with the same email.
var ErrConflict = errors.New("store: conflict")

// ErrSchemaTooNew is returned when the database was migrated by a newer
// binary than this one.
var ErrSchemaTooNew = errors.New("store: database schema is newer than this binary")

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
