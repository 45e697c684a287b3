package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// testClock is a settable store clock, so row times can be compared
// exactly instead of against the wall clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// eachClocked is storetest.Each with a store that reads clk.
func eachClocked(t *testing.T, fn func(t *testing.T, st *store.Store, clk *testClock)) {
	t.Helper()
	for _, d := range storetest.Dialects(t) {
		t.Run(string(d), func(t *testing.T) {
			clk := &testClock{t: time.Date(2026, 11, 29, 9, 0, 0, 0, time.UTC)}
			fn(t, storetest.Open(t, d, store.Options{Now: clk.Now}), clk)
		})
	}
}

func newProject(t *testing.T, q *store.Q, name, ownerID string) *store.Project {
	t.Helper()
	p := &store.Project{Name: name, OwnerID: ownerID, PlanID: "default", Settings: `{"time_zone":"UTC"}`}
	if err := q.CreateProject(context.Background(), p); err != nil {
		t.Fatalf("create project %s: %v", name, err)
	}
	return p
}

func newGroup(t *testing.T, q *store.Q, name string, members ...*store.User) *store.Group {
	t.Helper()
	ctx := context.Background()
	g := &store.Group{Name: name}
	if err := q.CreateGroup(ctx, g); err != nil {
		t.Fatalf("create group %s: %v", name, err)
	}
	for _, u := range members {
		if err := q.AddGroupMember(ctx, g.ID, u.ID); err != nil {
			t.Fatalf("add %s to %s: %v", u.Email, name, err)
		}
	}
	return g
}

func grantUser(t *testing.T, q *store.Q, p *store.Project, u *store.User, role string) *store.Grant {
	t.Helper()
	g := &store.Grant{ProjectID: p.ID, UserID: u.ID, Role: role}
	if err := q.CreateGrant(context.Background(), g); err != nil {
		t.Fatalf("grant %s %s on %s: %v", u.Email, role, p.Name, err)
	}
	return g
}

func grantGroup(t *testing.T, q *store.Q, p *store.Project, gr *store.Group, role string) *store.Grant {
	t.Helper()
	g := &store.Grant{ProjectID: p.ID, GroupID: gr.ID, Role: role}
	if err := q.CreateGrant(context.Background(), g); err != nil {
		t.Fatalf("grant group %s %s on %s: %v", gr.Name, role, p.Name, err)
	}
	return g
}

// wantRank fails unless userID's effective role on projectID is rank
// (RankNone: the project is not found for them).
func wantRank(t *testing.T, q *store.Q, projectID, userID string, rank int, what string) {
	t.Helper()
	p, got, err := q.ProjectForUser(context.Background(), projectID, userID)
	if rank == store.RankNone {
		if !errors.Is(err, store.ErrNotFound) || p != nil {
			t.Fatalf("%s: ProjectForUser = %v, rank %d, %v; want ErrNotFound", what, p, got, err)
		}
		return
	}
	if err != nil || got != rank || p.ID != projectID {
		t.Fatalf("%s: ProjectForUser = %v, rank %d, %v; want rank %d", what, p, got, err, rank)
	}
}

func countRows(t *testing.T, st *store.Store, query string, args ...any) int {
	t.Helper()
	var n int
	if err := st.WriteDB().QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func TestProjectsCRUD(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		other := newUser(t, w, "other@example.com")
		created := clk.Now()
		p := newProject(t, w, "Shop ↔ ERP", owner.ID)
		if p.ID == "" || !p.CreatedAt.Equal(created) || !p.UpdatedAt.Equal(created) {
			t.Fatalf("created project %+v: want an ID and times %v", p, created)
		}

		got, rank, err := st.Reader().ProjectForUser(ctx, p.ID, owner.ID)
		if err != nil || rank != store.RankOwner || *got != *p {
			t.Fatalf("ProjectForUser(owner) = %+v, %d, %v; want %+v as owner", got, rank, err, p)
		}
		wantRank(t, st.Reader(), p.ID, other.ID, store.RankNone, "a user without a grant")
		wantRank(t, st.Reader(), "no-such-project", owner.ID, store.RankNone, "a missing project")

		plan := &store.Plan{Name: "Small", RunLogRetentionDays: 10, ConsoleLogRetentionDays: 2, AuditRetentionDays: 90}
		if err := w.CreatePlan(ctx, plan); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Minute)
		p.Name, p.PlanID, p.Settings = "Shop to ERP", plan.ID, `{"time_zone":"Europe/Berlin"}`
		if err := w.UpdateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, _, _ = st.Reader().ProjectForUser(ctx, p.ID, owner.ID)
		if got.Name != "Shop to ERP" || got.PlanID != plan.ID || got.Settings != `{"time_zone":"Europe/Berlin"}` ||
			!got.UpdatedAt.Equal(clk.Now()) || !got.CreatedAt.Equal(created) || got.OwnerID != owner.ID {
			t.Fatalf("after update: %+v", got)
		}
		if err := w.UpdateProject(ctx, &store.Project{ID: "nope", Name: "x", PlanID: "default", Settings: "{}"}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of a missing project: %v, want ErrNotFound", err)
		}

		if err := w.SetProjectOwner(ctx, p.ID, other.ID); err != nil {
			t.Fatal(err)
		}
		wantRank(t, st.Reader(), p.ID, other.ID, store.RankOwner, "the new owner")
		wantRank(t, st.Reader(), p.ID, owner.ID, store.RankNone, "the previous owner, before any grant")
		if err := w.SetProjectOwner(ctx, "nope", other.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("set owner of a missing project: %v", err)
		}

		if err := w.DeleteProject(ctx, p.ID); err != nil {
			t.Fatal(err)
		}
		wantRank(t, st.Reader(), p.ID, other.ID, store.RankNone, "the owner of a deleted project")
		if err := w.DeleteProject(ctx, p.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
	})
}

