package flow

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// templatePart is literal text or one {{...}} placeholder of a template.
type templatePart struct {
	literal string
	expr    string // the jq expression between the braces
	offset  int    // where expr starts in the template
	code    *gojq.Code
}

// templateError is a template that cannot be split into parts.
type templateError struct {
	offset int
	msg    string
}

// splitTemplate splits s into literal text and {{...}} placeholders. The
// end of a placeholder is the first }} outside a jq string literal and
// outside braces opened inside it, so {{ {a: 1} | .a }} is one
// placeholder.
func splitTemplate(s string) ([]templatePart, *templateError) {
	var parts []templatePart
	rest, base := s, 0
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				parts = append(parts, templatePart{literal: rest})
			}
			return parts, nil
		}
		if i > 0 {
			parts = append(parts, templatePart{literal: rest[:i]})
		}
		start := i + 2
		end := placeholderEnd(rest, start)
		if end < 0 {
			return nil, &templateError{base + i, "{{ is never closed: end the expression with }}"}
		}
		expr := rest[start:end]
		if strings.TrimSpace(expr) == "" {
			return nil, &templateError{base + i, "{{}} is empty: put a jq expression inside, e.g. {{.id}}"}
		}
		parts = append(parts, templatePart{expr: expr, offset: base + start})
		rest, base = rest[end+2:], base+end+2
	}
}

func placeholderEnd(s string, from int) int {
	depth, inString := 0, false
	for j := from; j < len(s); j++ {
		c := s[j]
		switch {
		case inString && c == '\\':
			j++
		case inString:
			inString = c != '"'
		case c == '"':
			inString = true
		case c == '{':
			depth++
		case c == '}' && depth > 0:
			depth--
		case c == '}' && j+1 < len(s) && s[j+1] == '}':
			return j
		}
	}
	return -1
}

// CompiledTemplate is a template with its placeholders compiled.
type CompiledTemplate struct {
	// Source is the template as written.
	Source Template
	parts  []templatePart
}

// IsLiteral says the template has no placeholders.
func (t *CompiledTemplate) IsLiteral() bool {
	for _, p := range t.parts {
		if p.code != nil {
			return false
		}
	}
	return true
}

// Render fills the placeholders with their values on input, each passed
// through escape (url.PathEscape for a path; nil leaves values as they
// are, for query and header values that are encoded later). vars are the
// values of the template's variables, in the order of Compiled's
// documentation ($entity_id in fetch_one). Each placeholder must give
// exactly one string, number or boolean.
func (t *CompiledTemplate) Render(ctx context.Context, input any, escape func(string) string, vars ...any) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.code == nil {
			b.WriteString(p.literal)
			continue
		}
		s, err := placeholderValue(ctx, p, input, vars)
		if err != nil {
			return "", err
		}
		if escape != nil {
			s = escape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

func placeholderValue(ctx context.Context, p templatePart, input any, vars []any) (string, error) {
	iter := p.code.RunWithContext(ctx, input, vars...)
	v, ok := iter.Next()
	if !ok {
		return "", fmt.Errorf("{{%s}} gave no value", p.expr)
	}
	if err, isErr := v.(error); isErr {
		return "", fmt.Errorf("{{%s}}: %w", p.expr, err)
	}
	if _, more := iter.Next(); more {
		return "", fmt.Errorf("{{%s}} gave more than one value", p.expr)
	}
	switch v := v.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int:
		return strconv.Itoa(v), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", fmt.Errorf("{{%s}} gave %v, which is not a usable number", p.expr, v)
		}
		return strconv.FormatFloat(v, 'f', -1, 64), nil
	case *big.Int:
		return v.String(), nil
	case json.Number:
		return v.String(), nil
	case nil:
		return "", fmt.Errorf("{{%s}} gave null: the record has no such value", p.expr)
	}
	return "", fmt.Errorf("{{%s}} gave %s, not a string or number", p.expr, gojq.TypeOf(v))
}
