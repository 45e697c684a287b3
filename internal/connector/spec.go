package connector

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// FieldType is the JSON shape a setting accepts. The names are those of
// internal/connection's field spec, so the two can merge once that spec
// moves out of the connection service into a package of its own.
type FieldType string

// The field types.
const (
	TypeString   FieldType = "string"
	TypeInt      FieldType = "int"
	TypeBool     FieldType = "bool"
	TypeDuration FieldType = "duration" // Go duration text such as 30s
	TypeEnum     FieldType = "enum"     // one of Field.Enum
	TypeList     FieldType = "list"     // array of strings
	TypeMap      FieldType = "map"      // object of string → string
	TypeObject   FieldType = "object"   // object with Field.Fields
)

// maxString bounds every text setting.
const maxString = 64 << 10

// Field is one setting of a connector kind. A kind's fields drive the
// checking of a flow's settings (Check), the JSON Schema of the flow
// format (JSONSchema) and the documentation, so the three cannot drift.
type Field struct {
	Name     string
	Type     FieldType
	Required bool
	// Default is filled in by Check when the setting is absent.
	Default  any
	Enum     []string
	Min, Max int // for TypeInt (Max 0: no upper bound) and TypeList lengths
	Doc      string
	Fields   []Field // for TypeObject
}

// Check validates settings against fields and returns them normalised:
// defaults filled in, ints as int, durations as time.Duration, lists as
// []string, maps as map[string]string. Unknown settings are problems (a
// typo must not be silently ignored). Every problem is listed, each with
// its path; a nil slice means the settings are good.
func Check(fields []Field, settings map[string]any) (map[string]any, []Problem) {
	var ps []Problem
	out := checkObject("", fields, settings, &ps)
	return out, ps
}

