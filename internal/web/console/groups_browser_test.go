package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestGroupsInBrowser: the instance administrator creates a group, adds a
// user, removes them and deletes the group; a user who is not an
// administrator gets the 403 page and no Groups link.
func TestGroupsInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	setupInBrowser(t, b, inst)
	api := inst.Login(t, adminEmail, adminPassword)
	sam := inst.CreateUser(t, api, "sam@example.com", "sam-password-long-enough", false)

	b.open(base + "/groups")
	if !b.has("groups-empty") || !b.has("nav-groups") {
		t.Fatalf("groups page:\n%s", b.bodyText())
	}
	b.typeInto("group-name", "Warehouse team")
	if st := b.submit("create-group"); st != http.StatusOK {
		t.Fatalf("create group: %d\n%s", st, b.bodyText())
	}
	if !regexp.MustCompile(`^/groups/[^/]+$`).MatchString(b.path(base)) || !b.has("group-empty") {
		t.Fatalf("after creating a group: %s\n%s", b.path(base), b.bodyText())
	}
	b.eval("choose sam", `document.getElementById("group-user").value = "`+sam+`"; "ok"`)
	if st := b.submit("add-member"); st != http.StatusOK || !strings.Contains(b.text("group-members"), "sam@example.com") {
		t.Fatalf("add sam: %d\n%s", st, b.bodyText())
	}
	b.screenshot("group")
	if st := b.submit("remove-" + sam); st != http.StatusOK || !b.has("group-empty") {
		t.Fatalf("remove sam: %d\n%s", st, b.bodyText())
	}
	if st := b.submit("delete-group"); st != http.StatusOK || !b.has("groups-empty") {
		t.Fatalf("delete group: %d\n%s", st, b.bodyText())
	}

	// Not an administrator: no link, and the page is refused.
	b2 := newBrowser(t)
	b2.open(base + "/login")
	b2.typeInto("email", "sam@example.com")
	b2.typeInto("password", "sam-password-long-enough")
	b2.submit("submit")
	if b2.has("nav-groups") {
		t.Error("a user who is not an administrator sees the Groups link")
	}
	if st := b2.open(base + "/groups"); st != http.StatusForbidden {
		t.Errorf("groups page for a user: status %d", st)
	}
}
