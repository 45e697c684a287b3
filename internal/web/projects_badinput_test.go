package web_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestProjectBadInput runs the bad input of issue 3 against a project with
// every kind of member: each request gets a clear 4xx in the error format
// and changes nothing — no project, grant, group or audit row — in this
// project or any other.
func TestProjectBadInput(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob") // owns A
		cyd := addPerson(t, inst, ann, "cyd") // standard on A
		gil := addPerson(t, inst, ann, "gil") // admin on A
		dan := addPerson(t, inst, ann, "dan") // owns B, nothing on A
		eve := addPerson(t, inst, ann, "eve") // standard on B only
		fay := addPerson(t, inst, ann, "fay") // standard on A, then disabled
		a := mustProject(t, bob.C, "Alpha")
		b := mustProject(t, dan.C, "Bravo")
		team := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Team"}).String("id")
		spare := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Spare"}).String("id")
		cydM := mustMember(t, bob.C, a, map[string]any{"user_id": cyd.ID, "role": "standard"})
		mustMember(t, bob.C, a, map[string]any{"user_id": gil.ID, "role": "admin"})
		teamM := mustMember(t, bob.C, a, map[string]any{"group_id": team, "role": "standard"})
		mustMember(t, bob.C, a, map[string]any{"user_id": fay.ID, "role": "standard"})
		eveM := mustMember(t, dan.C, b, map[string]any{"user_id": eve.ID, "role": "standard"})
		wantStatus(t, ann.Do(t, "PATCH", "/api/v1/users/"+fay.ID, map[string]any{"disabled": true}), 200, "disable fay")

		pa, pb := "/api/v1/projects/"+a, "/api/v1/projects/"+b
		const unknownID = "0190c2a4-0000-7000-8000-000000000000"
		badSettings := map[string]any{
			"time_zone":            "Mars/Olympus",
			"alerts":               map[string]any{"enabled": true, "emails": []string{"ok@example.com", "nope"}},
			"dynamic_ip_allowlist": []string{"1.2.3.4/40"},
			"egress_allowlist":     []string{"a.example", "b.example", "bad host"},
			"retention":            map[string]any{"run_log_days": 31},
			"console_log_defaults": map[string]any{"capture": []string{"bogus"}, "auto_off_hours": 0},
		}
		anon := inst.NewClient()
		type badCase struct {
			name   string
			c      *apptest.Client
			method string
			path   string
			body   any
			status int
			code   string
			// fields are the detail fields the answer must name, in
			// order (nil: not checked).
			fields []string
		}
		cases := []badCase{
			// Roles that do not exist.
			{"role owner", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "owner"}, 422, "invalid_field", []string{"role"}},
			{"role superuser", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "superuser"}, 422, "invalid_field", []string{"role"}},
			{"role empty", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": ""}, 422, "invalid_field", []string{"role"}},
			{"role missing", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID}, 422, "invalid_field", []string{"role"}},
			{"role in capitals", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "ADMIN"}, 422, "invalid_field", []string{"role"}},
			{"role a number", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": 2}, 400, "invalid_field", []string{"role"}},
			// Who gets access: unknown, both or neither.
			{"unknown user", bob.C, "POST", pa + "/members", map[string]any{"user_id": unknownID, "role": "standard"}, 422, "invalid_field", []string{"user_id"}},
			{"unknown email", bob.C, "POST", pa + "/members", map[string]any{"email": "nobody@example.com", "role": "standard"}, 422, "invalid_field", []string{"email"}},
			{"unknown group", bob.C, "POST", pa + "/members", map[string]any{"group_id": unknownID, "role": "standard"}, 422, "invalid_field", []string{"group_id"}},
			{"user and group", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "group_id": spare, "role": "standard"}, 422, "invalid_field", []string{"user_id"}},
			{"neither user nor group", bob.C, "POST", pa + "/members", map[string]any{"role": "standard"}, 422, "invalid_field", []string{"user_id"}},
			{"email and user", bob.C, "POST", pa + "/members", map[string]any{"email": dan.Email, "user_id": dan.ID, "role": "standard"}, 422, "invalid_field", []string{"email"}},
			// Granting twice.
			{"user twice", bob.C, "POST", pa + "/members", map[string]any{"user_id": cyd.ID, "role": "admin"}, 409, "already_member", nil},
			{"user twice by email", gil.C, "POST", pa + "/members", map[string]any{"email": cyd.Email, "role": "standard"}, 409, "already_member", nil},
			{"group twice", bob.C, "POST", pa + "/members", map[string]any{"group_id": team, "role": "admin"}, 409, "already_member", nil},
			// The owner's access is not the members routes' to change.
			{"grant to the owner", bob.C, "POST", pa + "/members", map[string]any{"user_id": bob.ID, "role": "admin"}, 409, "owner_protected", nil},
			{"grant to the owner by email", gil.C, "POST", pa + "/members", map[string]any{"email": bob.Email, "role": "standard"}, 409, "owner_protected", nil},
			{"switch the owner's role", bob.C, "PATCH", pa + "/members/owner", map[string]any{"role": "standard"}, 409, "owner_protected", nil},
			{"admin switches the owner's role", gil.C, "PATCH", pa + "/members/owner", map[string]any{"role": "admin"}, 409, "owner_protected", nil},
			{"revoke the owner", bob.C, "DELETE", pa + "/members/owner", nil, 409, "owner_protected", nil},
			{"admin revokes the owner", gil.C, "DELETE", pa + "/members/owner", nil, 409, "owner_protected", nil},
			// Switching to roles that do not exist.
			{"switch to owner", bob.C, "PATCH", pa + "/members/" + cydM, map[string]any{"role": "owner"}, 422, "invalid_field", []string{"role"}},
			{"switch to superuser", gil.C, "PATCH", pa + "/members/" + cydM, map[string]any{"role": "superuser"}, 422, "invalid_field", []string{"role"}},
			{"switch to nothing", bob.C, "PATCH", pa + "/members/" + cydM, map[string]any{}, 422, "invalid_field", []string{"role"}},
			{"switch an unknown member", bob.C, "PATCH", pa + "/members/" + unknownID, map[string]any{"role": "admin"}, 404, "not_found", nil},
			{"revoke an unknown member", bob.C, "DELETE", pa + "/members/" + unknownID, nil, 404, "not_found", nil},
			// Transfers.
			{"transfer to a user without access", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": userByEmail(t, inst, adminEmail).ID}, 409, "not_a_member", []string{"user_id"}},
			{"transfer to another project's owner", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": dan.ID}, 409, "not_a_member", []string{"user_id"}},
			{"transfer to another project's member", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": eve.ID}, 409, "not_a_member", []string{"user_id"}},
			{"transfer to an unknown user", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": unknownID}, 422, "invalid_field", []string{"user_id"}},
			{"transfer to the owner", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": bob.ID}, 422, "invalid_field", []string{"user_id"}},
			{"transfer to a disabled member", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": fay.ID}, 422, "invalid_field", []string{"user_id"}},
			{"transfer to nobody", bob.C, "POST", pa + "/transfer", map[string]any{}, 422, "invalid_field", []string{"user_id"}},
			{"transfer to a group", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": team}, 422, "invalid_field", []string{"user_id"}},
			// Deleting without the password.
			{"delete without a password", bob.C, "DELETE", pa, map[string]any{}, 422, "invalid_field", []string{"password"}},
			{"delete with an empty password", bob.C, "DELETE", pa, map[string]any{"password": ""}, 422, "invalid_field", []string{"password"}},
			{"delete with no body", bob.C, "DELETE", pa, nil, 415, "unsupported_media_type", nil},
			// IDs of another project (IDOR).
			{"switch B's member under A", bob.C, "PATCH", pa + "/members/" + eveM, map[string]any{"role": "admin"}, 404, "not_found", nil},
			{"revoke B's member under A", bob.C, "DELETE", pa + "/members/" + eveM, nil, 404, "not_found", nil},
			{"admin switches B's member under A", gil.C, "PATCH", pa + "/members/" + eveM, map[string]any{"role": "standard"}, 404, "not_found", nil},
			{"A's member under B", dan.C, "DELETE", pb + "/members/" + cydM, nil, 404, "not_found", nil},
			{"A's group under B", dan.C, "PATCH", pb + "/members/" + teamM, map[string]any{"role": "admin"}, 404, "not_found", nil},
			{"B's path by A's owner: read", bob.C, "GET", pb, nil, 404, "not_found", nil},
			{"B's path by A's owner: rename", bob.C, "PATCH", pb, map[string]any{"name": "Taken"}, 404, "not_found", nil},
			{"B's path by A's owner: delete", bob.C, "DELETE", pb, map[string]any{"password": personPW}, 404, "not_found", nil},
			{"B's path by A's owner: transfer", bob.C, "POST", pb + "/transfer", map[string]any{"user_id": bob.ID}, 404, "not_found", nil},
			{"B's path by A's owner: grant", bob.C, "POST", pb + "/members", map[string]any{"user_id": bob.ID, "role": "admin"}, 404, "not_found", nil},
			{"B's path by A's owner: members", bob.C, "GET", pb + "/members", nil, 404, "not_found", nil},
			{"B's path by A's owner: switch", bob.C, "PATCH", pb + "/members/" + eveM, map[string]any{"role": "admin"}, 404, "not_found", nil},
			{"B's path by A's owner: audit", bob.C, "GET", pb + "/audit", nil, 404, "not_found", nil},
			// Mass assignment: fields a route does not take.
			{"create with role", bob.C, "POST", "/api/v1/projects", map[string]any{"name": "X", "role": "owner"}, 400, "unknown_field", []string{"role"}},
			{"create with owner_id", cyd.C, "POST", "/api/v1/projects", map[string]any{"name": "X", "owner_id": bob.ID}, 400, "unknown_field", []string{"owner_id"}},
			{"create with id", bob.C, "POST", "/api/v1/projects", map[string]any{"name": "X", "id": a}, 400, "unknown_field", []string{"id"}},
			{"create with plan", bob.C, "POST", "/api/v1/projects", map[string]any{"name": "X", "plan": "default"}, 400, "unknown_field", []string{"plan"}},
			{"create with members", bob.C, "POST", "/api/v1/projects", map[string]any{"name": "X", "members": []string{dan.ID}}, 400, "unknown_field", []string{"members"}},
			{"patch with owner_id", bob.C, "PATCH", pa, map[string]any{"name": "Y", "owner_id": dan.ID}, 400, "unknown_field", []string{"owner_id"}},
			{"patch with role", gil.C, "PATCH", pa, map[string]any{"name": "Y", "role": "owner"}, 400, "unknown_field", []string{"role"}},
			{"patch with id", bob.C, "PATCH", pa, map[string]any{"name": "Y", "id": b}, 400, "unknown_field", []string{"id"}},
			{"patch with plan", bob.C, "PATCH", pa, map[string]any{"name": "Y", "plan": map[string]any{"id": "default"}}, 400, "unknown_field", []string{"plan"}},
			{"patch with created_at", bob.C, "PATCH", pa, map[string]any{"name": "Y", "created_at": "2020-01-01T00:00:00Z"}, 400, "unknown_field", []string{"created_at"}},
			{"patch with an unknown setting", bob.C, "PATCH", pa, map[string]any{"settings": map[string]any{"time_zone": "Europe/Berlin", "owner_id": dan.ID}}, 400, "unknown_field", nil},
			{"grant with project_id", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "standard", "project_id": b}, 400, "unknown_field", []string{"project_id"}},
			{"grant with owner_id", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "standard", "owner_id": dan.ID}, 400, "unknown_field", []string{"owner_id"}},
			{"grant with id", gil.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "standard", "id": eveM}, 400, "unknown_field", []string{"id"}},
			{"grant with plan", bob.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "standard", "plan": "default"}, 400, "unknown_field", []string{"plan"}},
			{"switch with user_id", bob.C, "PATCH", pa + "/members/" + cydM, map[string]any{"role": "admin", "user_id": dan.ID}, 400, "unknown_field", []string{"user_id"}},
			{"switch with project_id", bob.C, "PATCH", pa + "/members/" + cydM, map[string]any{"role": "admin", "project_id": b}, 400, "unknown_field", []string{"project_id"}},
			{"transfer with role", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID, "role": "owner"}, 400, "unknown_field", []string{"role"}},
			{"transfer with owner_id", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID, "owner_id": gil.ID}, 400, "unknown_field", []string{"owner_id"}},
			{"transfer with project_id", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID, "project_id": b}, 400, "unknown_field", []string{"project_id"}},
			{"transfer with id", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID, "id": b}, 400, "unknown_field", []string{"id"}},
			{"transfer with plan", bob.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID, "plan": "default"}, 400, "unknown_field", []string{"plan"}},
			{"delete with force", bob.C, "DELETE", pa, map[string]any{"password": personPW, "force": true}, 400, "unknown_field", []string{"force"}},
			// PATCH with nothing, or with problems.
			{"patch nothing", bob.C, "PATCH", pa, map[string]any{}, 422, "invalid_field", nil},
			{"patch null name", bob.C, "PATCH", pa, map[string]any{"name": nil, "settings": nil}, 422, "invalid_field", nil},
			{"patch an empty name", bob.C, "PATCH", pa, map[string]any{"name": "   "}, 422, "invalid_field", []string{"name"}},
			{"patch the plan, not an instance admin", bob.C, "PATCH", pa, map[string]any{"plan_id": "platinum"}, 403, "forbidden", []string{"plan_id"}},
			{"patch every problem at once", gil.C, "PATCH", pa, map[string]any{"name": "", "settings": badSettings}, 422, "invalid_field",
				[]string{"name", "settings.time_zone", "settings.alerts.emails[1]", "settings.dynamic_ip_allowlist[0]", "settings.egress_allowlist[2]",
					"settings.retention.run_log_days", "settings.console_log_defaults.capture[0]", "settings.console_log_defaults.auto_off_hours"}},
			{"a good rename with bad settings", bob.C, "PATCH", pa, map[string]any{"name": "Renamed", "settings": map[string]any{"time_zone": "Nowhere"}}, 422, "invalid_field",
				[]string{"settings.time_zone"}},
			// A standard user's changes are refused whole.
			{"standard renames and configures", cyd.C, "PATCH", pa, map[string]any{"name": "Mine", "settings": map[string]any{"time_zone": "Europe/Berlin"}}, 403, "forbidden", nil},
			{"standard turns console logs on", cyd.C, "PATCH", pa, map[string]any{"settings": map[string]any{"console_log_defaults": map[string]any{"enabled": true, "capture": []string{"request"}, "auto_off_hours": 1}}}, 403, "forbidden", nil},
			{"standard grants", cyd.C, "POST", pa + "/members", map[string]any{"user_id": dan.ID, "role": "standard"}, 403, "forbidden", nil},
			{"standard promotes themself", cyd.C, "PATCH", pa + "/members/" + cydM, map[string]any{"role": "admin"}, 403, "forbidden", nil},
			{"standard revokes a group", cyd.C, "DELETE", pa + "/members/" + teamM, nil, 403, "forbidden", nil},
			{"standard transfers", cyd.C, "POST", pa + "/transfer", map[string]any{"user_id": cyd.ID}, 403, "forbidden", nil},
			{"standard deletes", cyd.C, "DELETE", pa, map[string]any{"password": personPW}, 403, "forbidden", nil},
			{"admin transfers", gil.C, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID}, 403, "forbidden", nil},
			{"admin deletes", gil.C, "DELETE", pa, map[string]any{"password": personPW}, 403, "forbidden", nil},
			// Outsiders and anonymous callers.
			{"outsider renames", eve.C, "PATCH", pa, map[string]any{"name": "Mine"}, 404, "not_found", nil},
			{"outsider grants themself", eve.C, "POST", pa + "/members", map[string]any{"user_id": eve.ID, "role": "admin"}, 404, "not_found", nil},
			{"instance admin without a grant deletes", ann, "DELETE", pa, map[string]any{"password": adminPW}, 404, "not_found", nil},
			{"instance admin without a grant transfers", ann, "POST", pa + "/transfer", map[string]any{"user_id": gil.ID}, 404, "not_found", nil},
			{"anonymous grants", anon, "POST", pa + "/members", map[string]any{"user_id": eve.ID, "role": "admin"}, 401, "unauthenticated", nil},
		}

		membersOf := func(path string, c *apptest.Client) string {
			r := c.Do(t, "GET", path+"/members", nil)
			wantStatus(t, r, 200, "members of "+path)
			return string(r.Body)
		}
		membersA, membersB := membersOf(pa, bob.C), membersOf(pb, dan.C)
		base := snap(t, inst)
		for _, tc := range cases {
			// A later clock makes any write show in the rows' times.
			inst.Clock.Advance(time.Second)
			before := accessState(t, inst)
			r := tc.c.Do(t, tc.method, tc.path, tc.body)
			wantError(t, r, tc.status, tc.code, tc.name)
			if tc.fields != nil {
				var got []string
				for _, d := range r.Get("error.details").([]any) {
					got = append(got, fmt.Sprint(dig(d, "field")))
				}
				if !slices.Equal(got, tc.fields) {
					t.Fatalf("%s: details name %q, want %q; body %s", tc.name, got, tc.fields, r.Body)
				}
			}
			wantSameAccess(t, inst, before, tc.name)
		}
		sameState(t, inst, base, "the bad requests")
		if got := membersOf(pa, bob.C); got != membersA {
			t.Fatalf("A's members changed:\n%s\nwant\n%s", got, membersA)
		}
		if got := membersOf(pb, dan.C); got != membersB {
			t.Fatalf("B's members changed:\n%s\nwant\n%s", got, membersB)
		}

		// A project one cannot see answers exactly like one that does not
		// exist.
		hidden := bob.C.Do(t, "GET", pb, nil)
		missing := bob.C.Do(t, "GET", "/api/v1/projects/"+unknownID, nil)
		if hidden.Status != 404 || string(hidden.Body) != string(missing.Body) {
			t.Fatalf("hidden project %d %s; missing project %d %s", hidden.Status, hidden.Body, missing.Status, missing.Body)
		}

		// A wrong password is refused and recorded as a failed deletion,
		// in the project's log too; the project and its members stay.
		before := accessState(t, inst)
		projectEvents := countAudit(t, inst, a)
		r := bob.C.Do(t, "DELETE", pa, map[string]any{"password": "Not-The-Password-123"})
		wantError(t, r, 403, "wrong_password", "delete with a wrong password")
		if errorField(r) != "password" {
			t.Fatalf("wrong password names field %q", errorField(r))
		}
		if roleOn(t, bob.C, a) != "owner" || membersOf(pa, bob.C) != membersA || countAudit(t, inst, a) != projectEvents+1 {
			t.Fatal("a deletion with a wrong password changed the project")
		}
		r = ann.Do(t, "GET", "/api/v1/audit?limit=1", nil)
		if e := eventsOf(t, r); len(e) != 1 || e[0]["action"] != "project.delete" || e[0]["outcome"] != "failure" || e[0]["actor_id"] != bob.ID {
			t.Fatalf("the failed deletion is not the newest event: %s", r.Body)
		}
		if after := accessState(t, inst); after == before {
			t.Fatal("the failed deletion was not recorded")
		}
	})
}

// countAudit counts the stored audit events of a project.
func countAudit(t *testing.T, inst *apptest.Instance, projectID string) int {
	t.Helper()
	var n int
	if err := inst.App.Store.WriteDB().QueryRowContext(context.Background(),
		`SELECT COUNT(*) FROM audit_events WHERE project_id = $1`, projectID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
