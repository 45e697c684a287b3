package web_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

func TestProjectJourneySmoke(t *testing.T) {
	inst, admin, bobID := startWithUser(t, apptest.Options{})
	r := admin.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop ↔ ERP"})
	if r.Status != 201 || r.String("role") != "owner" || r.String("plan.id") != "default" || r.String("settings.time_zone") != "UTC" {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	pid := r.String("id")
	bob := inst.Login(t, userEmail, userPW)
	if r := bob.Do(t, "GET", "/api/v1/projects/"+pid, nil); r.Status != 404 {
		t.Fatalf("bob before grant: %d", r.Status)
	}
	r = admin.Do(t, "POST", "/api/v1/projects/"+pid+"/members", map[string]any{"email": userEmail, "role": "standard"})
	if r.Status != 201 {
		t.Fatalf("grant: %d %s", r.Status, r.Body)
	}
	mid := r.String("id")
	if r := bob.Do(t, "GET", "/api/v1/projects/"+pid, nil); r.Status != 200 || r.String("role") != "standard" {
		t.Fatalf("bob after grant: %d %s", r.Status, r.Body)
	}
	if r := bob.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"name": "x"}); r.Status != 403 {
		t.Fatalf("standard rename: %d", r.Status)
	}
	if r := admin.Do(t, "PATCH", "/api/v1/projects/"+pid+"/members/"+mid, map[string]any{"role": "admin"}); r.Status != 200 {
		t.Fatalf("promote: %d %s", r.Status, r.Body)
	}
	r = bob.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"name": "Shop to ERP", "settings": map[string]any{"time_zone": "America/Chicago", "egress_allowlist": []string{"10.0.0.0/8", "ERP.internal"}}})
	if r.Status != 200 || r.String("settings.time_zone") != "America/Chicago" {
		t.Fatalf("admin patch: %d %s", r.Status, r.Body)
	}
	r = bob.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"settings": map[string]any{"time_zone": "Mars/Olympus", "dynamic_ip_allowlist": []string{"nope"}}})
	if r.Status != 422 || len(r.Get("error.details").([]any)) != 2 {
		t.Fatalf("bad settings: %d %s", r.Status, r.Body)
	}
	r = admin.Do(t, "POST", "/api/v1/projects/"+pid+"/transfer", map[string]any{"user_id": bobID})
	if r.Status != 200 || r.String("owner.id") != bobID || r.String("role") != "admin" {
		t.Fatalf("transfer: %d %s", r.Status, r.Body)
	}
	r = bob.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)
	if r.Status != 200 || len(r.Get("events").([]any)) != 5 {
		t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	if r := admin.Do(t, "DELETE", "/api/v1/projects/"+pid, map[string]any{"password": adminPW}); r.Status != 403 {
		t.Fatalf("ex-owner delete: %d %s", r.Status, r.Body)
	}
	if r := bob.Do(t, "DELETE", "/api/v1/projects/"+pid, map[string]any{"password": userPW}); r.Status != 204 {
		t.Fatalf("owner delete: %d %s", r.Status, r.Body)
	}
	if r := bob.Do(t, "GET", "/api/v1/projects/"+pid, nil); r.Status != 404 {
		t.Fatalf("after delete: %d", r.Status)
	}
}
