package web_test

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/sluice-dev/sluice/internal/pipeline"
)

// TEST SCAFFOLDING: scaffoldValidateFlow stands in for the flow format
// (internal/flow) in these tests until the composition root wires the
// real validator. It is a small but real validator, so the API's side of
// the contract is tested for real: the definition arrives as sent (an
// object, or YAML text as a JSON string), problems come back with their
// paths (and for YAML their line and column), and the canonical JSON is
// what is stored.
//
// Rules: the document is an object with a non-empty string "name";
// "steps", when present, is an array; "read", when present, is an object
// with a string "connection". YAML text may only hold top-level
// "key: value" lines with scalar values.
func scaffoldValidateFlow(raw json.RawMessage) ([]byte, string, []pipeline.Problem, error) {
	var doc map[string]any
	var ps []pipeline.Problem
	if raw[0] == '"' {
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, "", nil, err
		}
		doc = map[string]any{}
		for i, line := range strings.Split(text, "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			k, v, ok := strings.Cut(line, ":")
			if !ok || k == "" || strings.TrimSpace(k) != k {
				ps = append(ps, pipeline.Problem{Line: i + 1, Column: 1, Message: "is not a top-level \"key: value\" line"})
				continue
			}
			doc[k] = strings.TrimSpace(v)
		}
	} else {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			return nil, "", []pipeline.Problem{{Message: "must be a JSON object"}}, nil
		}
	}
	name, _ := doc["name"].(string)
	if strings.TrimSpace(name) == "" {
		ps = append(ps, pipeline.Problem{Path: "name", Message: "is required: a name for the flow, unique in its pipe"})
	}
	if s, ok := doc["steps"]; ok {
		if _, ok := s.([]any); !ok {
			ps = append(ps, pipeline.Problem{Path: "steps", Message: "must be a list of steps"})
		}
	}
	if r, ok := doc["read"]; ok {
		m, _ := r.(map[string]any)
		if c, _ := m["connection"].(string); c == "" {
			ps = append(ps, pipeline.Problem{Path: "read.connection", Message: "is required: the name of a connection of the project"})
		}
	}
	if len(ps) > 0 {
		return nil, "", ps, nil
	}
	canonical, err := json.Marshal(doc)
	return canonical, name, nil, err
}
