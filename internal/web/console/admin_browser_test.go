package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestKeysAndActivityInBrowser: the instance administrator, whose project
// holds a connection with a sealed credential, opens the keys page, is
// refused a rotation without ticking the box, ticks it and rotates; the
// page shows the new term and the rotation waiting, reloading itself,
// then finished once the re-sealing job ran. The instance activity page
// filtered by action shows the rotation, and the chain verifies. A user
// who is not an instance administrator sees neither page's link and gets
// 403 for both.
//
// The instance runs no queue worker, so the rotation is observably in
// progress until the test runs its job (the worker's own function); the
// progress bar part way through is TestKeysPageShowsProgress's.
func TestKeysAndActivityInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{NoWorker: true})
	b := newBrowser(t)
	base, shots := inst.URL, shotsDir(t)
	setupInBrowser(t, b, inst)
	admin := inst.Login(t, adminEmail, adminPassword)
	r := admin.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create project: %d %s", r.Status, r.Body)
	}
	pid := r.String("id")
	r = admin.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "erp", "kind": "http",
		"settings": map[string]any{"base_url": "https://erp.example.com"},
		"auth":     map[string]any{"type": "bearer", "token": "erp-token-that-is-sealed"}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create connection: %d %s", r.Status, r.Body)
	}
	const pw = "Tidal-Lantern-Quarry-42"
	inst.CreateUser(t, admin, "sam@example.com", pw, false)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	before, err := inst.App.Keyring.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	term := before.CurrentTerm
	sealed := 0 // every stored item, all sealed under older terms than the next
	for _, ts := range before.Secrets {
		for _, n := range ts.ByTerm {
			sealed += n
		}
	}
	if sealed < 1 {
		t.Fatalf("the connection's credential is not counted as a stored secret: %+v", before.Secrets)
	}

	// Before any rotation: the current term holds the credential.
	if !b.has("nav-keys") || !b.has("nav-admin-activity") {
		t.Errorf("the administrator's navigation lacks Keys or Activity:\n%s", b.bodyText())
	}
	b.do("follow Keys", chromedp.Click(chromedp.ID("nav-keys")), chromedp.WaitVisible(chromedp.ID("rotate-form")))
	b.expectPage(base, "/admin/keys")
	b.expectStyled()
	if got := b.text("current-term-value"); got != fmt.Sprint(term) {
		t.Errorf("current term %q, want %d", got, term)
	}
	if s := b.text("rotations-empty"); !strings.Contains(s, "No rotation yet") {
		t.Errorf("the fresh keys page says %q", s)
	}
	if got := b.text(fmt.Sprintf("term-%d-sealed", term)); got != fmt.Sprint(sealed) {
		t.Errorf("term %d seals %q items, want %d", term, got, sealed)
	}
	if s := b.text("rotate-explain"); !strings.Contains(s, "re-seals every stored secret") || !strings.Contains(s, "old terms are kept") {
		t.Errorf("the rotate form explains %q", s)
	}
	if b.has("refresh") {
		t.Error("the keys page reloads itself with no rotation running")
	}
	b.shot(shots, "keys-fresh.png")

	// Not ticked: refused beside the box, nothing rotated.
	if st := b.submit("rotate-submit"); st != http.StatusUnprocessableEntity {
		t.Errorf("rotate without the box: status %d, want 422", st)
	}
	if s := b.text("error-confirm"); !strings.Contains(s, "Tick this box") {
		t.Errorf("the unticked box says %q", s)
	}
	if got := b.eval("box described by", `document.getElementById('rotate-confirm').getAttribute('aria-describedby') || ''`); got != "error-confirm" {
		t.Errorf("the box is described by %q, want error-confirm", got)
	}
	if got := inst.App.Keyring.CurrentTerm(); got != term {
		t.Fatalf("a refused rotation changed the term to %d", got)
	}

	// Ticked: the new term, the rotation waiting for a worker.
	b.do("tick the box", chromedp.Click(chromedp.ID("rotate-confirm")))
	if st := b.submit("rotate-submit"); st != http.StatusOK {
		t.Fatalf("rotate: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/admin/keys?notice=rotated")
	next := term + 1
	if got := inst.App.Keyring.CurrentTerm(); got != next {
		t.Fatalf("after the rotation the keyring's term is %d, want %d", got, next)
	}
	if s := b.text("notice"); !strings.Contains(s, "Rotation started") {
		t.Errorf("the notice says %q", s)
	}
	if got := b.text("current-term-value"); got != fmt.Sprint(next) {
		t.Errorf("current term %q after the rotation, want %d", got, next)
	}
	rot := fmt.Sprintf("rotation-%d", next)
	if got := b.text(rot + "-state"); got != "waiting for a worker" {
		t.Errorf("the rotation's state is %q, want waiting for a worker", got)
	}
	if got, want := b.text(rot+"-text"), fmt.Sprintf("0 of %d re-sealed.", sealed); got != want {
		t.Errorf("the rotation's progress says %q, want %q", got, want)
	}
	if got := b.eval("progress", fmt.Sprintf(`(function(){var p=document.getElementById(%q); return p ? p.value+'/'+p.max : 'none'})()`, rot+"-progress")); got != fmt.Sprintf("0/%d", sealed) {
		t.Errorf("the progress bar is %s, want 0/%d", got, sealed)
	}
	if !b.has("refresh") || !b.has("keys-live") {
		t.Error("the page of a rotation in progress does not reload itself")
	}
	b.shot(shots, "keys-in-progress.png")

	// The re-sealing job runs (what a worker does with it).
	if done, err := inst.App.Keyring.RunRotation(ctx, next, 0); err != nil || !done {
		t.Fatalf("run the rotation: done %v, %v", done, err)
	}
	b.open(base + "/admin/keys")
	if got := b.text(rot + "-state"); got != "finished" {
		t.Errorf("the rotation's state is %q, want finished", got)
	}
	if got, want := b.text(rot+"-text"), fmt.Sprintf("%d of %d re-sealed.", sealed, sealed); got != want {
		t.Errorf("the finished rotation says %q, want %q", got, want)
	}
	if got := b.text(fmt.Sprintf("term-%d-sealed", next)); got != fmt.Sprint(sealed) {
		t.Errorf("the new term seals %q items, want %d", got, sealed)
	}
	if got := b.text(fmt.Sprintf("term-%d-sealed", term)); got != "0" {
		t.Errorf("the old term still seals %q items, want 0", got)
	}
	if b.has("refresh") {
		t.Error("the page still reloads itself after the rotation finished")
	}
	b.shot(shots, "keys-finished.png")

	// The instance's activity log, filtered to the rotation; then the
	// chain verifies, the filter kept.
	b.do("follow Activity", chromedp.Click(chromedp.ID("nav-admin-activity")), chromedp.WaitVisible(chromedp.ID("activity-filters")))
	b.expectPage(base, "/admin/activity")
	if n := b.count("tr.event"); n < 3 {
		t.Errorf("the instance log shows %d events, want the setup, the project, the connection and more", n)
	}
	b.do("choose the action", chromedp.SetValue(chromedp.ID("filter-action"), "keyring.rotate"))
	if st := b.submit("filter-submit"); st != http.StatusOK {
		t.Fatalf("filter: status %d", st)
	}
	checkRotationOnly := func() {
		t.Helper()
		if n := b.count("tr.event"); n != 1 {
			t.Fatalf("filtered by keyring.rotate: %d events, want 1; page:\n%s", n, b.bodyText())
		}
		if got := b.eval("action", `document.querySelector('tr.event .event-action').textContent`); got != "keyring.rotate" {
			t.Errorf("the event's action is %q", got)
		}
		if row := b.eval("row", `document.querySelector('tr.event').innerText`); !strings.Contains(row, adminEmail) ||
			!strings.Contains(row, fmt.Sprintf("keyring:term/%d", next)) {
			t.Errorf("the rotation event reads %q, want its actor and term", row)
		}
	}
	checkRotationOnly()
	if st := b.submit("verify-submit"); st != http.StatusOK {
		t.Fatalf("verify: status %d", st)
	}
	if s := b.text("verify-result"); !strings.Contains(s, "The chain is intact") {
		t.Errorf("the verification says %q", s)
	}
	checkRotationOnly()
	b.shot(shots, "admin-activity.png")

	// On a phone's width neither page scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/admin/keys", "/admin/activity"} {
		b.open(base + p)
		if ws := strings.Fields(b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`)); len(ws) != 2 || ws[0] != ws[1] {
			t.Errorf("%s on a phone: scroll width and viewport width are %v, want them equal", p, ws)
		}
		b.shot(shots, strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", "-")+"-phone.png")
	}
	b.do("desktop viewport", chromedp.EmulateViewport(1024, 720))

	// A user who is not an instance administrator.
	b.submit("logout")
	b.login(base, "sam@example.com", pw)
	if b.has("nav-keys") || b.has("nav-admin-activity") {
		t.Error("a user who is no instance administrator sees the Keys or Activity link")
	}
	for _, p := range []string{"/admin/keys", "/admin/activity"} {
		if st := b.open(base + p); st != http.StatusForbidden {
			t.Errorf("%s as a user: status %d, want 403", p, st)
		}
		if b.has("rotate-form") || b.has("activity-filters") {
			t.Errorf("%s as a user shows the page", p)
		}
	}
}
