package httpx

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
)

// TestProjectErrors pins how the project package's errors answer, wrapped
// or not: the codes clients branch on and every problem's field.
func TestProjectErrors(t *testing.T) {
	problems := &project.ValidationError{Problems: []project.Problem{
		{Field: "name", Message: "is required"}, {Field: "settings.egress_allowlist[2]", Message: "is not a host"}}}
	for _, tc := range []struct {
		name   string
		err    error
		status int
		code   string
		fields []string
	}{
		{"every problem listed", fmt.Errorf("update project: %w", problems), 422, "invalid_field", []string{"name", "settings.egress_allowlist[2]"}},
		{"owner protected", fmt.Errorf("revoke: %w", project.ErrOwnerProtected), 409, "owner_protected", nil},
		{"not a member", project.ErrNoAccess, 409, "not_a_member", []string{"user_id"}},
		{"no longer the owner", fmt.Errorf("delete: %w", project.ErrRoleChanged), 403, "forbidden", nil},
	} {
		e := Describe(httptest.NewRequest("GET", "/", nil), tc.err)
		var fields []string
		for _, d := range e.Details {
			fields = append(fields, d.Field)
		}
		if e.Status != tc.status || e.Code != tc.code || e.Message == "" || !slices.Equal(fields, tc.fields) {
			t.Errorf("%s: %d %s %q fields %q; want %d %s fields %q", tc.name, e.Status, e.Code, e.Message, fields, tc.status, tc.code, tc.fields)
		}
	}
}

// TestPipelineErrors pins how the pipeline package's errors answer: a flow
// document's problems by path, with the line and column of YAML text in
// the message, and the console-log refusal as 403.
func TestPipelineErrors(t *testing.T) {
	problems := &pipeline.ValidationError{Problems: []pipeline.Problem{
		{Path: "definition.read.connection", Message: "is required"},
		{Path: "definition.steps[0].map", Line: 7, Column: 12, Message: "jq syntax error"}}}
	e := Describe(httptest.NewRequest("GET", "/", nil), fmt.Errorf("save flow: %w", problems))
	if e.Status != 422 || e.Code != "invalid_field" || len(e.Details) != 2 ||
		e.Details[0].Field != "definition.read.connection" || e.Details[1].Field != "definition.steps[0].map" ||
		e.Details[1].Message != "line 7, column 12: jq syntax error" {
		t.Errorf("flow problems answer %d %s %+v", e.Status, e.Code, e.Details)
	}
	e = Describe(httptest.NewRequest("GET", "/", nil), fmt.Errorf("update pipe: %w", pipeline.ErrConsoleLogForbidden))
	if e.Status != 403 || e.Code != "forbidden" || len(e.Details) != 1 || e.Details[0].Field != "console_log" {
		t.Errorf("console-log refusal answers %d %s %+v", e.Status, e.Code, e.Details)
	}
}
