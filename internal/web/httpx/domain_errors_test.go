package httpx

import (
	"fmt"
	"net/http/httptest"
	"slices"
	"testing"

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
