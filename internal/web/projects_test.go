package web_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// personPW passes the password policy for every person these tests make
// (it holds none of their names).
const personPW = "Harbor-Violet-Engine-73"

// person is an account made for a project test, logged in.
type person struct {
	ID, Email string
	C         *apptest.Client
}

// addPerson has the instance admin create a non-admin account
// name@example.com and logs it in.
func addPerson(t *testing.T, inst *apptest.Instance, admin *apptest.Client, name string) *person {
	t.Helper()
	email := name + "@example.com"
	id := inst.CreateUser(t, admin, email, personPW, false)
	return &person{ID: id, Email: email, C: inst.Login(t, email, personPW)}
}

// mustProject has c create a project and returns its ID.
func mustProject(t *testing.T, c *apptest.Client, name string) string {
	t.Helper()
	r := c.Do(t, "POST", "/api/v1/projects", map[string]any{"name": name})
	wantStatus(t, r, 201, "create project "+name)
	return r.String("id")
}

// mustMember has c grant access on project pid and returns the member ID.
func mustMember(t *testing.T, c *apptest.Client, pid string, body map[string]any) string {
	t.Helper()
	r := c.Do(t, "POST", "/api/v1/projects/"+pid+"/members", body)
	wantStatus(t, r, 201, fmt.Sprintf("grant %v", body))
	return r.String("id")
}

// roleOn is the role c's GET of the project answers, or "404" and so on
// for an error status.
func roleOn(t *testing.T, c *apptest.Client, pid string) string {
	t.Helper()
	r := c.Do(t, "GET", "/api/v1/projects/"+pid, nil)
	if r.Status != 200 {
		return fmt.Sprint(r.Status)
	}
	return r.String("role")
}

// dig reads a value inside decoded JSON by keys (which may hold dots).
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// eventsOf is the "events" array of an audit answer.
func eventsOf(t *testing.T, r *apptest.Response) []map[string]any {
	t.Helper()
	raw, ok := r.Get("events").([]any)
	if !ok {
		t.Fatalf("no events array in %s", r.Body)
	}
	out := make([]map[string]any, len(raw))
	for i, e := range raw {
		out[i] = e.(map[string]any)
	}
	return out
}

