package flow

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Problem is one thing wrong with a flow document.
type Problem struct {
	// Path is where in the document: "read.paginate.style",
	// "steps[2].map", "read.request.query.status"; "" is the document as
	// a whole.
	Path string `json:"path"`
	// Line and Column are 1-based places in the source text, 0 when
	// unknown (a flow built in Go, or a document with no such place).
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Message says what is wrong and how to fix it.
	Message string `json:"message"`
}

// String is "LINE:COL: path: message", leaving out what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", p.Line, p.Column)
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem of a flow document. A flow that
// has one is never saved nor run.
type ValidationError struct {
	Problems []Problem
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "invalid flow: " + e.Problems[0].String()
	}
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("invalid flow: %d problems: %s", len(e.Problems), strings.Join(parts, "; "))
}

// problems collects Problems while a document is checked.
type problems struct {
	list []Problem
	pos  *positions
	// unusable holds the paths whose value could not be read (the wrong
	// type, say): nothing more is reported at or below them, so a value
	// of the wrong type is not also reported as missing.
	unusable []string
}

// add records a problem at path, placed where the source has path.
func (ps *problems) add(path, format string, args ...any) {
	line, col := ps.pos.at(path)
	ps.addAt(path, line, col, format, args...)
}

// addAt records a problem at an explicit place (a key, or a position
// inside an expression).
func (ps *problems) addAt(path string, line, col int, format string, args ...any) {
	if ps.covered(path) {
		return
	}
	p := Problem{Path: path, Line: line, Column: col, Message: fmt.Sprintf(format, args...)}
	if !slices.Contains(ps.list, p) {
		ps.list = append(ps.list, p)
	}
}

// unusableAt records a problem and marks path as unusable.
func (ps *problems) unusableAt(path string, line, col int, format string, args ...any) {
	ps.addAt(path, line, col, format, args...)
	ps.unusable = append(ps.unusable, path)
}

// covered says whether path is, or lies below, an unusable value.
func (ps *problems) covered(path string) bool {
	for _, u := range ps.unusable {
		if path == u || isBelow(path, u) {
			return true
		}
	}
	return false
}

// hasBelow says whether a problem was found inside path.
func (ps *problems) hasBelow(path string) bool {
	for _, p := range ps.list {
		if isBelow(p.Path, path) {
			return true
		}
	}
	return false
}

// isBelow says whether path lies inside parent ("a.b[0]" is inside "a.b";
// "" holds everything but is not reported through add).
func isBelow(path, parent string) bool {
	if parent == "" || !strings.HasPrefix(path, parent) {
		return false
	}
	rest := path[len(parent):]
	return strings.HasPrefix(rest, ".") || strings.HasPrefix(rest, "[")
}

// err sorts the problems in document order (problems without a place
// last) and returns them as a *ValidationError, or nil.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	out := slices.Clone(ps.list)
	slices.SortStableFunc(out, func(a, b Problem) int {
		if (a.Line == 0) != (b.Line == 0) {
			if a.Line == 0 {
				return 1
			}
			return -1
		}
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column), strings.Compare(a.Path, b.Path))
	})
	return &ValidationError{Problems: out}
}
