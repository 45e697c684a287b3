package pipeline

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/access"
)

func ptr[T any](v T) *T { return &v }

// TestConsoleLogValidation: every problem of the settings, with its path.
func TestConsoleLogValidation(t *testing.T) {
	ok := ConsoleLog{Enabled: true, Capture: []string{"method_url", "response"}, AutoOffHours: 24,
		Sensitive: []string{"customer.email", "$.items[*].card_number", ".headers.X-Api-Key", "lines[0].price", "*.password"}}
	for _, tc := range []struct {
		name  string
		c     ConsoleLog
		paths []string
	}{
		{"valid", ok, nil},
		{"an unknown capture", ConsoleLog{Capture: []string{"records", "bodies"}, AutoOffHours: 1}, []string{"console_log.capture[1]"}},
		{"a capture twice", ConsoleLog{Capture: []string{"headers", "headers"}, AutoOffHours: 1}, []string{"console_log.capture[1]"}},
		{"bad sensitive paths", ConsoleLog{Sensitive: []string{"ok.path", "", "a..b", "a[x]", "$", "a b"}, AutoOffHours: 720},
			[]string{"console_log.sensitive[1]", "console_log.sensitive[2]", "console_log.sensitive[3]", "console_log.sensitive[4]", "console_log.sensitive[5]"}},
		{"no auto-off", ConsoleLog{AutoOffHours: 0}, []string{"console_log.auto_off_hours"}},
		{"auto-off too late", ConsoleLog{AutoOffHours: 721}, []string{"console_log.auto_off_hours"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps problems
			tc.c.validate(&ps)
			var paths []string
			for _, p := range ps {
				paths = append(paths, p.Path)
			}
			if !slices.Equal(paths, tc.paths) {
				t.Errorf("problems at %q, want %q (%v)", paths, tc.paths, ps)
			}
		})
	}
}

// TestConsoleLogChangeNeedsConfigure: a role that may not configure the
// project may send the settings unchanged, never changed; the check comes
// before validation, so an invalid change is refused, not explained.
func TestConsoleLogChangeNeedsConfigure(t *testing.T) {
	before := ConsoleLog{Capture: []string{"headers"}, AutoOffHours: 24}.normalized()
	for _, tc := range []struct {
		name    string
		patch   *ConsoleLogPatch
		role    access.Role
		changed bool
		err     error
	}{
		{"absent", nil, access.Standard, false, nil},
		{"the same values", &ConsoleLogPatch{Enabled: ptr(false), Capture: &[]string{"headers"}}, access.Standard, false, nil},
		{"turned on by standard", &ConsoleLogPatch{Enabled: ptr(true)}, access.Standard, true, ErrConsoleLogForbidden},
		{"an invalid change by standard", &ConsoleLogPatch{AutoOffHours: ptr(0)}, access.Standard, true, ErrConsoleLogForbidden},
		{"turned on by admin", &ConsoleLogPatch{Enabled: ptr(true)}, access.Admin, true, nil},
		{"turned on by owner", &ConsoleLogPatch{Enabled: ptr(true), Sensitive: &[]string{"a.b"}}, access.Owner, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ps problems
			_, changed, err := consoleLogChange(before, tc.patch, tc.role, &ps)
			if changed != tc.changed || !errors.Is(err, tc.err) || len(ps) != 0 {
				t.Errorf("changed %v, err %v, problems %v; want %v, %v", changed, err, ps, tc.changed, tc.err)
			}
		})
	}
}

// TestValidateDefinition: the service's side of the validator contract:
// the definition must be an object or a string, the validator's problems
// come back under "definition", a missing name is a problem, and without
// a validator nothing is saved.
func TestValidateDefinition(t *testing.T) {
	// Test scaffolding, not the flow format: a document is valid when it
	// is an object with a string "name", and reports a problem at
	// "steps[0]" when it has "steps": "bad".
	validate := func(raw json.RawMessage) ([]byte, string, []Problem, error) {
		var doc map[string]any
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, "", []Problem{{Path: "", Line: 1, Column: 1, Message: "is not an object"}}, nil
		}
		if doc["steps"] == "bad" {
			return nil, "", []Problem{{Path: "steps[0]", Message: "is bad"}, {Path: "/read", Message: "is missing"}}, nil
		}
		name, _ := doc["name"].(string)
		out, _ := json.Marshal(doc)
		return out, name, nil, nil
	}
	s := &Service{Validate: validate}
	def, err := s.validate(json.RawMessage(` {"name": " orders ", "b": 1} `))
	if err != nil || def.name != "orders" || def.canonical != `{"b":1,"name":" orders "}` {
		t.Fatalf("a valid document: %+v, %v", def, err)
	}
	for _, tc := range []struct {
		name, raw string
		paths     []string
	}{
		{"absent", ``, []string{"definition"}},
		{"null", `null`, []string{"definition"}},
		{"an array", `[1]`, []string{"definition"}},
		{"a number", `3`, []string{"definition"}},
		{"YAML the validator cannot read", `"name: x"`, []string{"definition"}},
		{"problems at paths", `{"steps": "bad"}`, []string{"definition.steps[0]", "definition/read"}},
		{"no name", `{"name": "  "}`, []string{"definition.name"}},
	} {
		_, err := s.validate(json.RawMessage(tc.raw))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Errorf("%s: %v, want a ValidationError", tc.name, err)
			continue
		}
		var paths []string
		for _, p := range ve.Problems {
			paths = append(paths, p.Path)
		}
		if !slices.Equal(paths, tc.paths) {
			t.Errorf("%s: problems at %q, want %q", tc.name, paths, tc.paths)
		}
	}
	if _, err := (&Service{}).validate(json.RawMessage(`{"name":"x"}`)); !errors.Is(err, ErrNoValidator) {
		t.Errorf("without a validator: %v, want ErrNoValidator", err)
	}
}
