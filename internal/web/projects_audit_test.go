package web_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// followPages reads an audit listing page by page through its "next"
// links and returns every event in order.
func followPages(t *testing.T, c *apptest.Client, path string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for pages := 0; path != ""; pages++ {
		if pages > 100 {
			t.Fatalf("more than 100 pages: the next links loop")
		}
		r := c.Do(t, "GET", path, nil)
		wantStatus(t, r, 200, "page "+path)
		out = append(out, eventsOf(t, r)...)
		next := r.String("next")
		if next != "" && !strings.HasPrefix(next, "/api/v1/") {
			t.Fatalf("next link %q is not a path under /api/v1/", next)
		}
		path = next
	}
	return out
}

func eventIDs(events []map[string]any) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e["id"].(string)
	}
	return out
}

// TestProjectAuditListing: the project's activity log for owner and
// administrators only, its filters and paging, its scope to one project,
// and what remains after the project is deleted.
func TestProjectAuditListing(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		dan := addPerson(t, inst, ann, "dan")
		eve := addPerson(t, inst, ann, "eve")
		start := inst.Clock.Now()
		a := mustProject(t, bob.C, "Alpha")
		b := mustProject(t, bob.C, "Bravo")
		mustMember(t, bob.C, a, map[string]any{"user_id": cyd.ID, "role": "admin"})
		mustMember(t, bob.C, a, map[string]any{"user_id": dan.ID, "role": "standard"})
		mustMember(t, bob.C, b, map[string]any{"user_id": eve.ID, "role": "admin"})
		pa, pb := "/api/v1/projects/"+a, "/api/v1/projects/"+b

		// Renames one minute apart, by bob and cyd in turn; B changes in
		// between.
		var times []time.Time
		for i := range 6 {
			inst.Clock.Advance(time.Minute)
			times = append(times, inst.Clock.Now())
			c := bob.C
			if i%2 == 1 {
				c = cyd.C
			}
			wantStatus(t, c.Do(t, "PATCH", pa, map[string]any{"name": fmt.Sprintf("Alpha %d", i)}), 200, "rename A")
			wantStatus(t, eve.C.Do(t, "PATCH", pb, map[string]any{"name": fmt.Sprintf("Bravo %d", i)}), 200, "rename B")
		}
		// A: create, 2 grants, 6 renames. B: create, 1 grant, 6 renames.
		const eventsA, eventsB = 9, 8

		for _, c := range []struct {
			who    string
			c      *apptest.Client
			status int
		}{{"owner", bob.C, 200}, {"admin", cyd.C, 200}, {"standard", dan.C, 403}, {"outsider", eve.C, 404},
			{"instance admin without a grant", ann, 404}, {"anonymous", inst.NewClient(), 401}} {
			if r := c.c.Do(t, "GET", pa+"/audit", nil); r.Status != c.status {
				t.Fatalf("%s reads A's log: %d, want %d; %s", c.who, r.Status, c.status, r.Body)
			}
		}

		r := bob.C.Do(t, "GET", pa+"/audit", nil)
		all := eventsOf(t, r)
		if len(all) != eventsA || r.Get("next") != nil {
			t.Fatalf("A's log: %d events, next %v; want %d and no next", len(all), r.Get("next"), eventsA)
		}
		for i, e := range all {
			if e["project_id"] != a {
				t.Fatalf("event %v of another project in A's log", e)
			}
			if i > 0 && e["seq"].(float64) >= all[i-1]["seq"].(float64) {
				t.Fatalf("A's log is not newest first at %d", i)
			}
		}
		inB := eventsOf(t, bob.C.Do(t, "GET", pb+"/audit", nil))
		if len(inB) != eventsB {
			t.Fatalf("B's log: %d events, want %d", len(inB), eventsB)
		}
		idsA := map[string]bool{}
		for _, id := range eventIDs(all) {
			idsA[id] = true
		}
		for _, e := range inB {
			if idsA[e["id"].(string)] || e["project_id"] != b {
				t.Fatalf("B's log holds %v", e)
			}
		}

		// Filters.
		byCyd := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?actor_id="+cyd.ID, nil))
		if len(byCyd) != 3 {
			t.Fatalf("actor_id=cyd: %d events, want 3", len(byCyd))
		}
		for _, e := range byCyd {
			if e["actor_id"] != cyd.ID || e["action"] != "project.update" {
				t.Fatalf("actor_id=cyd answered %v", e)
			}
		}
		if e := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?actor_id="+eve.ID, nil)); len(e) != 0 {
			t.Fatalf("actor_id of B's admin in A's log: %d events", len(e))
		}
		grants := eventsOf(t, cyd.C.Do(t, "GET", pa+"/audit?action=member.grant", nil))
		if len(grants) != 2 || grants[0]["action"] != "member.grant" || grants[1]["action"] != "member.grant" {
			t.Fatalf("action=member.grant: %v", grants)
		}
		// since is inclusive, until exclusive: renames 2 and 3.
		q := url.Values{"since": {times[2].Format(time.RFC3339)}, "until": {times[4].Format(time.RFC3339)}}
		ranged := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?"+q.Encode(), nil))
		if len(ranged) != 2 || dig(ranged[0]["detail"], "name", "after") != "Alpha 3" || dig(ranged[1]["detail"], "name", "after") != "Alpha 2" {
			t.Fatalf("since %s until %s: %v", times[2], times[4], ranged)
		}
		// The same range in another zone's notation.
		q = url.Values{"since": {times[2].In(time.FixedZone("X", -6*3600)).Format(time.RFC3339)}}
		if got := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?"+q.Encode(), nil)); len(got) != 4 {
			t.Fatalf("since in UTC-6: %d events, want 4", len(got))
		}
		q = url.Values{"until": {start.Add(time.Second).Format(time.RFC3339)}, "actor_id": {bob.ID}}
		if got := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?"+q.Encode(), nil)); len(got) != 3 || got[2]["action"] != "project.create" {
			t.Fatalf("until just after the start: %v; want the creation and 2 grants", got)
		}
		for _, bad := range []struct{ query, field string }{
			{"since=yesterday", "since"},
			{"since=2026-11-29", "since"},
			{"until=2026-13-01T00:00:00Z", "until"},
			{"until=" + url.QueryEscape("2026-11-29 09:00:00"), "until"},
			{"limit=0", "limit"},
			{"limit=501", "limit"},
			{"limit=ten", "limit"},
			{"before=-1", "before"},
			{"before=x", "before"},
		} {
			r := bob.C.Do(t, "GET", pa+"/audit?"+bad.query, nil)
			wantError(t, r, 400, "invalid_query", bad.query)
			if errorField(r) != bad.field {
				t.Fatalf("%s: field %q, want %q", bad.query, errorField(r), bad.field)
			}
		}

		// Paging: every event exactly once, newest first, whatever the
		// page size; filters carry over to the next pages.
		for _, limit := range []int{1, 2, 4, eventsA, eventsA + 1} {
			paged := followPages(t, bob.C, fmt.Sprintf("%s/audit?limit=%d", pa, limit))
			if got, want := strings.Join(eventIDs(paged), " "), strings.Join(eventIDs(all), " "); got != want {
				t.Fatalf("limit=%d pages:\n%s\nwant\n%s", limit, got, want)
			}
		}
		paged := followPages(t, cyd.C, pa+"/audit?action=project.update&limit=2")
		if len(paged) != 6 {
			t.Fatalf("renames paged 2 at a time: %d events, want 6", len(paged))
		}
		for _, e := range paged {
			if e["action"] != "project.update" {
				t.Fatalf("a filtered page holds %v", e)
			}
		}
		// A next link of A cannot be bent to B's events.
		r = bob.C.Do(t, "GET", pa+"/audit?limit=1&before=999999", nil)
		if e := eventsOf(t, r); len(e) != 1 || e[0]["project_id"] != a {
			t.Fatalf("before far ahead: %s", r.Body)
		}

		// Deleting A: its log goes with its routes, but the instance log
		// keeps every event of A, the deletion last, and the chain holds.
		inst.Clock.Advance(time.Minute)
		wantStatus(t, bob.C.Do(t, "DELETE", pa, map[string]any{"password": personPW}), 204, "delete A")
		wantError(t, bob.C.Do(t, "GET", pa+"/audit", nil), 404, "not_found", "A's log after the deletion")
		wantError(t, bob.C.Do(t, "GET", pa, nil), 404, "not_found", "A after the deletion")
		kept := followPages(t, ann, "/api/v1/audit?limit=3&project_id="+a)
		if len(kept) != eventsA+1 || kept[0]["action"] != "project.delete" || kept[0]["actor_id"] != bob.ID ||
			kept[0]["outcome"] != "success" || kept[0]["target"] != "project:"+a || dig(kept[0]["detail"], "name") != "Alpha 5" {
			t.Fatalf("instance log of A after the deletion: %d events, newest %v", len(kept), kept[0])
		}
		if got, want := strings.Join(eventIDs(kept[1:]), " "), strings.Join(eventIDs(all), " "); got != want {
			t.Fatalf("A's events in the instance log:\n%s\nwant\n%s", got, want)
		}
		if got := eventsOf(t, bob.C.Do(t, "GET", pb+"/audit?limit=500", nil)); len(got) != eventsB {
			t.Fatalf("B's log after A went: %d events, want %d", len(got), eventsB)
		}
		r = ann.Do(t, "GET", "/api/v1/audit/verify", nil)
		wantStatus(t, r, 200, "verify")
		if r.Get("intact") != true || r.Get("events").(float64) < eventsA+eventsB+1 {
			t.Fatalf("verify after the deletion: %s", r.Body)
		}
	})
}

