package flow

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

// TestPlaces: a jq syntax error is placed at its token in the document,
// however the expression is quoted; where the source cannot be followed
// (a folded block), at the start of the value.
func TestPlaces(t *testing.T) {
	const head = "name: places\nread: {file: {path: in.ndjson, format: ndjson}}\nentity_id: .id\nwrite: {file: {path: o.ndjson, format: ndjson}}\nsteps:\n"
	for _, tc := range []struct {
		name      string
		steps     string
		line, col int
	}{
		{"plain", "  - map: .a | )\n", 6, 15},
		{"single-quoted", "  - map: '.a | )'\n", 6, 16},
		{"single-quoted with a doubled quote", "  - map: '\"it''s\" | )'\n", 6, 21},
		{"double-quoted with escapes", "  - map: \"\\\"a\\u00e9\\\" | )\"\n", 6, 25},
		{"characters, not bytes, before it", "  - map: '\"ééé\" | )'\n", 6, 19},
		{"literal block", "  - map: |\n      .a\n      | )\n", 8, 9},
		{"literal block, keep indicator", "  - map: |+\n      .a |\n        )\n", 8, 9},
		{"folded block falls back to its start", "  - map: >\n      .a |\n      )\n", 6, 10},
		{"flow mapping", "  - {map: '.a | )'}\n", 6, 17},
		{"template in a path", "  - call: {connection: c, request: {method: GET, path: \"/x/{{.a | )}}\"}}\n", 6, 67},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(head + tc.steps))
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) != 1 {
				t.Fatalf("Parse = %v, want one problem", err)
			}
			p := ve.Problems[0]
			if p.Line != tc.line || p.Column != tc.col || !strings.Contains(p.Message, "jq syntax error") {
				t.Fatalf("got %s, want it at %d:%d", p, tc.line, tc.col)
			}
		})
	}
}

// TestLineEndsAndBOM: CRLF line ends and a byte order mark change
// neither what is read nor where problems are placed.
func TestLineEndsAndBOM(t *testing.T) {
	doc := "name: crlf\nread: {file: {path: a, format: csv}}\nentity_id: .id\nsteps:\n  - map: |\n      .a |\n        )\n  - map: '.a | )'\n"
	for name, d := range map[string]string{"LF": doc, "CRLF": strings.ReplaceAll(doc, "\n", "\r\n"), "BOM": "\ufeff" + doc} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(d))
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String()[:strings.Index(p.String(), ": jq")])
			}
			if strings.Join(got, "; ") != "7:9: steps[0].map; 8:16: steps[1].map" {
				t.Fatalf("problems: %v", ve)
			}
		})
	}
}

func TestPlacesInJSON(t *testing.T) {
	doc := `{"name": "j", "entity_id": ".id", "read": {"file": {"path": "a", "format": "csv"}},` + "\n" +
		`  "steps": [{"filter": ".s == \"é\" and )"}], "write": {"file": {"path": "b", "format": "csv"}}}`
	_, err := Parse([]byte(doc))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 {
		t.Fatalf("Parse = %v", err)
	}
	// ) is character 15 of the expression, at column 41 of line 2.
	if p := ve.Problems[0]; p.Line != 2 || p.Column != 41 || !strings.Contains(p.Message, "character 15") {
		t.Fatalf("got %s", p)
	}
}

func TestSplitTemplate(t *testing.T) {
	for _, tc := range []struct {
		in    string
		parts []string // literal text, or {expr}
		err   string
	}{
		{"/orders", []string{"/orders"}, ""},
		{"/orders/{{.id}}", []string{"/orders/", "{.id}"}, ""},
		{"{{.a}}{{.b}}", []string{"{.a}", "{.b}"}, ""},
		{"/x/{{ {a: .id} | .a }}/y", []string{"/x/", "{ {a: .id} | .a }", "/y"}, ""},
		{`/x/{{ "}}" + .a }}`, []string{"/x/", `{ "}}" + .a }`}, ""},
		{`/x/{{ "a\"}}" }}`, []string{"/x/", `{ "a\"}}" }`}, ""},
		{"/x/}}", []string{"/x/}}"}, ""},
		{"/x/{{.id", nil, "never closed"},
		{"/x/{{ }}", nil, "is empty"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			parts, terr := splitTemplate(tc.in)
			if tc.err != "" {
				if terr == nil || !strings.Contains(terr.msg, tc.err) {
					t.Fatalf("error %v, want %q", terr, tc.err)
				}
				return
			}
			if terr != nil {
				t.Fatal(terr.msg)
			}
			var got []string
			for _, p := range parts {
				if p.expr != "" {
					got = append(got, "{"+p.expr+"}")
					if tc.in[p.offset:p.offset+len(p.expr)] != p.expr {
						t.Fatalf("offset %d does not point at %q", p.offset, p.expr)
					}
				} else {
					got = append(got, p.literal)
				}
			}
			if strings.Join(got, "|") != strings.Join(tc.parts, "|") {
				t.Fatalf("parts %q, want %q", got, tc.parts)
			}
		})
	}
}

func TestRender(t *testing.T) {
	c := &checker{ps: &problems{}}
	record := map[string]any{"id": "a b/c", "n": 42, "f": 1.5, "ok": true, "obj": map[string]any{}, "list": []any{1, 2}}
	for _, tc := range []struct {
		tmpl, want, err string
	}{
		{"/x/{{.id}}", "/x/a%20b%2Fc", ""},
		{"/x/{{.n}}/{{.f}}/{{.ok}}", "/x/42/1.5/true", ""},
		{"/x/{{.n * 1000000000000}}", "/x/42000000000000", ""},
		{"/x/{{.missing}}", "", "gave null"},
		{"/x/{{.obj}}", "", "gave object"},
		{"/x/{{.list[]}}", "", "more than one value"},
		{"/x/{{empty}}", "", "no value"},
		{"/x/{{error(\"boom\")}}", "", "boom"},
	} {
		t.Run(tc.tmpl, func(t *testing.T) {
			tpl := c.template("p", Template(tc.tmpl), nil, requestWrite)
			if tpl == nil {
				t.Fatalf("did not compile: %v", c.ps.list)
			}
			got, err := tpl.Render(context.Background(), record, url.PathEscape)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("Render = %q, %v; want an error saying %q", got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("Render = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
