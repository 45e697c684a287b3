package console

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// rowsOf writes a source view's rows as "N" for a line (with "!" when it
// has problems) and "N-M" for a fold.
func rowsOf(v *sourceView) string {
	var parts []string
	for _, r := range v.Rows {
		switch {
		case r.Hidden > 0:
			parts = append(parts, fmt.Sprintf("%d-%d", r.N, r.Last()))
		case len(r.Problems) > 0:
			parts = append(parts, fmt.Sprintf("%d!", r.N))
		default:
			parts = append(parts, fmt.Sprint(r.N))
		}
	}
	return strings.Join(parts, " ")
}

func TestSourceViewOf(t *testing.T) {
	text := func(n int) string {
		var b strings.Builder
		for i := 1; i <= n; i++ {
			fmt.Fprintf(&b, "line %d\n", i)
		}
		return b.String()
	}
	at := func(lines ...int) []pipeline.Problem {
		var ps []pipeline.Problem
		for _, l := range lines {
			ps = append(ps, pipeline.Problem{Path: "x", Line: l, Column: 1, Message: "bad"})
		}
		return ps
	}
	for _, c := range []struct {
		name     string
		text     string
		problems []pipeline.Problem
		want     string
		whole    int
	}{
		{"two problems fold the rest", text(39), at(4, 7), "1 2 3 4! 5 6 7! 8 9 10-39", 0},
		{"one hidden line is shown, not folded", text(12), at(3, 9), "1 2 3! 4 5 6 7 8 9! 10 11 12", 0},
		{"a fold at the start", text(20), at(10), "1-7 8 9 10! 11 12 13-20", 0},
		{"two problems on one line", text(3), at(2, 2), "1 2! 3", 0},
		{"a problem past the end stands on empty lines", text(2), at(5), "1-2 3 4 5!", 0},
		{"no line: nothing to show but the problem", text(5), []pipeline.Problem{{Path: "", Message: "empty"}}, "", 1},
		{"CRLF lines count as lines", strings.ReplaceAll(text(6), "\n", "\r\n"), at(6), "1-3 4 5 6!", 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := sourceViewOf(c.text, c.problems)
			if got := rowsOf(v); got != c.want {
				t.Errorf("rows %q, want %q", got, c.want)
			}
			if len(v.Whole) != c.whole {
				t.Errorf("%d whole-document problems, want %d", len(v.Whole), c.whole)
			}
			n := len(v.Whole)
			for _, r := range v.Rows {
				n += len(r.Problems)
			}
			if n != len(c.problems) {
				t.Errorf("the view shows %d problems of %d", n, len(c.problems))
			}
		})
	}
}

func TestPlaceInText(t *testing.T) {
	ps := []pipeline.Problem{{Line: 1, Column: 3}, {Line: 2, Column: 5}, {Path: "whole"}}
	// JSON after two blank lines and an indent: the service counted from
	// the "{".
	got := placeInText("\n\n  {\"name\": 1,\n \"x\": 2}", ps)
	want := []pipeline.Problem{{Line: 3, Column: 5}, {Line: 4, Column: 5}, {Path: "whole"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON after blank space: %+v, want %+v", got, want)
	}
	// YAML, or JSON from the first character: as the service said.
	for _, text := range []string{"name: x\n", "{\"name\": 1}"} {
		if got := placeInText(text, ps); !reflect.DeepEqual(got, ps) {
			t.Errorf("%q: %+v, want them unchanged", text, got)
		}
	}
}