// TestProjectListsAndPlans: GET /api/v1/projects shows exactly the
// projects the caller has a role on, with that role (instance
// administrators get no others); GET /api/v1/plans lists the default plan;
// a project moves between plans within their retention.
func TestProjectListsAndPlans(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		dan := addPerson(t, inst, ann, "dan")
		alpha := mustProject(t, bob.C, "Alpha")
		beta := mustProject(t, cyd.C, "Beta")
		gamma := mustProject(t, ann, "Gamma")
		mustProject(t, dan.C, "Delta")
		mustMember(t, cyd.C, beta, map[string]any{"user_id": bob.ID, "role": "standard"})
		team := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Team"}).String("id")
		wantStatus(t, ann.Do(t, "POST", "/api/v1/groups/"+team+"/members", map[string]any{"user_id": bob.ID}), 201, "bob joins Team")
		mustMember(t, ann, gamma, map[string]any{"group_id": team, "role": "admin"})

		listed := func(c *apptest.Client) string {
			r := c.Do(t, "GET", "/api/v1/projects", nil)
			wantStatus(t, r, 200, "list projects")
			var out []string
			for _, p := range r.Get("projects").([]any) {
				out = append(out, fmt.Sprintf("%v:%v", dig(p, "id"), dig(p, "role")))
			}
			return strings.Join(out, " ")
		}
		if got, want := listed(bob.C), alpha+":owner "+beta+":standard "+gamma+":admin"; got != want {
			t.Fatalf("bob lists %s, want %s", got, want)
		}
		if got, want := listed(ann), gamma+":owner"; got != want {
			t.Fatalf("the instance admin lists %s, want only their own %s", got, want)
		}
		wantError(t, ann.Do(t, "GET", "/api/v1/projects/"+alpha, nil), 404, "not_found", "instance admin reads another's project")
		eve := addPerson(t, inst, ann, "eve")
		if r := eve.C.Do(t, "GET", "/api/v1/projects", nil); r.Status != 200 || string(r.Body) != "{\"projects\":[]}\n" {
			t.Fatalf("a user without projects: %d %s", r.Status, r.Body)
		}

		r := bob.C.Do(t, "GET", "/api/v1/plans", nil)
		wantStatus(t, r, 200, "plans")
		plans := r.Get("plans").([]any)
		// Default first, then Enterprise, Free, Standard (migration 0014).
		if len(plans) != 4 || dig(plans[0], "id") != "default" || dig(plans[0], "default") != true ||
			dig(plans[0], "run_log_retention_days") != float64(30) || dig(plans[0], "console_log_retention_days") != float64(7) {
			t.Fatalf("plans: %s", r.Body)
		}
		wantError(t, inst.NewClient().Do(t, "GET", "/api/v1/plans", nil), 401, "unauthenticated", "anonymous plans")

		// A smaller plan: a retention the default allows is too long
		// for it, so the move is refused whole until it is shortened.
		small := &store.Plan{Name: "Small", RunLogRetentionDays: 10, ConsoleLogRetentionDays: 2, AuditRetentionDays: 90}
		if err := inst.App.Store.Writer().CreatePlan(t.Context(), small); err != nil {
			t.Fatal(err)
		}
		pa := "/api/v1/projects/" + alpha
		wantStatus(t, bob.C.Do(t, "PATCH", pa, map[string]any{"settings": map[string]any{"retention": map[string]any{"run_log_days": 20}}}), 200, "retention 20")
		// Plans bound what a project keeps: only an instance
		// administrator (who also needs a role on the project) moves one.
		before := accessState(t, inst)
		r = bob.C.Do(t, "PATCH", pa, map[string]any{"plan_id": small.ID, "name": "Alpha renamed"})
		wantError(t, r, 403, "forbidden", "the owner moves the project to another plan")
		wantSameAccess(t, inst, before, "the owner's refused plan move")
		annID := ann.Do(t, "GET", "/api/v1/me", nil).String("user.id")
		mustMember(t, bob.C, alpha, map[string]any{"user_id": annID, "role": "admin"})
		before = accessState(t, inst)
		r = ann.Do(t, "PATCH", pa, map[string]any{"plan_id": small.ID})
		wantError(t, r, 422, "invalid_field", "move to a plan shorter than the retention")
		if errorField(r) != "settings.retention.run_log_days" {
			t.Fatalf("refused move names %q", errorField(r))
		}
		wantSameAccess(t, inst, before, "the refused move")
		wantError(t, ann.Do(t, "PATCH", pa, map[string]any{"plan_id": "platinum"}), 422, "invalid_field", "unknown plan")
		wantSameAccess(t, inst, before, "the unknown plan")
		r = ann.Do(t, "PATCH", pa, map[string]any{"plan_id": small.ID, "settings": map[string]any{"retention": map[string]any{"run_log_days": 10}}})
		if r.Status != 200 || r.String("plan.id") != small.ID || r.Get("plan.run_log_retention_days") != float64(10) {
			t.Fatalf("move with a shorter retention: %d %s", r.Status, r.Body)
		}
		e := eventsOf(t, bob.C.Do(t, "GET", pa+"/audit?limit=1", nil))[0]
		if dig(e["detail"], "plan_id", "before") != "default" || dig(e["detail"], "plan_id", "after") != small.ID ||
			dig(e["detail"], "settings.retention", "after", "run_log_days") != float64(10) {
			t.Fatalf("plan move event: %v", e)
		}
		if got := listed(bob.C); !strings.HasPrefix(got, alpha+":owner") {
			t.Fatalf("bob's list after the move: %s", got)
		}
	})
}