// accessState is every row of the project tables and the number of audit
// events, read from the store directly: what a refused request must leave
// as it was.
func accessState(t *testing.T, inst *apptest.Instance) string {
	t.Helper()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id, name, owner_id, plan_id, settings, created_at, updated_at FROM projects ORDER BY id`,
		`SELECT id, project_id, COALESCE(user_id, ''), COALESCE(group_id, ''), role, created_at, updated_at FROM grants ORDER BY id`,
		`SELECT id, name, updated_at FROM user_groups ORDER BY id`,
		`SELECT group_id, user_id, added_at FROM group_members ORDER BY group_id, user_id`,
		`SELECT COUNT(*) FROM audit_events`,
	} {
		rows, err := inst.App.Store.WriteDB().QueryContext(context.Background(), q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				if tm, ok := v.(time.Time); ok {
					v = tm.UTC().Format(time.RFC3339Nano)
				}
				fmt.Fprintf(&b, "%v|", v)
			}
			b.WriteString("\n")
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		b.WriteString("--\n")
	}
	return b.String()
}

// wantSameAccess fails the test when the project tables or the audit log
// changed since before.
func wantSameAccess(t *testing.T, inst *apptest.Instance, before, what string) {
	t.Helper()
	if after := accessState(t, inst); after != before {
		t.Fatalf("%s changed the store:\nbefore:\n%s\nafter:\n%s", what, before, after)
	}
}

// TestProjectAccessJourney is the "Done when" of issue 3 through the API
// alone: a user who is not an instance administrator creates a project,
// gives a colleague Standard access (by email, then again by ID),
// promotes them, lets them add a third user, transfers ownership, and
// reads every step back from the project's activity log.
func TestProjectAccessJourney(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		dan := addPerson(t, inst, ann, "dan")
		base := func(pid string) string { return "/api/v1/projects/" + pid }

		r := bob.C.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop ↔ ERP"})
		wantStatus(t, r, 201, "create")
		pid := r.String("id")
		created, _ := time.Parse(time.RFC3339Nano, r.String("created_at"))
		if pid == "" || r.String("role") != "owner" || r.String("owner.id") != bob.ID || r.String("owner.email") != bob.Email ||
			r.String("plan.id") != "default" || r.String("settings.time_zone") != "UTC" ||
			r.Get("settings.console_log_defaults.auto_off_hours") != float64(24) || !created.Equal(inst.Clock.Now()) {
			t.Fatalf("create: %s", r.Body)
		}
		r = bob.C.Do(t, "GET", "/api/v1/projects", nil)
		if ps, _ := r.Get("projects").([]any); len(ps) != 1 || dig(ps[0], "id") != pid || dig(ps[0], "role") != "owner" {
			t.Fatalf("bob's projects: %s", r.Body)
		}
		wantError(t, cyd.C.Do(t, "GET", base(pid), nil), 404, "not_found", "cyd before any grant")
		if r := cyd.C.Do(t, "GET", "/api/v1/projects", nil); r.Status != 200 || len(r.Get("projects").([]any)) != 0 {
			t.Fatalf("cyd's projects before any grant: %s", r.Body)
		}

		// Standard access by email (in any case), then taken away.
		r = bob.C.Do(t, "POST", base(pid)+"/members", map[string]any{"email": "CYD@Example.com", "role": "standard"})
		wantStatus(t, r, 201, "grant by email")
		byEmail := r.String("id")
		if r.String("kind") != "user" || r.String("user_id") != cyd.ID || r.String("email") != cyd.Email || r.String("role") != "standard" || byEmail == "" {
			t.Fatalf("grant by email: %s", r.Body)
		}
		if got := roleOn(t, cyd.C, pid); got != "standard" {
			t.Fatalf("cyd after the grant: %s", got)
		}
		wantError(t, cyd.C.Do(t, "PATCH", base(pid), map[string]any{"name": "Mine now"}), 403, "forbidden", "standard renames")
		wantError(t, cyd.C.Do(t, "POST", base(pid)+"/members", map[string]any{"user_id": dan.ID, "role": "standard"}), 403, "forbidden", "standard grants")
		wantStatus(t, bob.C.Do(t, "DELETE", base(pid)+"/members/"+byEmail, nil), 204, "revoke")
		if got := roleOn(t, cyd.C, pid); got != "404" {
			t.Fatalf("cyd after the revoke: %s, want 404", got)
		}

		// Standard access by user ID, then promoted.
		inst.Clock.Advance(time.Minute)
		r = bob.C.Do(t, "POST", base(pid)+"/members", map[string]any{"user_id": cyd.ID, "role": "standard"})
		wantStatus(t, r, 201, "grant by user_id")
		byID := r.String("id")
		if byID == byEmail || r.String("user_id") != cyd.ID || r.String("role") != "standard" {
			t.Fatalf("grant by user_id: %s", r.Body)
		}
		r = bob.C.Do(t, "PATCH", base(pid)+"/members/"+byID, map[string]any{"role": "admin"})
		if r.Status != 200 || r.String("role") != "admin" || r.String("id") != byID {
			t.Fatalf("promote: %d %s", r.Status, r.Body)
		}
		if got := roleOn(t, cyd.C, pid); got != "admin" {
			t.Fatalf("cyd after the promotion: %s", got)
		}

		// The colleague, now an administrator, adds a third user.
		danMember := mustMember(t, cyd.C, pid, map[string]any{"user_id": dan.ID, "role": "standard"})
		if got := roleOn(t, dan.C, pid); got != "standard" {
			t.Fatalf("dan: %s", got)
		}

		inst.Clock.Advance(time.Minute)
		r = bob.C.Do(t, "PATCH", base(pid), map[string]any{"name": "Shop to ERP"})
		if r.Status != 200 || r.String("name") != "Shop to ERP" || r.String("settings.time_zone") != "UTC" {
			t.Fatalf("rename: %d %s", r.Status, r.Body)
		}
		r = cyd.C.Do(t, "PATCH", base(pid), map[string]any{"settings": map[string]any{
			"time_zone": "America/Chicago", "egress_allowlist": []string{"ERP.internal", "10.1.2.3/8"}}})
		if r.Status != 200 || r.String("name") != "Shop to ERP" || r.String("settings.time_zone") != "America/Chicago" ||
			fmt.Sprint(r.Get("settings.egress_allowlist")) != "[erp.internal 10.0.0.0/8]" || r.String("role") != "admin" {
			t.Fatalf("admin changes settings: %d %s", r.Status, r.Body)
		}

		// Only the owner transfers; afterwards the previous owner is an
		// administrator and may no longer delete or transfer.
		wantError(t, cyd.C.Do(t, "POST", base(pid)+"/transfer", map[string]any{"user_id": cyd.ID}), 403, "forbidden", "admin transfers")
		inst.Clock.Advance(time.Minute)
		r = bob.C.Do(t, "POST", base(pid)+"/transfer", map[string]any{"user_id": cyd.ID})
		if r.Status != 200 || r.String("owner.id") != cyd.ID || r.String("role") != "admin" {
			t.Fatalf("transfer: %d %s", r.Status, r.Body)
		}
		if got := roleOn(t, cyd.C, pid); got != "owner" {
			t.Fatalf("cyd after the transfer: %s", got)
		}
		r = cyd.C.Do(t, "GET", base(pid)+"/members", nil)
		wantStatus(t, r, 200, "members")
		var got []string
		for _, m := range r.Get("members").([]any) {
			got = append(got, fmt.Sprintf("%v %v %v %v", dig(m, "kind"), dig(m, "user_id"), dig(m, "role"), dig(m, "id") == "owner"))
		}
		if want := []string{"user " + cyd.ID + " owner true", "user " + bob.ID + " admin false", "user " + dan.ID + " standard false"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("members after the transfer:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if dig(r.Get("members").([]any)[2], "id") != danMember {
			t.Fatalf("dan's member ID changed in the transfer: %s", r.Body)
		}
		wantError(t, bob.C.Do(t, "DELETE", base(pid), map[string]any{"password": personPW}), 403, "forbidden", "the previous owner deletes")
		wantError(t, bob.C.Do(t, "POST", base(pid)+"/transfer", map[string]any{"user_id": bob.ID}), 403, "forbidden", "the previous owner takes it back")
		wantError(t, bob.C.Do(t, "PATCH", base(pid)+"/members/owner", map[string]any{"role": "standard"}), 409, "owner_protected", "admin demotes the new owner")

		// Everything is in the activity log, newest first.
		r = cyd.C.Do(t, "GET", base(pid)+"/audit", nil)
		wantStatus(t, r, 200, "audit")
		events := eventsOf(t, r)
		type check struct {
			path []string
			want any
		}
		want := []struct {
			action string
			actor  *person
			target string
			checks []check
		}{
			{"project.transfer", bob, "project:" + pid, []check{{[]string{"owner", "before"}, bob.ID}, {[]string{"owner", "after"}, cyd.ID}}},
			{"project.update", cyd, "project:" + pid, []check{
				{[]string{"settings.time_zone", "before"}, "UTC"}, {[]string{"settings.time_zone", "after"}, "America/Chicago"},
				{[]string{"settings.egress_allowlist", "before"}, "[]"}, {[]string{"settings.egress_allowlist", "after"}, "[erp.internal 10.0.0.0/8]"},
				{[]string{"name"}, nil}}},
			{"project.update", bob, "project:" + pid, []check{{[]string{"name", "before"}, "Shop ↔ ERP"}, {[]string{"name", "after"}, "Shop to ERP"},
				{[]string{"settings.time_zone"}, nil}}},
			{"member.grant", cyd, "user:" + dan.ID, []check{{[]string{"role"}, "standard"}, {[]string{"member_id"}, danMember}, {[]string{"email"}, dan.Email}}},
			{"member.role_change", bob, "user:" + cyd.ID, []check{{[]string{"role", "before"}, "standard"}, {[]string{"role", "after"}, "admin"}, {[]string{"member_id"}, byID}}},
			{"member.grant", bob, "user:" + cyd.ID, []check{{[]string{"role"}, "standard"}, {[]string{"member_id"}, byID}}},
			{"member.revoke", bob, "user:" + cyd.ID, []check{{[]string{"role"}, "standard"}, {[]string{"member_id"}, byEmail}}},
			{"member.grant", bob, "user:" + cyd.ID, []check{{[]string{"role"}, "standard"}, {[]string{"member_id"}, byEmail}, {[]string{"email"}, cyd.Email}}},
			{"project.create", bob, "project:" + pid, []check{{[]string{"name"}, "Shop ↔ ERP"}, {[]string{"plan"}, "default"}}},
		}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d:\n%s", len(events), len(want), r.Body)
		}
		for i, w := range want {
			e := events[i]
			if e["action"] != w.action || e["actor_id"] != w.actor.ID || e["actor_email"] != w.actor.Email || e["target"] != w.target ||
				e["ip"] != "127.0.0.1" || e["project_id"] != pid || e["outcome"] != "success" {
				t.Errorf("event %d = %v, want %s by %s on %s from 127.0.0.1", i, e, w.action, w.actor.Email, w.target)
			}
			if i > 0 && e["seq"].(float64) >= events[i-1]["seq"].(float64) {
				t.Errorf("event %d is not older than the one before it", i)
			}
			for _, c := range w.checks {
				v := dig(e["detail"], c.path...)
				if _, isList := v.([]any); isList {
					v = fmt.Sprint(v)
				}
				if v != c.want {
					t.Errorf("event %d (%s): detail %v = %v, want %v", i, w.action, c.path, v, c.want)
				}
			}
		}

		// Owner and administrators read the log; standard users may not;
		// others do not see the project at all.
		wantStatus(t, bob.C.Do(t, "GET", base(pid)+"/audit", nil), 200, "admin reads the log")
		wantError(t, dan.C.Do(t, "GET", base(pid)+"/audit", nil), 403, "forbidden", "standard reads the log")
		wantError(t, ann.Do(t, "GET", base(pid)+"/audit", nil), 404, "not_found", "instance admin without a grant")
		wantError(t, inst.NewClient().Do(t, "GET", base(pid)+"/audit", nil), 401, "unauthenticated", "anonymous")
	})
}
