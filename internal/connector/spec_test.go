package connector

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testFields = []Field{
	{Name: "path", Type: TypeString, Required: true, Doc: "the file"},
	{Name: "format", Type: TypeEnum, Enum: []string{"csv", "ndjson"}, Default: "ndjson"},
	{Name: "size", Type: TypeInt, Min: 1, Max: 100, Default: 10},
	{Name: "strict", Type: TypeBool},
	{Name: "timeout", Type: TypeDuration, Default: "30s"},
	{Name: "columns", Type: TypeList, Min: 1, Max: 3},
	{Name: "headers", Type: TypeMap},
	{Name: "tls", Type: TypeObject, Fields: []Field{{Name: "verify", Type: TypeBool, Default: true}}},
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		in       map[string]any
		want     map[string]any
		problems []string // "field: part of the message"
	}{
		{name: "defaults filled", in: map[string]any{"path": "a.ndjson"},
			want: map[string]any{"path": "a.ndjson", "format": "ndjson", "size": 10, "timeout": 30 * time.Second}},
		{name: "every type normalised", in: map[string]any{
			"path": "a", "format": "csv", "size": float64(5), "strict": true, "timeout": "2m",
			"columns": []any{"a", "b"}, "headers": map[string]any{"X": "y"}, "tls": map[string]any{},
		}, want: map[string]any{
			"path": "a", "format": "csv", "size": 5, "strict": true, "timeout": 2 * time.Minute,
			"columns": []string{"a", "b"}, "headers": map[string]string{"X": "y"}, "tls": map[string]any{"verify": true},
		}},
		{name: "ints from YAML and json.Number", in: map[string]any{"path": "a", "size": json.Number("7")},
			want: map[string]any{"path": "a", "format": "ndjson", "size": 7, "timeout": 30 * time.Second}},
		{name: "every problem listed", in: map[string]any{
			"format": "xml", "size": 1000, "strict": "yes", "timeout": "soon", "columns": []any{}, "headers": map[string]any{"X": 1},
			"tls": map[string]any{"verify": "no"}, "colums": []any{"a"},
		}, problems: []string{
			"path: is required", `format: must be one of "csv", "ndjson"`, "size: from 1 to 100", "strict: true or false",
			"timeout: positive duration", "columns: from 1 to 3 items", "headers.X: must be text", "tls.verify: true or false",
			"colums: is not a setting here",
		}},
		{name: "empty required text", in: map[string]any{"path": "  "}, problems: []string{"path: must not be empty"}},
		{name: "fractional int", in: map[string]any{"path": "a", "size": 2.5}, problems: []string{"size: whole number"}},
		{name: "list of non-text", in: map[string]any{"path": "a", "columns": []any{"a", 3}}, problems: []string{"columns[1]: must be text"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, ps := Check(testFields, tc.in)
			if len(tc.problems) == 0 {
				if len(ps) != 0 {
					t.Fatalf("problems: %+v", ps)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("got %#v\nwant %#v", got, tc.want)
				}
				return
			}
			if len(ps) != len(tc.problems) {
				t.Fatalf("got %d problems, want %d: %+v", len(ps), len(tc.problems), ps)
			}
			for _, want := range tc.problems {
				field, msg, _ := strings.Cut(want, ": ")
				found := false
				for _, p := range ps {
					if p.Field == field && strings.Contains(p.Message, msg) {
						found = true
					}
				}
				if !found {
					t.Errorf("no problem %q in %+v", want, ps)
				}
			}
		})
	}
}

func TestJSONSchema(t *testing.T) {
	s := JSONSchema(testFields)
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back["additionalProperties"] != false || !reflect.DeepEqual(back["required"], []any{"path"}) {
		t.Fatalf("schema: %s", b)
	}
	props := back["properties"].(map[string]any)
	for name, want := range map[string]string{"path": "string", "size": "integer", "strict": "boolean", "columns": "array", "headers": "object", "tls": "object"} {
		if got := props[name].(map[string]any)["type"]; got != want {
			t.Errorf("%s: type %v, want %s", name, got, want)
		}
	}
	if got := props["format"].(map[string]any)["enum"]; !reflect.DeepEqual(got, []any{"csv", "ndjson"}) {
		t.Errorf("format enum %v", got)
	}
	if got := props["path"].(map[string]any)["description"]; got != "the file" {
		t.Errorf("path description %v", got)
	}
}
