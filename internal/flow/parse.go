package flow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
)

// Parse reads a flow document, YAML or JSON, and checks all of it: its
// shape, every rule between its fields, every cron expression and time
// zone, and every jq expression and template (compiled, then dropped).
// When anything is wrong the error is a *ValidationError listing every
// problem with its path and, where the source has it, line and column.
func Parse(data []byte) (*Flow, error) {
	f, _, err := load(data)
	return f, err
}

// Load is Parse and Compile at once, compiling each expression once: what
// the engine calls on a stored flow.
func Load(data []byte) (*Compiled, error) {
	_, c, err := load(data)
	return c, err
}

func load(data []byte) (*Flow, *Compiled, error) {
	// Editors on Windows may start a file with a byte order mark; it is
	// not part of the document, and editors do not count it as a column.
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	src := newSource(data)
	ps := &problems{pos: newPositions(src)}
	root := parseYAML(data, src, ps)
	if root == nil {
		return nil, nil, ps.err()
	}
	if root.kind != kindMap {
		ps.addAt("", root.line, root.col, "a flow document is a mapping (name: ..., read: ..., steps: ...), not %s", root.kind)
		return nil, nil, ps.err()
	}
	f := &Flow{}
	d := &decoder{ps: ps, pos: ps.pos}
	d.decode(root, reflect.ValueOf(f).Elem(), "")
	c := build(f, ps)
	if err := ps.err(); err != nil {
		return nil, nil, err
	}
	return f, c, nil
}

// ParseDefinition reads the "definition" of a flow in an API request: the
// flow document as a JSON object, or its YAML (or JSON) text as a JSON
// string. It returns the flow and its canonical JSON, the form to store;
// places in problems refer to the object as sent, or to the text.
func ParseDefinition(raw json.RawMessage) (*Flow, []byte, error) {
	raw = bytes.TrimSpace(raw)
	var doc []byte
	switch {
	case len(raw) == 0 || bytes.Equal(raw, []byte("null")):
		return nil, nil, &ValidationError{Problems: []Problem{{Path: "", Message: "definition is required: the flow document, as a JSON object or as YAML text in a string"}}}
	case raw[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, nil, &ValidationError{Problems: []Problem{{Message: fmt.Sprintf("definition is not a valid JSON string: %v", err)}}}
		}
		doc = []byte(text)
	case raw[0] == '{':
		doc = raw
	default:
		return nil, nil, &ValidationError{Problems: []Problem{{Message: "definition must be the flow document as a JSON object, or its YAML text as a string"}}}
	}
	f, err := Parse(doc)
	if err != nil {
		return nil, nil, err
	}
	canon, err := Canonical(f)
	if err != nil {
		return nil, nil, err
	}
	return f, canon, nil
}

// Canonical is the JSON of a flow as stored: fields in the order of the
// Go types, empty ones left out, map keys sorted. Parse(Canonical(f))
// gives f back; comments and YAML formatting are not kept.
func Canonical(f *Flow) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Keep <, > and & as written: jq expressions use them.
	enc.SetEscapeHTML(false)
	if err := enc.Encode(f); err != nil {
		return nil, fmt.Errorf("flow: encode canonical JSON: %w", err)
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}