// TestEffectiveRole: the role is the highest of ownership, the direct
// grant and every group's grant.
func TestEffectiveRole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		const (
			admin    = store.RoleAdmin
			standard = store.RoleStandard
		)
		for i, tc := range []struct {
			name   string
			owner  bool     // the user owns the project
			direct string   // their direct grant ("" for none)
			groups []string // roles granted to groups they are in
			// outsiderGroups are roles granted to groups they are not in.
			outsiderGroups []string
			// elsewhere is a role they hold on another project only.
			elsewhere string
			want      int
		}{
			{name: "direct standard + group admin → admin", direct: standard, groups: []string{admin}, want: store.RankAdmin},
			{name: "direct admin + group standard → admin", direct: admin, groups: []string{standard}, want: store.RankAdmin},
			{name: "only group standard → standard", groups: []string{standard}, want: store.RankStandard},
			{name: "groups standard and admin → admin", groups: []string{standard, admin}, want: store.RankAdmin},
			{name: "only direct standard → standard", direct: standard, want: store.RankStandard},
			{name: "only direct admin → admin", direct: admin, want: store.RankAdmin},
			{name: "owner also in an admin group → owner", owner: true, groups: []string{admin}, want: store.RankOwner},
			{name: "owner alone → owner", owner: true, want: store.RankOwner},
			{name: "no grant → not found", want: store.RankNone},
			{name: "a group grant to a group they are not in → not found", outsiderGroups: []string{admin}, want: store.RankNone},
			{name: "a grant on another project only → not found", elsewhere: admin, want: store.RankNone},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := st.Writer()
				owner := newUser(t, w, fmt.Sprintf("owner%d@example.com", i))
				u := newUser(t, w, fmt.Sprintf("user%d@example.com", i))
				stranger := newUser(t, w, fmt.Sprintf("stranger%d@example.com", i))
				if tc.owner {
					owner = u
				}
				p := newProject(t, w, "P", owner.ID)
				for j, role := range tc.groups {
					grantGroup(t, w, p, newGroup(t, w, fmt.Sprintf("g%d-%d", i, j), u, stranger), role)
				}
				for j, role := range tc.outsiderGroups {
					grantGroup(t, w, p, newGroup(t, w, fmt.Sprintf("o%d-%d", i, j), stranger), role)
				}
				if tc.direct != "" {
					grantUser(t, w, p, u, tc.direct)
				}
				if tc.elsewhere != "" {
					grantUser(t, w, newProject(t, w, "Other", owner.ID), u, tc.elsewhere)
				}
				wantRank(t, st.Reader(), p.ID, u.ID, tc.want, tc.name)
			})
		}
	})
}

