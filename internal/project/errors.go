package project

import (
	"errors"
	"strings"
)

// Problem is one thing wrong with a request, at a path in its body.
type Problem struct {
	Field   string
	Message string
}

// ValidationError lists every problem found in a request; nothing was
// changed.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + " " + p.Message
	}
	return strings.Join(parts, "; ")
}

// problems collects Problems; err() is nil when there are none.
type problems []Problem

func (ps *problems) add(field, msg string) { *ps = append(*ps, Problem{Field: field, Message: msg}) }

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Errors callers branch on.
var (
	// ErrOwnerProtected: the owner's access cannot be granted, switched
	// or revoked; only a transfer changes who owns a project.
	ErrOwnerProtected = errors.New("the owner's access cannot be changed: the owner always has full access; transfer ownership to change who owns the project")
	// ErrNoAccess: a transfer target must already have access.
	ErrNoAccess = errors.New("the new owner must already have access to the project: grant them a role first")
	// ErrNotOwner: only the owner may delete or transfer the project,
	// decided again inside the change's transaction.
	ErrNotOwner = errors.New("only the project's owner may do this, and you no longer own it: reload the project to see your role")
)
