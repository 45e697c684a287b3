package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestGrantsAreUniqueAndScoped: one grant per user or group and project,
// and every grant method scoped by its project, so an ID from another
// project finds nothing.
func TestGrantsAreUniqueAndScoped(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		zed := newUser(t, w, "zed@example.com")
		amy := newUser(t, w, "amy@example.com")
		team := newGroup(t, w, "Team")
		a := newProject(t, w, "A", owner.ID)
		b := newProject(t, w, "B", owner.ID)

		gz := grantUser(t, w, a, zed, store.RoleStandard)
		ga := grantUser(t, w, a, amy, store.RoleAdmin)
		gt := grantGroup(t, w, a, team, store.RoleStandard)
		gb := grantUser(t, w, b, zed, store.RoleAdmin) // the same user on another project is fine

		for _, dup := range []*store.Grant{
			{ProjectID: a.ID, UserID: zed.ID, Role: store.RoleAdmin},
			{ProjectID: a.ID, UserID: zed.ID, Role: store.RoleStandard},
			{ProjectID: a.ID, GroupID: team.ID, Role: store.RoleAdmin},
		} {
			if err := w.CreateGrant(ctx, dup); !errors.Is(err, store.ErrConflict) {
				t.Fatalf("second grant %+v: %v, want ErrConflict", dup, err)
			}
		}
		// The schema refuses what the service must never write.
		for name, bad := range map[string]*store.Grant{
			"role owner":      {ProjectID: b.ID, UserID: amy.ID, Role: "owner"},
			"empty role":      {ProjectID: b.ID, UserID: amy.ID, Role: ""},
			"user and group":  {ProjectID: b.ID, UserID: amy.ID, GroupID: team.ID, Role: store.RoleAdmin},
			"neither":         {ProjectID: b.ID, Role: store.RoleAdmin},
			"missing project": {ProjectID: "nope", UserID: amy.ID, Role: store.RoleAdmin},
			"missing user":    {ProjectID: b.ID, UserID: "nope", Role: store.RoleAdmin},
			"missing group":   {ProjectID: b.ID, GroupID: "nope", Role: store.RoleAdmin},
		} {
			if err := w.CreateGrant(ctx, bad); err == nil {
				t.Errorf("grant with %s was stored", name)
			}
		}

		got, err := st.Reader().GrantByID(ctx, a.ID, gz.ID)
		if err != nil || got.UserID != zed.ID || got.GroupID != "" || got.Role != store.RoleStandard || got.Email != zed.Email || !got.CreatedAt.Equal(clk.Now()) {
			t.Fatalf("GrantByID = %+v, %v", got, err)
		}
		if _, err := st.Reader().GrantByID(ctx, a.ID, gb.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GrantByID of project B's grant under A: %v, want ErrNotFound", err)
		}
		if err := w.SetGrantRole(ctx, a.ID, gb.ID, store.RoleStandard); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SetGrantRole of B's grant under A: %v, want ErrNotFound", err)
		}
		if err := w.DeleteGrant(ctx, a.ID, gb.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("DeleteGrant of B's grant under A: %v, want ErrNotFound", err)
		}
		if got, err := st.Reader().GrantByID(ctx, b.ID, gb.ID); err != nil || got.Role != store.RoleAdmin {
			t.Fatalf("B's grant after the attempts under A: %+v, %v", got, err)
		}
		if got, err := st.Reader().UserGrant(ctx, b.ID, zed.ID); err != nil || got.ID != gb.ID {
			t.Fatalf("UserGrant(B, zed) = %+v, %v", got, err)
		}
		if _, err := st.Reader().UserGrant(ctx, b.ID, amy.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("UserGrant without a grant: %v", err)
		}

		// Users by email, then groups by name, with their names filled in.
		list, err := st.Reader().ListGrants(ctx, a.ID)
		if err != nil || len(list) != 3 || list[0].ID != ga.ID || list[1].ID != gz.ID || list[2].ID != gt.ID ||
			list[0].Email != "amy@example.com" || list[2].Name != "Team" || list[2].GroupID != team.ID || list[2].Email != "" {
			t.Fatalf("ListGrants(A) = %+v, %v", list, err)
		}

		clk.Advance(time.Minute)
		if err := w.SetGrantRole(ctx, a.ID, gz.ID, store.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		wantRank(t, st.Reader(), a.ID, zed.ID, store.RankAdmin, "zed after the switch")
		if got, _ := st.Reader().GrantByID(ctx, a.ID, gz.ID); !got.UpdatedAt.Equal(clk.Now()) || got.CreatedAt.Equal(got.UpdatedAt) {
			t.Fatalf("switched grant times: %+v", got)
		}
		if err := w.DeleteGrant(ctx, a.ID, gz.ID); err != nil {
			t.Fatal(err)
		}
		wantRank(t, st.Reader(), a.ID, zed.ID, store.RankNone, "zed after the revoke")
		wantRank(t, st.Reader(), b.ID, zed.ID, store.RankAdmin, "zed on B after the revoke on A")
	})
}

