package web_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestGroupChangesReachProjectLogs: access gained or lost through a group
// shows in the log of every project the group holds a grant on, not only
// in the instance log.
func TestGroupChangesReachProjectLogs(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	bob := addPerson(t, inst, ann, "bob")
	cyd := addPerson(t, inst, ann, "cyd")
	alpha := mustProject(t, bob.C, "Alpha")
	beta := mustProject(t, bob.C, "Beta")
	team := ann.Do(t, "POST", "/api/v1/groups", map[string]any{"name": "Team"}).String("id")
	mustMember(t, bob.C, alpha, map[string]any{"group_id": team, "role": "standard"})

	wantStatus(t, ann.Do(t, "POST", "/api/v1/groups/"+team+"/members", map[string]any{"user_id": cyd.ID}), 201, "cyd joins Team")
	wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+team+"/members/"+cyd.ID, nil), 204, "cyd leaves Team")
	wantStatus(t, ann.Do(t, "DELETE", "/api/v1/groups/"+team, nil), 204, "Team deleted")

	events := eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+alpha+"/audit?limit=3", nil))
	want := []string{"group.delete", "group.member_remove", "group.member_add"}
	for i, e := range events {
		if e["action"] != want[i] || e["project_id"] != alpha || e["actor_email"] != adminEmail || dig(e["detail"], "group_role") != "standard" {
			t.Fatalf("alpha's event %d = %v, want %s by the instance admin", i, e, want[i])
		}
	}
	if len(events) != 3 || dig(events[2]["detail"], "user_id") != cyd.ID {
		t.Fatalf("alpha's group events: %v", events)
	}
	for _, e := range eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+beta+"/audit", nil)) {
		if e["action"] != "project.create" {
			t.Fatalf("beta, where Team had no grant, logged %v", e)
		}
	}
}
