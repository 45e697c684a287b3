package web_test

import (
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// groupNames lists the groups GET /api/v1/groups answers, by name.
func groupNames(t *testing.T, c *apptest.Client) string {
	t.Helper()
	r := c.Do(t, "GET", "/api/v1/groups", nil)
	wantStatus(t, r, 200, "list groups")
	var names []string
	for _, g := range r.Get("groups").([]any) {
		names = append(names, fmt.Sprint(dig(g, "name")))
	}
	return fmt.Sprint(names)
}

// groupMemberIDs lists the user IDs of a group's members, as its
// instance-admin view answers them.
func groupMemberIDs(t *testing.T, admin *apptest.Client, id string) string {
	t.Helper()
	r := admin.Do(t, "GET", "/api/v1/groups/"+id, nil)
	wantStatus(t, r, 200, "get group")
	var ids []string
	for _, m := range r.Get("members").([]any) {
		ids = append(ids, fmt.Sprint(dig(m, "user_id")))
	}
	return fmt.Sprint(ids)
}

// TestGroupManagement: instance administrators create, rename and delete
// groups and add and remove members; every refusal is a clear 4xx that
// changes nothing, and only instance administrators may change groups.
func TestGroupManagement(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		key, _ := inst.APIKey(t, bob.C, 1)

		r := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "  ERP team "})
		wantStatus(t, r, 201, "create group")
		erp := r.String("id")
		if erp == "" || r.String("name") != "ERP team" {
			t.Fatalf("create group: %s", r.Body)
		}
		shop := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Shop team"}).String("id")
		// A group without members says so with an empty list.
		if r := ann.Do(t, "GET", "/api/v1/groups/"+shop, nil); r.Status != 200 || r.String("name") != "Shop team" || fmt.Sprint(r.Get("members")) != "[]" {
			t.Fatalf("a group without members: %d %s", r.Status, r.Body)
		}
		r = ann.Do(t, "POST", "/api/v1/groups/"+erp+"/members", map[string]any{"user_id": bob.ID})
		wantStatus(t, r, 201, "add bob")
		if ms, _ := r.Get("members").([]any); len(ms) != 1 || dig(ms[0], "user_id") != bob.ID || dig(ms[0], "email") != bob.Email {
			t.Fatalf("add member answer: %s", r.Body)
		}

		// Refusals, each leaving everything as it was.
		for _, tc := range []struct {
			name   string
			c      *apptest.Client
			method string
			path   string
			body   any
			status int
			code   string
			field  string
		}{
			{"duplicate name", ann, "POST", "/api/v1/groups", map[string]any{"name": "ERP team"}, 409, "conflict", ""},
			{"rename to a taken name", ann, "PATCH", "/api/v1/groups/" + shop, map[string]any{"name": "ERP team"}, 409, "conflict", ""},
			{"empty name", ann, "POST", "/api/v1/groups", map[string]any{"name": "  "}, 422, "invalid_field", "name"},
			{"rename to nothing", ann, "PATCH", "/api/v1/groups/" + shop, map[string]any{"name": ""}, 422, "invalid_field", "name"},
			{"control characters", ann, "POST", "/api/v1/groups", map[string]any{"name": "a\nb"}, 422, "invalid_field", "name"},
			{"extra field", ann, "POST", "/api/v1/groups", map[string]any{"name": "New", "members": []string{bob.ID}}, 400, "unknown_field", "members"},
			{"add twice", ann, "POST", "/api/v1/groups/" + erp + "/members", map[string]any{"user_id": bob.ID}, 409, "conflict", ""},
			{"add an unknown user", ann, "POST", "/api/v1/groups/" + erp + "/members", map[string]any{"user_id": "0190c2a4-0000-7000-8000-000000000000"}, 422, "invalid_field", "user_id"},
			{"add nobody", ann, "POST", "/api/v1/groups/" + erp + "/members", map[string]any{}, 422, "invalid_field", "user_id"},
			{"add to an unknown group", ann, "POST", "/api/v1/groups/nope/members", map[string]any{"user_id": cyd.ID}, 404, "not_found", ""},
			{"remove a non-member", ann, "DELETE", "/api/v1/groups/" + erp + "/members/" + cyd.ID, nil, 404, "not_found", ""},
			{"remove from an unknown group", ann, "DELETE", "/api/v1/groups/nope/members/" + bob.ID, nil, 404, "not_found", ""},
			{"rename an unknown group", ann, "PATCH", "/api/v1/groups/nope", map[string]any{"name": "X"}, 404, "not_found", ""},
			{"delete an unknown group", ann, "DELETE", "/api/v1/groups/nope", nil, 404, "not_found", ""},
			{"non-admin creates", bob.C, "POST", "/api/v1/groups", map[string]any{"name": "Mine"}, 403, "forbidden", ""},
			{"non-admin renames", bob.C, "PATCH", "/api/v1/groups/" + erp, map[string]any{"name": "Mine"}, 403, "forbidden", ""},
			{"non-admin deletes", bob.C, "DELETE", "/api/v1/groups/" + erp, nil, 403, "forbidden", ""},
			{"non-admin adds a member", bob.C, "POST", "/api/v1/groups/" + shop + "/members", map[string]any{"user_id": bob.ID}, 403, "forbidden", ""},
			{"non-admin removes a member", bob.C, "DELETE", "/api/v1/groups/" + erp + "/members/" + bob.ID, nil, 403, "forbidden", ""},
			{"non-admin's API key adds a member", key, "POST", "/api/v1/groups/" + shop + "/members", map[string]any{"user_id": bob.ID}, 403, "forbidden", ""},
			{"non-admin reads members", cyd.C, "GET", "/api/v1/groups/" + erp, nil, 403, "forbidden", ""},
			{"anonymous creates", inst.NewClient(), "POST", "/api/v1/groups", map[string]any{"name": "Anon"}, 401, "unauthenticated", ""},
		} {
			before := accessState(t, inst)
			r := tc.c.Do(t, tc.method, tc.path, tc.body)
			wantError(t, r, tc.status, tc.code, tc.name)
			if tc.field != "" && errorField(r) != tc.field {
				t.Fatalf("%s: error names field %q, want %q; body %s", tc.name, errorField(r), tc.field, r.Body)
			}
			wantSameAccess(t, inst, before, tc.name)
		}
		if got := groupNames(t, bob.C); got != "[ERP team Shop team]" {
			t.Fatalf("groups seen by a user: %s", got)
		}

		r = ann.Do(t, "PATCH", "/api/v1/groups/"+shop, map[string]any{"name": "Commerce"})
		if r.Status != 200 || r.String("name") != "Commerce" || r.String("id") != shop {
			t.Fatalf("rename: %d %s", r.Status, r.Body)
		}
		wantStatus(t, ann.Do(t, "POST", "/api/v1/groups/"+erp+"/members", map[string]any{"user_id": cyd.ID}), 201, "add cyd")
		if got, want := groupMemberIDs(t, ann, erp), fmt.Sprint([]string{bob.ID, cyd.ID}); got != want {
			t.Fatalf("members %s, want %s", got, want)
		}
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+erp+"/members/"+bob.ID, nil), 204, "remove bob")
		if got, want := groupMemberIDs(t, ann, erp), fmt.Sprint([]string{cyd.ID}); got != want {
			t.Fatalf("members after removing bob %s, want %s", got, want)
		}
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+erp, nil), 204, "delete group")
		wantError(t, ann.Do(t, "GET", "/api/v1/groups/"+erp, nil), 404, "not_found", "deleted group")
		if got := groupNames(t, ann); got != "[Commerce]" {
			t.Fatalf("groups after the deletion: %s", got)
		}
		// The group's name is free again.
		wantStatus(t, ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "ERP team"}), 201, "reuse the name")

		// Each change is in the instance log with its actor and target.
		r = ann.Do(t, "GET", "/api/v1/audit?limit=500", nil)
		wantStatus(t, r, 200, "audit")
		count := map[string]int{}
		for _, e := range eventsOf(t, r) {
			a := e["action"].(string)
			if len(a) < 6 || a[:6] != "group." {
				continue
			}
			count[a]++
			if e["actor_email"] != adminEmail || e["ip"] != "127.0.0.1" || e["outcome"] != "success" || e["project_id"] != nil {
				t.Errorf("group event %v", e)
			}
			if a == "group.rename" && (e["target"] != "group:"+shop || dig(e["detail"], "name", "before") != "Shop team" || dig(e["detail"], "name", "after") != "Commerce") {
				t.Errorf("rename event %v", e)
			}
			if a == "group.member_remove" && (e["target"] != "group:"+erp || dig(e["detail"], "user_id") != bob.ID) {
				t.Errorf("member removal event %v", e)
			}
		}
		if want := map[string]int{"group.create": 3, "group.rename": 1, "group.member_add": 2, "group.member_remove": 1, "group.delete": 1}; fmt.Sprint(count) != fmt.Sprint(want) {
			t.Fatalf("group events %v, want %v", count, want)
		}
	})
}

