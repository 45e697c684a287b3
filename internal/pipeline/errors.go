package pipeline

import (
	"errors"
	"fmt"
	"strings"
)

// Problem is one thing wrong with a request or a flow document: where
// (Path, such as "name", "console_log.capture[1]" or
// "definition.steps[2].map"; for YAML text also the Line and Column, from
// 1, when the validator knows them) and what.
type Problem struct {
	Path    string
	Line    int
	Column  int
	Message string
}

// String is the problem as one line: "definition.read.connection (line
// 3, column 5): is required".
func (p Problem) String() string {
	where := p.Path
	if p.Line > 0 {
		where += fmt.Sprintf(" (line %d, column %d)", p.Line, p.Column)
	}
	return where + ": " + p.Message
}

// ValidationError lists every problem found in a request; nothing was
// saved.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return strings.Join(parts, "; ")
}

// problems collects Problems; err() is nil when there are none.
type problems []Problem

func (ps *problems) add(path, format string, args ...any) {
	*ps = append(*ps, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

func (ps problems) err() error {
	if len(ps) == 0 {
		return nil
	}
	return &ValidationError{Problems: ps}
}

// Errors callers branch on.
var (
	// ErrConsoleLogForbidden: the request changes a pipe's console-log
	// settings, which is project configuration (DESIGN §4), and the
	// caller's role may not configure the project. The whole request is
	// refused, including the parts the role alone would allow.
	ErrConsoleLogForbidden = errors.New("changing a pipe's console-log settings needs the project's owner or an administrator; nothing was changed: send the request again without console_log, or ask an administrator")
	// ErrNoValidator: the service was built without a flow validator, so
	// it cannot save any flow (it never saves one unvalidated).
	ErrNoValidator = errors.New("pipeline: no flow validator is configured")
)