// TestGroupMembershipIsReadAfresh: leaving a group takes what it gave at
// once; nothing is cached.
func TestGroupMembershipIsReadAfresh(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		u := newUser(t, w, "u@example.com")
		v := newUser(t, w, "v@example.com")
		g := newGroup(t, w, "ERP team", u, v)
		p := newProject(t, w, "P", owner.ID)
		grantGroup(t, w, p, g, store.RoleAdmin)
		wantRank(t, st.Reader(), p.ID, u.ID, store.RankAdmin, "u through the group")

		if err := w.AddGroupMember(ctx, g.ID, u.ID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("adding a member twice: %v, want ErrConflict", err)
		}
		if err := w.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		wantRank(t, st.Reader(), p.ID, u.ID, store.RankNone, "u after leaving the group")
		if list, _ := st.Reader().ListProjectsForUser(ctx, u.ID); len(list) != 0 {
			t.Fatalf("u still lists %d projects", len(list))
		}
		wantRank(t, st.Reader(), p.ID, v.ID, store.RankAdmin, "v, still in the group")
		if err := w.RemoveGroupMember(ctx, g.ID, u.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("removing a non-member: %v, want ErrNotFound", err)
		}
		if err := w.AddGroupMember(ctx, g.ID, "no-such-user"); err == nil {
			t.Fatal("a missing user was added to a group")
		}
		members, err := st.Reader().GroupMembers(ctx, g.ID)
		if err != nil || len(members) != 1 || members[0].UserID != v.ID || members[0].Email != v.Email {
			t.Fatalf("GroupMembers = %+v, %v", members, err)
		}
	})
}

func TestGroups(t *testing.T) {
	eachClocked(t, func(t *testing.T, st *store.Store, clk *testClock) {
		ctx := context.Background()
		w := st.Writer()
		zoe := newUser(t, w, "zoe@example.com")
		abe := newUser(t, w, "abe@example.com")
		erp := newGroup(t, w, "ERP team", zoe, abe)
		shop := newGroup(t, w, "Shop team")
		if err := w.CreateGroup(ctx, &store.Group{Name: "ERP team"}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate group name: %v, want ErrConflict", err)
		}
		if err := w.RenameGroup(ctx, shop.ID, "ERP team"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("rename to a taken name: %v, want ErrConflict", err)
		}
		if err := w.RenameGroup(ctx, "nope", "Whatever"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rename of a missing group: %v, want ErrNotFound", err)
		}
		clk.Advance(time.Minute)
		if err := w.RenameGroup(ctx, shop.ID, "Commerce"); err != nil {
			t.Fatal(err)
		}
		got, err := st.Reader().GroupByID(ctx, shop.ID)
		if err != nil || got.Name != "Commerce" || !got.UpdatedAt.Equal(clk.Now()) || !got.CreatedAt.Equal(shop.CreatedAt) {
			t.Fatalf("renamed group = %+v, %v", got, err)
		}
		list, err := st.Reader().ListGroups(ctx)
		if err != nil || len(list) != 2 || list[0].ID != shop.ID || list[1].ID != erp.ID {
			t.Fatalf("ListGroups = %+v, %v; want Commerce, ERP team", list, err)
		}
		members, err := st.Reader().GroupMembers(ctx, erp.ID)
		if err != nil || len(members) != 2 || members[0].UserID != abe.ID || members[1].UserID != zoe.ID {
			t.Fatalf("GroupMembers = %+v, %v; want abe, zoe", members, err)
		}
		if _, err := st.Reader().GroupByID(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing group: %v", err)
		}
	})
}

// TestDeleteGroupCascades: deleting a group takes its memberships and its
// grants, and with them the access it gave; users and other grants stay.
func TestDeleteGroupCascades(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		u := newUser(t, w, "u@example.com")
		v := newUser(t, w, "v@example.com")
		g := newGroup(t, w, "Doomed", u, v)
		keep := newGroup(t, w, "Kept", v)
		p1 := newProject(t, w, "P1", owner.ID)
		p2 := newProject(t, w, "P2", owner.ID)
		grantGroup(t, w, p1, g, store.RoleAdmin)
		grantGroup(t, w, p2, g, store.RoleStandard)
		grantGroup(t, w, p2, keep, store.RoleStandard)
		direct := grantUser(t, w, p1, v, store.RoleStandard)

		if err := w.DeleteGroup(ctx, g.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.Reader().GroupByID(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted group still found: %v", err)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM group_members WHERE group_id = $1`, g.ID); n != 0 {
			t.Fatalf("%d memberships of the deleted group remain", n)
		}
		if n := countRows(t, st, `SELECT COUNT(*) FROM grants WHERE group_id = $1`, g.ID); n != 0 {
			t.Fatalf("%d grants of the deleted group remain", n)
		}
		wantRank(t, st.Reader(), p1.ID, u.ID, store.RankNone, "u on P1 after the group went")
		wantRank(t, st.Reader(), p2.ID, u.ID, store.RankNone, "u on P2 after the group went")
		wantRank(t, st.Reader(), p1.ID, v.ID, store.RankStandard, "v's direct grant on P1")
		wantRank(t, st.Reader(), p2.ID, v.ID, store.RankStandard, "v through the kept group on P2")
		if _, err := st.Reader().GrantByID(ctx, p1.ID, direct.ID); err != nil {
			t.Fatalf("the direct grant went with the group: %v", err)
		}
		if n, _ := st.Reader().CountUsers(ctx); n != 3 {
			t.Fatalf("%d users after deleting a group, want 3", n)
		}
		if m, _ := st.Reader().GroupMembers(ctx, keep.ID); len(m) != 1 {
			t.Fatalf("the kept group has %d members, want 1", len(m))
		}
		if err := w.DeleteGroup(ctx, g.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second delete: %v, want ErrNotFound", err)
		}
	})
}