func addProblem(ps *[]Problem, field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

func checkObject(prefix string, fields []Field, m map[string]any, ps *[]Problem) map[string]any {
	out := make(map[string]any, len(fields))
	known := make(map[string]bool, len(fields))
	for _, f := range fields {
		known[f.Name] = true
		v, ok := m[f.Name]
		if !ok || v == nil {
			switch {
			case f.Required:
				addProblem(ps, prefix+f.Name, "is required: %s", f.Doc)
			case f.Default != nil:
				if nv, ok := checkValue(prefix+f.Name, f, f.Default, ps); ok {
					out[f.Name] = nv
				}
			}
			continue
		}
		if nv, ok := checkValue(prefix+f.Name, f, v, ps); ok {
			out[f.Name] = nv
		}
	}
	var unknown []string
	for k := range m {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	if len(unknown) > 0 {
		names := make([]string, len(fields))
		for i, f := range fields {
			names[i] = f.Name
		}
		for _, k := range unknown {
			addProblem(ps, prefix+k, "is not a setting here; the settings are %s", strings.Join(names, ", "))
		}
	}
	return out
}

func checkValue(path string, f Field, v any, ps *[]Problem) (any, bool) {
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		switch {
		case !ok:
			addProblem(ps, path, "must be text")
		case len(s) > maxString:
			addProblem(ps, path, "is longer than 64 KiB")
		case f.Required && strings.TrimSpace(s) == "":
			addProblem(ps, path, "must not be empty: %s", f.Doc)
		default:
			return s, true
		}
	case TypeInt:
		n, ok := toInt(v)
		if ok && n >= f.Min && (f.Max == 0 || n <= f.Max) {
			return n, true
		}
		if f.Max == 0 {
			addProblem(ps, path, "must be a whole number of at least %d", f.Min)
		} else {
			addProblem(ps, path, "must be a whole number from %d to %d", f.Min, f.Max)
		}
	case TypeBool:
		if b, ok := v.(bool); ok {
			return b, true
		}
		addProblem(ps, path, "must be true or false")
	case TypeDuration:
		if d, ok := v.(time.Duration); ok && d > 0 {
			return d, true
		}
		s, _ := v.(string)
		d, err := time.ParseDuration(s)
		if err == nil && d > 0 {
			return d, true
		}
		addProblem(ps, path, "must be a positive duration such as 30s or 5m")
	case TypeEnum:
		s, ok := v.(string)
		if ok && slices.Contains(f.Enum, s) {
			return s, true
		}
		addProblem(ps, path, "must be one of %s", quoteList(f.Enum))
	case TypeList:
		return checkList(path, f, v, ps)
	case TypeMap:
		m, ok := v.(map[string]any)
		if !ok {
			if sm, ok := v.(map[string]string); ok {
				return sm, true
			}
			addProblem(ps, path, "must be an object of names to text")
			return nil, false
		}
		out := make(map[string]string, len(m))
		good := true
		for k, x := range m {
			s, ok := x.(string)
			if !ok {
				addProblem(ps, path+"."+k, "must be text")
				good = false
				continue
			}
			out[k] = s
		}
		return out, good
	case TypeObject:
		m, ok := v.(map[string]any)
		if !ok {
			addProblem(ps, path, "must be an object")
			return nil, false
		}
		return checkObject(path+".", f.Fields, m, ps), true
	default:
		addProblem(ps, path, "has a type the spec does not know (%q)", f.Type)
	}
	return nil, false
}

func checkList(path string, f Field, v any, ps *[]Problem) (any, bool) {
	var items []any
	switch l := v.(type) {
	case []any:
		items = l
	case []string:
		items = make([]any, len(l))
		for i, s := range l {
			items[i] = s
		}
	default:
		addProblem(ps, path, "must be a list of text")
		return nil, false
	}
	if len(items) < f.Min || (f.Max > 0 && len(items) > f.Max) {
		if f.Max > 0 {
			addProblem(ps, path, "must have from %d to %d items", f.Min, f.Max)
		} else {
			addProblem(ps, path, "must have at least %d items", f.Min)
		}
		return nil, false
	}
	out := make([]string, len(items))
	good := true
	for i, x := range items {
		s, ok := x.(string)
		if !ok || len(s) > maxString {
			addProblem(ps, fmt.Sprintf("%s[%d]", path, i), "must be text")
			good = false
			continue
		}
		out[i] = s
	}
	return out, good
}

// toInt accepts the shapes a decoded document gives a whole number in:
// float64 and json.Number from JSON, int and friends from YAML or Go.
func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), n == int64(int(n))
	case uint64:
		return int(n), n <= math.MaxInt
	case float64:
		if n == math.Trunc(n) && math.Abs(n) <= 1<<53 {
			return int(n), true
		}
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && i == int64(int(i))
	}
	return 0, false
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = fmt.Sprintf("%q", x)
	}
	return strings.Join(q, ", ")
}

// JSONSchema is the JSON Schema (draft 2020-12 vocabulary) of an object
// with fields, for the flow format's schema: each field's type,
// constraints, default and Doc as its description, with unknown
// properties refused as Check refuses them.
func JSONSchema(fields []Field) map[string]any {
	props := make(map[string]any, len(fields))
	var required []string
	for _, f := range fields {
		props[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

func fieldSchema(f Field) map[string]any {
	var s map[string]any
	switch f.Type {
	case TypeString:
		s = map[string]any{"type": "string", "maxLength": maxString}
	case TypeInt:
		s = map[string]any{"type": "integer", "minimum": f.Min}
		if f.Max != 0 {
			s["maximum"] = f.Max
		}
	case TypeBool:
		s = map[string]any{"type": "boolean"}
	case TypeDuration:
		s = map[string]any{"type": "string", "pattern": `^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`}
	case TypeEnum:
		s = map[string]any{"type": "string", "enum": f.Enum}
	case TypeList:
		s = map[string]any{"type": "array", "items": map[string]any{"type": "string"}, "minItems": f.Min}
		if f.Max != 0 {
			s["maxItems"] = f.Max
		}
	case TypeMap:
		s = map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
	case TypeObject:
		s = JSONSchema(f.Fields)
	default:
		s = map[string]any{}
	}
	if f.Doc != "" {
		s["description"] = f.Doc
	}
	if f.Default != nil {
		s["default"] = f.Default
	}
	return s
}