func TestListProjectsForUser(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		u := newUser(t, w, "u@example.com")
		boss := newUser(t, w, "boss@example.com")
		nobody := newUser(t, w, "nobody@example.com")
		member := newGroup(t, w, "Members", u)
		notMember := newGroup(t, w, "Others", boss)

		owned := newProject(t, w, "Delta", u.ID)
		direct := newProject(t, w, "Alpha", boss.ID)
		grantUser(t, w, direct, u, store.RoleStandard)
		viaGroup := newProject(t, w, "Charlie", boss.ID)
		grantGroup(t, w, viaGroup, member, store.RoleAdmin)
		both := newProject(t, w, "Bravo", boss.ID)
		grantUser(t, w, both, u, store.RoleStandard)
		grantGroup(t, w, both, member, store.RoleAdmin)
		hidden := newProject(t, w, "Echo", boss.ID)
		grantGroup(t, w, hidden, notMember, store.RoleAdmin)
		grantUser(t, w, hidden, boss, store.RoleStandard) // the owner's own redundant grant must not leak to others

		list, err := st.Reader().ListProjectsForUser(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		want := []struct {
			id   string
			rank int
		}{{direct.ID, store.RankStandard}, {both.ID, store.RankAdmin}, {viaGroup.ID, store.RankAdmin}, {owned.ID, store.RankOwner}}
		if len(list) != len(want) {
			t.Fatalf("ListProjectsForUser = %d projects, want %d (Alpha, Bravo, Charlie, Delta)", len(list), len(want))
		}
		for i, w := range want {
			if list[i].ID != w.id || list[i].Rank != w.rank || list[i].Name == "" || list[i].OwnerID == "" {
				t.Errorf("project %d = %s %q rank %d, want %s rank %d", i, list[i].ID, list[i].Name, list[i].Rank, w.id, w.rank)
			}
		}
		if list, err := st.Reader().ListProjectsForUser(ctx, nobody.ID); err != nil || len(list) != 0 {
			t.Fatalf("a user without any role sees %d projects, %v", len(list), err)
		}
		if list, _ := st.Reader().ListProjectsForUser(ctx, boss.ID); len(list) != 4 {
			t.Fatalf("boss sees %d projects, want the 4 they own", len(list))
		}
	})
}

