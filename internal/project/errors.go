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
	// ErrRoleChanged: the caller's role no longer allows the change. The
	// guard checked the role before the change's transaction began; the
	// change checks it again inside, so a role lowered meanwhile (a
	// transfer, a demotion, a revoked group) is obeyed.
	ErrRoleChanged = errors.New("your role on this project no longer allows this (it changed while the request ran): reload the project to see your role")
	// ErrAlreadyMember: the user or group already has a grant.
	ErrAlreadyMember = errors.New("already a member of this project: switch their role with PATCH .../members/{m} instead")
	// ErrPlanChange: only instance administrators move a project to
	// another plan, since plans bound what a project may keep.
	ErrPlanChange = errors.New("only an instance administrator may move a project to another plan")
)
