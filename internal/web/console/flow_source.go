package console

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// sourceContext is how many lines around each problem the source view
// shows; longer stretches without problems fold into one "…" row.
const sourceContext = 2

// sourceView is a refused definition line by line, each problem under the
// line it concerns, so the page shows where things are wrong without
// script.
type sourceView struct {
	// Whole are the problems that concern no line (the document as a
	// whole); the page lists them first.
	Whole []pipeline.Problem
	Rows  []sourceRow
}

// sourceRow is one line of the text, or (Hidden > 0) a fold standing for
// Hidden lines from N on that have no problem near them.
type sourceRow struct {
	N        int
	Text     string
	Hidden   int
	Problems []pipeline.Problem
}

// Last is the number of the last line a fold stands for.
func (r sourceRow) Last() int { return r.N + r.Hidden - 1 }

// sourceViewOf lays text out for the source view: the lines near a
// problem, folds for the others, and every problem once.
func sourceViewOf(text string, problems []pipeline.Problem) *sourceView {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if len(lines) > 1 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1] // the final newline ends a line, it does not start one
	}
	v := &sourceView{}
	byLine := map[int][]pipeline.Problem{}
	for _, p := range problems {
		if p.Line <= 0 {
			v.Whole = append(v.Whole, p)
			continue
		}
		// A problem past the end (an unexpected end of the text) gets
		// empty lines to stand on.
		for len(lines) < p.Line {
			lines = append(lines, "")
		}
		byLine[p.Line] = append(byLine[p.Line], p)
	}
	if len(byLine) == 0 {
		return v // no line to point at: the text itself adds nothing
	}
	shown := make([]bool, len(lines)+1)
	for n := range byLine {
		for i := max(1, n-sourceContext); i <= min(len(lines), n+sourceContext); i++ {
			shown[i] = true
		}
	}
	for n := 1; n <= len(lines); {
		if shown[n] {
			v.Rows = append(v.Rows, sourceRow{N: n, Text: lines[n-1], Problems: byLine[n]})
			n++
			continue
		}
		end := n
		for end <= len(lines) && !shown[end] {
			end++
		}
		if end-n == 1 { // a fold would take as much room as the line
			v.Rows = append(v.Rows, sourceRow{N: n, Text: lines[n-1]})
		} else {
			v.Rows = append(v.Rows, sourceRow{N: n, Hidden: end - n})
		}
		n = end
	}
	return v
}

// placeInText moves the problems of a JSON text onto the lines of the
// text as typed: the service trims the blank space before a JSON object,
// so its places count from the first "{".
func placeInText(text string, problems []pipeline.Problem) []pipeline.Problem {
	rest := strings.TrimLeftFunc(text, unicode.IsSpace)
	lead := text[:len(text)-len(rest)]
	if !strings.HasPrefix(rest, "{") || lead == "" {
		return problems
	}
	lines := strings.Count(lead, "\n")
	cols := utf8.RuneCountInString(lead[strings.LastIndex(lead, "\n")+1:])
	out := make([]pipeline.Problem, len(problems))
	for i, p := range problems {
		if p.Line == 1 {
			p.Column += cols
		}
		if p.Line > 0 {
			p.Line += lines
		}
		out[i] = p
	}
	return out
}
