package console

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/itchyny/gojq"
)

// mapField is one field a map step fills: the target, and the jq
// expression that fills it.
type mapField struct {
	Target, Expr string
	// Value is what the expression gave on a sample record (dry runs).
	Value string
}

// mapStep is a map step's fields; Whole is its expression when it does
// not build an object field by field (then Fields is empty).
type mapStep struct {
	Path   string
	Fields []mapField
	Whole  string
}

// mappingOf reads a map expression with gojq's parser: an object
// construction ({id, total: (.a + .b)}) gives a field for each key, with
// the shorthand written out ({id} fills id with .id); anything else is
// shown whole.
func mappingOf(expr string) ([]mapField, string) {
	q, err := gojq.Parse(expr)
	if err != nil || q.Term == nil || q.Term.Type != gojq.TermTypeObject || q.Left != nil || q.Right != nil ||
		len(q.Term.SuffixList) > 0 || q.Term.Object == nil {
		return nil, expr
	}
	var out []mapField
	for _, kv := range q.Term.Object.KeyVals {
		var f mapField
		switch {
		case kv.Key != "" && strings.HasPrefix(kv.Key, "$"):
			f.Target, f.Expr = strings.TrimPrefix(kv.Key, "$"), kv.Key
		case kv.Key != "":
			f.Target, f.Expr = kv.Key, "."+kv.Key
		case kv.KeyString != nil:
			f.Target = kv.KeyString.String()
			if s, err := strconv.Unquote(f.Target); err == nil {
				f.Target = s
			}
			f.Expr = "." + kv.KeyString.String()
		case kv.KeyQuery != nil:
			f.Target, f.Expr = "("+kv.KeyQuery.String()+")", "(computed key)"
		}
		if kv.Val != nil {
			f.Expr = kv.Val.String()
		}
		out = append(out, f)
	}
	return out, ""
}

// mapStepsOf lists the map steps of a stored definition (JSON), by path.
func mapStepsOf(def string) []mapStep {
	var doc struct {
		Steps []map[string]any `json:"steps"`
	}
	if json.Unmarshal([]byte(def), &doc) != nil {
		return nil
	}
	var out []mapStep
	for i, s := range doc.Steps {
		expr, ok := s["map"].(string)
		if !ok {
			continue
		}
		fields, whole := mappingOf(expr)
		out = append(out, mapStep{Path: fmt.Sprintf("steps[%d]", i), Fields: fields, Whole: whole})
	}
	return out
}