// TestGroupGrants: a role granted to a group reaches every member, and
// leaving the group or deleting it takes that access away on the very next
// request, through a session or an API key alike.
func TestGroupGrants(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		own := addPerson(t, inst, ann, "own")
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		dan := addPerson(t, inst, ann, "dan")
		cydKey, _ := inst.APIKey(t, cyd.C, 1)
		gid := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "ERP team"}).String("id")
		for _, p := range []*person{bob, cyd} {
			wantStatus(t, ann.Do(t, "POST", "/api/v1/groups/"+gid+"/members", map[string]any{"user_id": p.ID}), 201, "add "+p.Email)
		}
		pid := mustProject(t, own.C, "Shop")
		base := "/api/v1/projects/" + pid

		r := own.C.Do(t, "POST", base+"/members", map[string]any{"group_id": gid, "role": "admin"})
		wantStatus(t, r, 201, "grant the group")
		gm := r.String("id")
		if r.String("kind") != "group" || r.String("group_id") != gid || r.String("name") != "ERP team" || r.String("role") != "admin" || r.Get("user_id") != nil {
			t.Fatalf("group grant: %s", r.Body)
		}
		for _, c := range []struct {
			who  string
			c    *apptest.Client
			want string
		}{{"bob", bob.C, "admin"}, {"cyd", cyd.C, "admin"}, {"cyd's key", cydKey, "admin"}, {"dan", dan.C, "404"}} {
			if got := roleOn(t, c.c, pid); got != c.want {
				t.Fatalf("%s through the group: %s, want %s", c.who, got, c.want)
			}
		}
		// An administrator through the group acts as one.
		wantStatus(t, bob.C.Do(t, "PATCH", base, map[string]any{"name": "Shop (ERP team)"}), 200, "group admin renames")
		r = bob.C.Do(t, "GET", "/api/v1/projects", nil)
		if ps := r.Get("projects").([]any); len(ps) != 1 || dig(ps[0], "role") != "admin" || dig(ps[0], "id") != pid {
			t.Fatalf("bob's projects: %s", r.Body)
		}

		// The highest role wins: a direct standard grant does not lower
		// what the group gives.
		mustMember(t, own.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
		if got := roleOn(t, cyd.C, pid); got != "admin" {
			t.Fatalf("cyd with direct standard and group admin: %s", got)
		}
		// Switching the group's role reaches its members at once.
		wantStatus(t, own.C.Do(t, "PATCH", base+"/members/"+gm, map[string]any{"role": "standard"}), 200, "switch the group")
		if got := roleOn(t, bob.C, pid); got != "standard" {
			t.Fatalf("bob after the group became standard: %s", got)
		}
		wantError(t, bob.C.Do(t, "PATCH", base, map[string]any{"name": "Again"}), 403, "forbidden", "group standard renames")
		wantStatus(t, own.C.Do(t, "PATCH", base+"/members/"+gm, map[string]any{"role": "admin"}), 200, "switch back")

		// Leaving the group takes its access on the next request.
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+gid+"/members/"+bob.ID, nil), 204, "remove bob")
		if got := roleOn(t, bob.C, pid); got != "404" {
			t.Fatalf("bob after leaving the group: %s, want 404", got)
		}
		if r := bob.C.Do(t, "GET", "/api/v1/projects", nil); len(r.Get("projects").([]any)) != 0 {
			t.Fatalf("bob still lists the project: %s", r.Body)
		}
		if got := roleOn(t, cyd.C, pid); got != "admin" {
			t.Fatalf("cyd, still in the group: %s", got)
		}

		// Deleting the group takes its grant; cyd keeps the direct one.
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+gid, nil), 204, "delete the group")
		for _, c := range []struct {
			who  string
			c    *apptest.Client
			want string
		}{{"cyd", cyd.C, "standard"}, {"cyd's key", cydKey, "standard"}} {
			if got := roleOn(t, c.c, pid); got != c.want {
				t.Fatalf("%s after the group went: %s, want %s", c.who, got, c.want)
			}
		}
		r = own.C.Do(t, "GET", base+"/members", nil)
		for _, m := range r.Get("members").([]any) {
			if dig(m, "kind") == "group" {
				t.Fatalf("the deleted group is still a member: %s", r.Body)
			}
		}
		wantError(t, own.C.Do(t, "PATCH", base+"/members/"+gm, map[string]any{"role": "standard"}), 404, "not_found", "the deleted group's grant")

		// A group deleted while it held the only grant: access is gone.
		solo := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Solo"}).String("id")
		wantStatus(t, ann.Do(t, "POST", "/api/v1/groups/"+solo+"/members", map[string]any{"user_id": dan.ID}), 201, "add dan")
		mustMember(t, own.C, pid, map[string]any{"group_id": solo, "role": "standard"})
		danKey, _ := inst.APIKey(t, dan.C, 1)
		if got := roleOn(t, danKey, pid); got != "standard" {
			t.Fatalf("dan's key through Solo: %s", got)
		}
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+solo, nil), 204, "delete Solo")
		if got := roleOn(t, danKey, pid); got != "404" {
			t.Fatalf("dan's key after Solo went: %s, want 404", got)
		}
		if got := roleOn(t, dan.C, pid); got != "404" {
			t.Fatalf("dan's session after Solo went: %s, want 404", got)
		}
	})
}
