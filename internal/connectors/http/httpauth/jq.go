package httpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

const (
	jqTokenExample   = ".access_token or .data.token"
	jqExpiresExample = ".expires_in"
)

// compileJQ parses and compiles a jq expression. A syntax error names the
// column where it was found and shows the expression with a caret under
// it, so the user can find it without a jq manual; example is a correct
// expression to suggest.
func compileJQ(expr, example string) (*gojq.Code, error) {
	q, err := gojq.Parse(expr)
	if err != nil {
		var pe *gojq.ParseError
		if errors.As(err, &pe) {
			// gojq reports the offset after the offending token.
			start := max(pe.Offset-len(pe.Token), 0)
			start = min(start, len(expr))
			col := utf8.RuneCountInString(expr[:start]) + 1
			return nil, fmt.Errorf("jq syntax error at column %d: %v\n  %s\n  %s^\nfix the expression (for example %s)",
				col, pe, expr, strings.Repeat(" ", col-1), example)
		}
		return nil, fmt.Errorf("jq syntax error: %v", err)
	}
	code, err := gojq.Compile(q)
	if err != nil {
		return nil, fmt.Errorf("jq expression does not compile: %v", err)
	}
	return code, nil
}

// runJQ runs code on v and returns its first result. An expression that
// yields nothing gives nil.
func runJQ(ctx context.Context, code *gojq.Code, v any) (any, error) {
	iter := code.RunWithContext(ctx, v)
	out, ok := iter.Next()
	if !ok {
		return nil, nil
	}
	if err, isErr := out.(error); isErr {
		var halt *gojq.HaltError
		if errors.As(err, &halt) && halt.Value() == nil {
			return nil, nil
		}
		return nil, err
	}
	return out, nil
}

// jqSeconds turns a jq result into seconds: a number, or a string holding
// one. ok is false for null (no lifetime given).
func jqSeconds(v any) (secs float64, ok bool, err error) {
	switch n := v.(type) {
	case nil:
		return 0, false, nil
	case int:
		return float64(n), true, nil
	case float64:
		if math.IsNaN(n) || math.IsInf(n, 0) {
			return 0, false, fmt.Errorf("gave %v, want seconds", n)
		}
		return n, true, nil
	case *big.Int:
		f, _ := new(big.Float).SetInt(n).Float64()
		return f, true, nil
	case json.Number:
		f, err := n.Float64()
		return f, err == nil, err
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(n), 64)
		if err != nil {
			return 0, false, errors.New("gave text that is not a number, want a number of seconds")
		}
		return f, true, nil
	}
	return 0, false, fmt.Errorf("gave %s, want a number of seconds", jqTypeName(v))
}

func jqTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case int, float64, *big.Int, json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
