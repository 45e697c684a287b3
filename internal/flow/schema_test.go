package flow

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestSchemaMatchesTypes walks the Go types and schema.json side by side:
// every field of the types is a property of the schema and every property
// a field, with the same type, the same required fields, the same enums
// and the same ranges.
func TestSchemaMatchesTypes(t *testing.T) {
	var root map[string]any
	if err := json.Unmarshal(Schema(), &root); err != nil {
		t.Fatalf("schema.json: %v", err)
	}
	w := &schemaWalk{t: t, root: root, seen: map[reflect.Type]bool{}}
	w.walk(root, reflect.TypeFor[Flow](), "(document)", tagSpec{})
	if w.structs < 17 {
		t.Fatalf("walked %d object types; the walk stopped early", w.structs)
	}
}

type schemaWalk struct {
	t       *testing.T
	root    map[string]any
	structs int
	// seen stops the walk at types already walked: steps nest.
	seen map[reflect.Type]bool
}

// resolve follows a $ref (siblings such as description stay beside it).
func (w *schemaWalk) resolve(s map[string]any, at string) map[string]any {
	ref, ok := s["$ref"].(string)
	if !ok {
		return s
	}
	name, ok := strings.CutPrefix(ref, "#/$defs/")
	if !ok {
		w.t.Fatalf("%s: $ref %q is not a local definition", at, ref)
	}
	def, ok := w.root["$defs"].(map[string]any)[name].(map[string]any)
	if !ok {
		w.t.Fatalf("%s: $ref %q names no definition", at, ref)
	}
	return def
}

func (w *schemaWalk) walk(s map[string]any, t reflect.Type, at string, tags tagSpec) {
	s = w.resolve(s, at)
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		w.want(s, at, "type", "string")
		var enum []string
		if e, ok := s["enum"].([]any); ok {
			for _, v := range e {
				enum = append(enum, v.(string))
			}
		}
		if !slices.Equal(enum, tags.enum) {
			w.t.Errorf("%s: schema enum %v, Go tag enum %v", at, enum, tags.enum)
		}
	case reflect.Int:
		w.want(s, at, "type", "integer")
		w.bound(s, at, "minimum", tags.min)
		w.bound(s, at, "maximum", tags.max)
	case reflect.Slice:
		w.want(s, at, "type", "array")
		items, ok := s["items"].(map[string]any)
		if !ok {
			w.t.Fatalf("%s: array without items", at)
		}
		w.walk(items, t.Elem(), at+"[]", tagSpec{})
	case reflect.Map:
		w.want(s, at, "type", "object")
		ap, ok := s["additionalProperties"].(map[string]any)
		if !ok {
			w.t.Fatalf("%s: a map needs additionalProperties with the value schema", at)
		}
		w.walk(ap, t.Elem(), at+".*", tagSpec{})
	case reflect.Struct:
		if w.seen[t] {
			return
		}
		w.seen[t] = true
		w.structs++
		w.want(s, at, "type", "object")
		if s["additionalProperties"] != false {
			w.t.Errorf("%s: additionalProperties must be false, as Parse refuses unknown fields", at)
		}
		props, _ := s["properties"].(map[string]any)
		var goNames, required []string
		for _, f := range fieldsOf(t) {
			goNames = append(goNames, f.name)
			if f.tags.required {
				required = append(required, f.name)
			}
			ps, ok := props[f.name].(map[string]any)
			if !ok {
				w.t.Errorf("%s: Go field %q (%s) is not in the schema", at, f.name, t.Name())
				continue
			}
			w.walk(ps, t.Field(f.index).Type, at+"."+f.name, f.tags)
		}
		for name := range props {
			if !slices.Contains(goNames, name) {
				w.t.Errorf("%s: schema property %q is not a field of %s", at, name, t.Name())
			}
		}
		var schemaReq []string
		if r, ok := s["required"].([]any); ok {
			for _, v := range r {
				schemaReq = append(schemaReq, v.(string))
			}
		}
		sort.Strings(schemaReq)
		sort.Strings(required)
		if !slices.Equal(schemaReq, required) {
			w.t.Errorf("%s: schema requires %v, Go tags require %v", at, schemaReq, required)
		}
		if t == reflect.TypeFor[Step]() && (s["minProperties"] != 1.0 || s["maxProperties"] != 1.0) {
			w.t.Errorf("%s: a step has exactly one property: minProperties and maxProperties 1", at)
		}
	default:
		w.t.Fatalf("%s: no schema check for Go kind %s", at, t.Kind())
	}
}

func (w *schemaWalk) want(s map[string]any, at, key string, v any) {
	if s[key] != v {
		w.t.Errorf("%s: schema %s is %v, want %v", at, key, s[key], v)
	}
}

func (w *schemaWalk) bound(s map[string]any, at, key string, tag *int) {
	got, has := s[key].(float64)
	switch {
	case tag == nil && has:
		w.t.Errorf("%s: schema %s %v, but no Go tag", at, key, got)
	case tag != nil && (!has || int(got) != *tag):
		w.t.Errorf("%s: schema %s %v, Go tag %d", at, key, s[key], *tag)
	}
}

func compiledSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(Schema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("urn:sluice:flow-schema", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("urn:sluice:flow-schema")
	if err != nil {
		t.Fatalf("schema.json is not a valid draft 2020-12 schema: %v", err)
	}
	return s
}

// TestSchemaAcceptsValidFlows checks schema.json with an independent
// validator: it is a valid draft 2020-12 schema, it accepts the canonical
// JSON of every valid test document, and it refuses documents whose shape
// is wrong.
func TestSchemaAcceptsValidFlows(t *testing.T) {
	s := compiledSchema(t)
	docs := validDocs(t)
	for _, path := range docs {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(data)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		canon, _ := Canonical(f)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(canon))
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("%s: the schema refuses a valid flow: %v", path, err)
		}
	}
	for name, doc := range map[string]string{
		"unknown field":  `{"name": "x", "entity_id": ".id", "colour": "blue"}`,
		"two step kinds": `{"name": "x", "entity_id": ".id", "steps": [{"map": ".", "filter": "."}]}`,
		"bad enum":       `{"name": "x", "entity_id": ".id", "trigger": {"dynamic": {"mode": "sometimes"}}}`,
		"no name":        `{"entity_id": ".id"}`,
		"bad duration":   `{"name": "x", "entity_id": ".id", "on_error": {"backoff": "2 seconds"}}`,
		"wrong type":     `{"name": "x", "entity_id": ".id", "write": {"batch": "10"}}`,
	} {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
		if err != nil {
			t.Fatal(err)
		}
		if s.Validate(v) == nil {
			t.Errorf("%s: the schema accepts %s", name, doc)
		}
	}
}
