package console_test

// Browser journeys of the connection and service-consumer pages
// (connections.go): a connection made through the generated form and
// tested, its secret never echoed; a Basic consumer whose secret is shown
// once with a curl example that works; what a standard member sees, and
// that a forged post is refused.

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// connSecret is the bearer token typed into the connection form; no page
// may ever show it again.
const connSecret = "Conn-Typed-Secret-7f3a9c"

// html is the page's whole markup, attributes included.
func (b *browser) html() string {
	return b.eval("page markup", `document.documentElement.outerHTML`)
}

// forgePost sends a form the page never offered, with the page's own CSRF
// token, and returns the status of the page the browser lands on.
func (b *browser) forgePost(action string) int64 {
	b.t.Helper()
	js := fmt.Sprintf(`(function () {
  var f = document.createElement('form'); f.method = 'post'; f.action = %q;
  var i = document.createElement('input'); i.type = 'hidden'; i.name = 'csrf_token';
  i.value = document.querySelector('input[name="csrf_token"]').value;
  f.appendChild(i); document.body.appendChild(f); f.submit();
})()`, action)
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Evaluate[chromedp.Void](js))
	if err != nil {
		b.t.Fatalf("forged post to %s: %v", action, err)
	}
	return resp.Status
}

// TestConnectionAndConsumerPagesInBrowser: the owner creates an http
// connection through the form (a refused one first), tests it, saves it
// again without retyping the secret, then makes a Basic service consumer
// for a sync flow and calls the flow with the secret shown once. A
// standard member then sees no management forms, and a forged post is
// refused.
func TestConnectionAndConsumerPagesInBrowser(t *testing.T) {
	t.Parallel()
	// The API the connection points at: it wants the bearer token.
	var mu sync.Mutex
	var seen []string
	lastAccept := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(seen) == 0 {
			return ""
		}
		return seen[len(seen)-1]
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Accept"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+connSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(api.Close)
	inst := apptest.Start(t, apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}})
	base := inst.URL
	b := newBrowser(t)
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)
	admin := inst.Login(t, adminEmail, adminPassword)
	must := func(r *apptest.Response, status int, what string) *apptest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: status %d, want %d; %s", what, r.Status, status, r.Body)
		}
		return r
	}
	pid := must(admin.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"}), http.StatusCreated, "project").String("id")
	page := func(s string) string { return base + "/projects/" + pid + s }

	// The empty list explains what to do; the form is generated from the
	// http kind's spec.
	if st := b.open(page("/connections")); st != http.StatusOK {
		t.Fatalf("connections page: status %d", st)
	}
	if s := b.text("connections-empty"); !strings.Contains(s, "Add one below") {
		t.Errorf("empty connections page says %q", s)
	}
	for _, id := range []string{"f-settings-base_url", "f-settings-headers", "f-settings-timeout", "f-settings-test-method", "f-auth-type", "f-auth-token", "f-auth-password", "f-auth-api_key"} {
		if !b.has(id) {
			t.Errorf("the http form has no #%s", id)
		}
	}
	if typ := b.eval("token input type", `document.getElementById('f-auth-token').type`); typ != "password" {
		t.Errorf("the token input is %q, want password", typ)
	}
	b.expectStyled()

	// A bad URL is refused next to its field; the typed secret is not
	// put back.
	b.typeInto("conn-name", "erp")
	b.typeInto("f-settings-base_url", "not a url")
	b.typeInto("f-settings-headers", "Accept: application/json")
	b.do("choose bearer", chromedp.SetValue(chromedp.ID("f-auth-type"), "bearer"))
	b.typeInto("f-auth-token", connSecret)
	if st := b.submit("create-connection"); st != http.StatusUnprocessableEntity {
		t.Errorf("bad base URL: status %d, want 422", st)
	}
	if s := b.text("error-f-settings-base_url"); !strings.Contains(s, "http://") {
		t.Errorf("the base URL field says %q", s)
	}
	if strings.Contains(b.html(), connSecret) {
		t.Error("the refused form shows the typed secret again")
	}
	if v := b.eval("kept header", `document.getElementById('f-settings-headers').value`); v != "Accept: application/json" {
		t.Errorf("the headers field holds %q after the refusal", v)
	}

	// The good one lands on its page.
	b.typeInto("f-settings-base_url", api.URL)
	b.typeInto("f-auth-token", connSecret)
	if st := b.submit("create-connection"); st != http.StatusOK {
		t.Fatalf("create connection: status %d; page:\n%s", st, b.bodyText())
	}
	m := regexp.MustCompile(`^/projects/` + pid + `/connections/([^/?]+)\?notice=created$`).FindStringSubmatch(b.path(base))
	if m == nil {
		t.Fatalf("after creating a connection the browser is on %q", b.path(base))
	}
	cid := m[1]
	if !b.has("f-auth-token-set") {
		t.Error("the stored token is not marked set")
	}
	if strings.Contains(b.html(), connSecret) {
		t.Error("the connection page shows the secret")
	}

	// Test: the diagnosis from the same service as the API.
	if st := b.submit("test-connection"); st != http.StatusOK {
		t.Fatalf("test: status %d; page:\n%s", st, b.bodyText())
	}
	if r, s := b.text("diag-result"), b.text("diag-status"); r != "ok" || s != "204" {
		t.Errorf("the diagnosis says %s, status %s; stage %s: %s", r, s, b.text("diag-stage"), b.text("diag-message"))
	}
	if a := lastAccept(); a != "application/json" {
		t.Errorf("the test request sent Accept %q, want the header from the form", a)
	}
	if strings.Contains(b.html(), connSecret) {
		t.Error("the diagnosis page shows the secret")
	}
	b.shot(shots, "connection.png")

	// Saving without retyping the secret keeps it: the test still passes.
	b.typeInto("conn-name", "erp api")
	if st := b.submit("save-connection"); st != http.StatusOK {
		t.Fatalf("save connection: status %d; page:\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/projects/"+pid+"/connections/"+cid+"?notice=saved")
	b.submit("test-connection")
	if r := b.text("diag-result"); r != "ok" {
		t.Errorf("after a save without the token the test says %s: %s", r, b.text("diag-message"))
	}
	b.open(page("/connections"))
	if s := b.text("connections-table"); !strings.Contains(s, "erp api") || !strings.Contains(s, "bearer") {
		t.Errorf("the list shows %q", s)
	}
	if strings.Contains(b.html(), connSecret) {
		t.Error("the list shows the secret")
	}
	b.shot(shots, "connections.png")

	// The postgres form comes from its own spec.
	b.do("choose postgres", chromedp.SetValue(chromedp.ID("kind-choice"), "postgres"))
	b.submit("choose-kind")
	for _, id := range []string{"f-settings-host", "f-settings-port", "f-settings-sslmode", "f-secrets-password"} {
		if !b.has(id) {
			t.Errorf("the postgres form has no #%s", id)
		}
	}
	if b.has("f-auth-type") {
		t.Error("the postgres form offers HTTP auth")
	}

	// A sync flow and a Basic consumer for it.
	pipe := must(admin.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": "calls"}), http.StatusCreated, "pipe").String("id")
	flow := must(admin.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": map[string]any{
		"name": "create-order", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}}, "entity_id": ".id",
		"steps": []any{map[string]any{"respond": `{status: "accepted", id}`}},
	}}), http.StatusCreated, "flow").String("id")
	must(admin.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows/"+flow+"/enable", nil), http.StatusOK, "enable")

	b.open(page("/consumers"))
	if s := b.text("consumers-empty"); !strings.Contains(s, "Create one below") {
		t.Errorf("empty consumers page says %q", s)
	}
	b.typeInto("consumer-name", "shop")
	b.do("tick the flow", chromedp.Click(chromedp.ID("flow-"+flow)))
	if st := b.submit("create-consumer"); st != http.StatusOK {
		t.Fatalf("create consumer: status %d; page:\n%s", st, b.bodyText())
	}
	secret, user := b.text("consumer-secret"), b.text("consumer-username")
	curl := b.text("curl-0")
	cm := regexp.MustCompile(`^curl -u (\S+):(\S+) -H 'Content-Type: application/json' -d '(\{.*\})' (\S+/call/` + pid + `/` + flow + `)$`).FindStringSubmatch(curl)
	if len(secret) < 20 || cm == nil || cm[1] != user || cm[2] != secret {
		t.Fatalf("the secret page shows secret %q, user %q and curl %q", secret, user, curl)
	}
	b.shot(shots, "consumer-secret.png")

	// The curl example works, sent from Go.
	u, err := url.Parse(cm[4])
	if err != nil {
		t.Fatalf("the curl's URL %q: %v", cm[4], err)
	}
	req, _ := http.NewRequest("POST", base+u.Path, bytes.NewBufferString(cm[3]))
	req.SetBasicAuth(user, secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "accepted") {
		t.Errorf("the curl call: status %d, body %s", resp.StatusCode, body)
	}

	// Reloaded, the consumer's page shows no secret.
	list := must(admin.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers", nil), http.StatusOK, "consumers")
	consumers, _ := list.Get("consumers").([]any)
	if len(consumers) != 1 {
		t.Fatalf("consumers: %s", list.Body)
	}
	kid, _ := consumers[0].(map[string]any)["id"].(string)
	for i, p := range []string{"/consumers", "/consumers/" + kid} {
		if st := b.open(page(p)); st != http.StatusOK {
			t.Fatalf("%s: status %d", p, st)
		}
		if strings.Contains(b.html(), secret) {
			t.Errorf("%s shows the consumer's secret after a reload", p)
		}
		b.shot(shots, []string{"consumers.png", "consumer.png"}[i])
	}
	if s := b.text("consumer-secret-state"); !strings.HasPrefix(s, "set") {
		t.Errorf("the consumer's secret state says %q", s)
	}

	// A JWT consumer with a shared secret: refused without an algorithm,
	// next to the field, the typed secret not put back; then created, with
	// no secret to show (the caller chose it).
	const jwtSecret = "Jwt-Shared-Secret-0123456789abcdefghij"
	b.open(page("/consumers"))
	b.typeInto("consumer-name", "erp jwt")
	b.do("choose jwt", chromedp.Click(chromedp.ID("auth-jwt")))
	b.typeInto("jwt-secret", jwtSecret)
	if st := b.submit("create-consumer"); st != http.StatusUnprocessableEntity {
		t.Errorf("JWT consumer without algorithms: status %d, want 422", st)
	}
	if s := b.text("error-algorithms"); !strings.Contains(s, "required") {
		t.Errorf("the algorithms say %q", s)
	}
	if strings.Contains(b.html(), jwtSecret) {
		t.Error("the refused consumer form shows the typed JWT secret")
	}
	b.do("tick HS256", chromedp.Click(chromedp.ID("alg-HS256")))
	b.typeInto("jwt-secret", jwtSecret)
	if st := b.submit("create-consumer"); st != http.StatusOK {
		t.Fatalf("create JWT consumer: status %d; page:\n%s", st, b.bodyText())
	}
	if b.has("secret-once") || strings.Contains(b.html(), jwtSecret) {
		t.Error("the JWT consumer's page shows a secret")
	}
	if s := b.text("consumer-auth-type"); s != "jwt" {
		t.Errorf("the new consumer's auth is %q, want jwt", s)
	}

	// On a phone's width the pages fit: nothing scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/connections", "/connections/" + cid, "/consumers", "/consumers/" + kid} {
		b.open(page(p))
		if w := b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`); len(strings.Fields(w)) != 2 || strings.Fields(w)[0] != strings.Fields(w)[1] {
			t.Errorf("%s on a phone: scroll width and viewport width are %s, want them equal", p, w)
		}
	}
	b.shot(shots, "consumer-phone.png")
	b.do("reset viewport", chromedp.EmulateReset())

	// A standard member sees the pages and may test, but no forms that
	// change credentials; a forged post is refused with the 403 page.
	const pw = "Tidal-Lantern-Quarry-42"
	std := inst.CreateUser(t, admin, "sam@example.com", pw, false)
	must(admin.Do(t, "POST", "/api/v1/projects/"+pid+"/members", map[string]any{"user_id": std, "role": "standard"}), http.StatusCreated, "member")
	b.submit("logout")
	b.login(base, "sam@example.com", pw)
	b.open(page("/connections"))
	if b.has("connection-form") || b.has("kind-form") {
		t.Error("a standard member sees the new-connection form")
	}
	b.open(page("/connections/" + cid))
	if b.has("connection-form") || b.has("delete-connection") || !b.has("test-connection") {
		t.Errorf("standard member's connection page: edit %v, delete %v, test %v; want test only",
			b.has("connection-form"), b.has("delete-connection"), b.has("test-connection"))
	}
	b.open(page("/consumers/" + kid))
	if b.has("delete-consumer") || b.has("rotate-secret") {
		t.Error("a standard member sees the consumer's delete or rotate buttons")
	}
	b.open(page("/consumers"))
	if b.has("consumer-form") {
		t.Error("a standard member sees the new-consumer form")
	}
	for _, action := range []string{"/connections/" + cid + "/delete", "/consumers/" + kid + "/delete", "/consumers/" + kid + "/secret"} {
		b.open(page("/connections"))
		if st := b.forgePost("/projects/" + pid + action); st != http.StatusForbidden {
			t.Errorf("a standard member's forged post to %s: status %d, want 403", action, st)
		}
		if e := b.text("error"); !strings.Contains(e, "standard") {
			t.Errorf("the refusal page for %s says %q", action, e)
		}
	}
	must(admin.Do(t, "GET", "/api/v1/projects/"+pid+"/connections/"+cid, nil), http.StatusOK, "connection after the forged delete")
	must(admin.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers/"+kid, nil), http.StatusOK, "consumer after the forged delete")
	b.checkClean()
}
