package flow

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// compileJQ compiles one jq expression found in the string at path,
// starting at byte base of that string (0 for a whole-string expression,
// the placeholder's offset in a template). vars are the variables the
// expression may use, given in this order when it runs. A syntax error is
// placed at its token: in the document where the source can be followed,
// and always by character within the expression.
//
// gojq gives jq no access to the process environment unless asked
// (WithEnvironLoader), so $ENV and env are empty: a flow cannot read
// the server's secrets through them. A test holds this.
func (c *checker) compileJQ(path, expr string, base int, vars []string) *gojq.Code {
	q, err := gojq.Parse(expr)
	if err != nil {
		var pe *gojq.ParseError
		at, what := 0, err.Error()
		if errors.As(err, &pe) {
			at = max(0, min(len(expr), pe.Offset-len(pe.Token)))
			if pe.Token == "" && strings.HasPrefix(what, "unexpected EOF") {
				at = len(expr)
				what = "unexpected end of the expression (is a bracket, brace or quote left open?)"
			}
		}
		c.problemIn(path, base+at, "jq syntax error at character %d of the expression: %s", utf8.RuneCountInString(expr[:at])+1, what)
		return nil
	}
	code, err := gojq.Compile(q, gojq.WithVariables(vars))
	if err != nil {
		msg := err.Error()
		at := -1
		switch {
		case strings.HasPrefix(msg, "function not defined: "):
			name, arity, _ := strings.Cut(strings.TrimPrefix(msg, "function not defined: "), "/")
			at = findName(expr, name, false)
			args := map[string]string{"0": "no arguments", "1": "1 argument"}[arity]
			if args == "" {
				args = arity + " arguments"
			}
			msg = fmt.Sprintf("jq: %s (no jq function %s takes %s)", msg, name, args)
		case strings.HasPrefix(msg, "variable not defined: "):
			name := strings.TrimPrefix(msg, "variable not defined: ")
			at = findName(expr, name, true)
			if len(vars) == 0 {
				msg = fmt.Sprintf("jq: %s: no variables are defined here", msg)
			} else {
				msg = fmt.Sprintf("jq: %s: only %s is defined here", msg, strings.Join(vars, ", "))
			}
		default:
			msg = "jq: " + msg
		}
		if at >= 0 {
			c.problemIn(path, base+at, "%s, at character %d of the expression", msg, utf8.RuneCountInString(expr[:at])+1)
		} else {
			c.ps.add(path, "%s", msg)
		}
		return nil
	}
	return code
}

// problemIn reports a problem at byte off of the string at path.
func (c *checker) problemIn(path string, off int, format string, args ...any) {
	line, col, _ := c.pos.within(path, off)
	c.ps.addAt(path, line, col, format, args...)
}

// findName finds where a function (or, with variable, a $variable) is
// used in expr, outside string literals, or -1.
func findName(expr, name string, variable bool) int {
	pattern := `(^|[^.$\w])` + regexp.QuoteMeta(name) + `\b`
	if variable {
		pattern = regexp.QuoteMeta(name) + `\b`
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return -1
	}
	masked := maskStrings(expr)
	loc := re.FindStringSubmatchIndex(masked)
	if loc == nil {
		return -1
	}
	if !variable {
		return loc[3] // after the character before the name
	}
	return loc[0]
}

// maskStrings blanks out the contents of jq string literals (keeping
// their length), so a name inside a string is not taken for a call.
func maskStrings(expr string) string {
	b := []byte(expr)
	in := false
	for i := 0; i < len(b); i++ {
		switch {
		case in && b[i] == '\\':
			b[i] = ' '
			if i+1 < len(b) {
				i++
				b[i] = ' '
			}
		case in && b[i] == '"':
			in = false
		case in:
			b[i] = ' '
		case b[i] == '"':
			in = true
		}
	}
	return string(b)
}