// TestDeleteProjectCascadesButKeepsAudit: a deleted project's grants go;
// its audit events, groups and users stay, and the chain stays intact.
func TestDeleteProjectCascadesButKeepsAudit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		u := newUser(t, w, "u@example.com")
		g := newGroup(t, w, "Team", u)
		p := newProject(t, w, "Doomed", owner.ID)
		other := newProject(t, w, "Kept", owner.ID)
		grantUser(t, w, p, u, store.RoleAdmin)
		grantGroup(t, w, p, g, store.RoleStandard)
		kept := grantUser(t, w, other, u, store.RoleStandard)
		err := st.InTx(ctx, func(q *store.Q) error {
			for _, action := range []string{audit.ActionProjectCreate, audit.ActionGrantAdd, audit.ActionProjectDelete} {
				if _, err := audit.Append(ctx, q, audit.Event{ActorID: owner.ID, ProjectID: p.ID, Action: action,
					Target: "project:" + p.ID, Outcome: audit.Success}); err != nil {
					return err
				}
			}
			return q.DeleteProject(ctx, p.ID)
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM grants WHERE project_id = $1`, p.ID); n != 0 {
			t.Fatalf("%d grants of the deleted project remain", n)
		}
		if list, err := st.Reader().ListGrants(ctx, p.ID); err != nil || len(list) != 0 {
			t.Fatalf("ListGrants of a deleted project = %d, %v", len(list), err)
		}
		events, err := st.Reader().ListAuditEvents(ctx, store.AuditFilter{ProjectID: p.ID})
		if err != nil || len(events) != 3 || events[0].Action != audit.ActionProjectDelete {
			t.Fatalf("audit events of the deleted project = %d, %v; want 3, newest the deletion", len(events), err)
		}
		if rep, err := audit.Verify(ctx, st.Reader()); err != nil || !rep.Intact || rep.Events != 3 {
			t.Fatalf("Verify = %+v, %v", rep, err)
		}
		if _, err := st.Reader().GroupByID(ctx, g.ID); err != nil {
			t.Fatalf("the group went with the project: %v", err)
		}
		if m, _ := st.Reader().GroupMembers(ctx, g.ID); len(m) != 1 {
			t.Fatalf("the group has %d members after the project went, want 1", len(m))
		}
		if _, err := st.Reader().GrantByID(ctx, other.ID, kept.ID); err != nil {
			t.Fatalf("a grant of another project went: %v", err)
		}
	})
}

func TestPlans(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		def, err := st.Reader().DefaultPlan(ctx)
		if err != nil || def.ID != "default" || !def.Default || def.RunLogRetentionDays != 30 ||
			def.ConsoleLogRetentionDays != 7 || def.AuditRetentionDays != 365 || def.Limits != "{}" {
			t.Fatalf("DefaultPlan = %+v, %v", def, err)
		}
		p := &store.Plan{Name: "Large", RunLogRetentionDays: 90, ConsoleLogRetentionDays: 14, AuditRetentionDays: 730}
		if err := w.CreatePlan(ctx, p); err != nil {
			t.Fatal(err)
		}
		got, err := st.Reader().PlanByID(ctx, p.ID)
		if err != nil || got.Name != "Large" || got.Default || got.RunLogRetentionDays != 90 || got.ConsoleLogRetentionDays != 14 ||
			got.AuditRetentionDays != 730 || got.Limits != "{}" || !got.CreatedAt.Equal(p.CreatedAt) {
			t.Fatalf("PlanByID = %+v, %v; want %+v", got, err, p)
		}
		if err := w.CreatePlan(ctx, &store.Plan{Name: "Large", RunLogRetentionDays: 1}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate plan name: %v, want ErrConflict", err)
		}
		if err := w.CreatePlan(ctx, &store.Plan{Name: "Default"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("the default plan's name again: %v, want ErrConflict", err)
		}
		if def, _ := st.Reader().DefaultPlan(ctx); def.ID != "default" {
			t.Fatalf("a created plan became the default: %+v", def)
		}
		list, err := st.Reader().ListPlans(ctx)
		// Default, Enterprise, Free, Large, Standard (0014 adds three).
		if err != nil || len(list) != 5 || list[0].ID != "default" || list[3].ID != p.ID {
			t.Fatalf("ListPlans = %+v, %v; want Default, Enterprise, Free, Large, Standard", list, err)
		}
		if _, err := st.Reader().PlanByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing plan: %v", err)
		}
	})
}

// TestAuditFilterByProjectAndTime: a project's events by time range, with
// since inclusive and until exclusive down to the microsecond (SQLite
// compares stored times as text, so fractions must order correctly), and
// by actor and action, never another project's.
func TestAuditFilterByProjectAndTime(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		t0 := clk.Now()
		// Offsets from t0 of A's events; B gets one event at each too.
		offsets := []time.Duration{0, 500 * time.Millisecond, time.Second, 1250 * time.Millisecond, 1250*time.Millisecond + time.Microsecond, 2 * time.Second, 10 * time.Second}
		for i, off := range offsets {
			clk.Set(t0.Add(off))
			for _, p := range []string{"A", "B"} {
				err := st.InTx(ctx, func(q *store.Q) error {
					_, err := audit.Append(ctx, q, audit.Event{ActorID: fmt.Sprintf("actor%d", i%2), ProjectID: p,
						Action: fmt.Sprintf("act%d", i%3), Target: fmt.Sprint(i), Outcome: audit.Success})
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		targets := func(f store.AuditFilter) string {
			t.Helper()
			f.ProjectID = "A"
			evs, err := st.Reader().ListAuditEvents(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range evs {
				if e.ProjectID != "A" {
					t.Fatalf("event of project %s in A's listing", e.ProjectID)
				}
				out = append(out, e.Target)
			}
			return fmt.Sprint(out)
		}
		for _, tc := range []struct {
			name string
			f    store.AuditFilter
			want string
		}{
			{"all, newest first", store.AuditFilter{}, "[6 5 4 3 2 1 0]"},
			{"since a whole second", store.AuditFilter{Since: t0.Add(time.Second)}, "[6 5 4 3 2]"},
			{"since a fraction", store.AuditFilter{Since: t0.Add(500 * time.Millisecond)}, "[6 5 4 3 2 1]"},
			{"since just after a fraction", store.AuditFilter{Since: t0.Add(500*time.Millisecond + time.Microsecond)}, "[6 5 4 3 2]"},
			{"until a whole second", store.AuditFilter{Until: t0.Add(time.Second)}, "[1 0]"},
			{"until a fraction", store.AuditFilter{Until: t0.Add(1250 * time.Millisecond)}, "[2 1 0]"},
			{"until a microsecond later", store.AuditFilter{Until: t0.Add(1250*time.Millisecond + time.Microsecond)}, "[3 2 1 0]"},
			{"between", store.AuditFilter{Since: t0.Add(time.Second), Until: t0.Add(2 * time.Second)}, "[4 3 2]"},
			{"in another zone", store.AuditFilter{Since: t0.Add(2 * time.Second).In(time.FixedZone("X", 5*3600))}, "[6 5]"},
			{"by actor", store.AuditFilter{ActorID: "actor1"}, "[5 3 1]"},
			{"by action", store.AuditFilter{Action: "act0"}, "[6 3 0]"},
			{"a page", store.AuditFilter{Limit: 2}, "[6 5]"},
		} {
			if got := targets(tc.f); got != tc.want {
				t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
			}
		}
		evs, _ := st.Reader().ListAuditEvents(ctx, store.AuditFilter{ProjectID: "A", Limit: 2})
		if got := targets(store.AuditFilter{BeforeSeq: evs[1].Seq, Limit: 2}); got != "[4 3]" {
			t.Errorf("the page after: %s, want [4 3]", got)
		}
	})
}
