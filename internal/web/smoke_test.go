package web_test

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

func TestSmoke(t *testing.T) {
	inst := apptest.Start(t, apptest.Options{})
	admin := inst.Setup(t, "ann@example.com", "correct horse battery staple")
	r := admin.Do(t, "GET", "/api/v1/me", nil)
	if r.Status != 200 || r.String("user.email") != "ann@example.com" {
		t.Fatalf("me: %d %s", r.Status, r.Body)
	}
}
