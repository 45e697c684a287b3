package console_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// jwtSecret is the HS256 key typed into the create form.
const jwtSecret = "a-shared-jwt-secret-of-more-than-32-bytes"

// TestConsumerAuthSettingsInBrowser: the owner creates a JWT consumer
// through the form, changes its issuer and audience on its page, and a
// token with the new ones is let through while one with the old issuer
// gets 401; a JWKS URL that is not https is refused beside its field and
// changes nothing. A standard member sees the settings and no form. An
// HMAC consumer made through the form gets a generated secret, shown once
// with a curl call that signs correctly.
func TestConsumerAuthSettingsInBrowser(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	b := newBrowser(t)
	base := inst.URL
	shots := shotsDir(t)
	setupInBrowser(t, b, inst)
	api := inst.Login(t, adminEmail, adminPassword)
	must := func(r *apptest.Response, status int, what string) *apptest.Response {
		t.Helper()
		if r.Status != status {
			t.Fatalf("%s: status %d, want %d; %s", what, r.Status, status, r.Body)
		}
		return r
	}
	pid := must(api.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"}), http.StatusCreated, "project").String("id")
	pipe := must(api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": "calls"}), http.StatusCreated, "pipe").String("id")
	flow := must(api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": map[string]any{
		"name": "ping", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}}, "entity_id": ".id",
		"steps": []any{map[string]any{"map": "{id, twice: ((.n // 0) * 2)}"}, map[string]any{"respond": "{id, twice}"}}}}),
		http.StatusCreated, "flow").String("id")
	must(api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows/"+flow+"/enable", nil), http.StatusOK, "enable")
	callPath := "/call/" + pid + "/" + flow
	caller := inst.NewClient()
	caller.NoOrigin = true
	call := func(body []byte, headers map[string]string) *apptest.Response {
		t.Helper()
		req, err := http.NewRequest("POST", base+callPath, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return caller.Send(t, req)
	}
	mint := func(iss, aud string) map[string]string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": iss, "aud": aud, "iat": time.Now().Unix(),
			"exp": time.Now().Add(5 * time.Minute).Unix()}).SignedString([]byte(jwtSecret))
		if err != nil {
			t.Fatal(err)
		}
		return map[string]string{"Authorization": "Bearer " + tok}
	}
	consumerID := func(name string) string {
		t.Helper()
		list, _ := must(api.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers", nil), http.StatusOK, "list").Get("consumers").([]any)
		for _, c := range list {
			c, _ := c.(map[string]any)
			if c["name"] == name {
				id, _ := c["id"].(string)
				return id
			}
		}
		t.Fatalf("no consumer %q", name)
		return ""
	}
	consumerAPI := func(id string) *apptest.Response {
		return must(api.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers/"+id, nil), http.StatusOK, "read consumer")
	}

	// A JWT consumer through the create form.
	b.open(base + "/projects/" + pid + "/consumers")
	b.typeInto("consumer-name", "erp")
	b.do("choose flow, JWT and HS256", chromedp.Click(chromedp.ID("flow-"+flow)), chromedp.Click(chromedp.ID("auth-jwt")), chromedp.Click(chromedp.ID("alg-HS256")))
	b.typeInto("jwt-secret", jwtSecret)
	b.typeInto("jwt-issuer", "erp-old")
	b.typeInto("jwt-audience", "sluice-old")
	b.typeInto("jwt-max-age", "600")
	if st := b.submit("create-consumer"); st != http.StatusOK {
		t.Fatalf("create the JWT consumer: status %d\n%s", st, b.bodyText())
	}
	if strings.Contains(b.html(), jwtSecret) {
		t.Fatal("the page shows the JWT secret that was typed")
	}
	jid := consumerID("erp")
	if got := consumerAPI(jid); got.String("auth.issuer") != "erp-old" || got.Get("auth.max_age_seconds") != float64(600) {
		t.Fatalf("the created consumer: %s", got.Body)
	}
	if r := call([]byte(`{"id": 1, "n": 2}`), mint("erp-old", "sluice-old")); r.Status != http.StatusOK {
		t.Fatalf("a token for the created consumer: %d %s", r.Status, r.Body)
	}

	// Change issuer and audience on its page; the secret field is left
	// empty, so the secret is kept.
	page := base + "/projects/" + pid + "/consumers/" + jid
	b.open(page)
	if b.text("consumer-issuer") != "erp-old" || b.text("consumer-audience") != "sluice-old" {
		t.Errorf("the page shows issuer %q and audience %q", b.text("consumer-issuer"), b.text("consumer-audience"))
	}
	b.do("open the auth form", chromedp.Click(chromedp.CSS("#auth-details > summary")), chromedp.WaitVisible(chromedp.ID("edit-auth-issuer")))
	if v := b.eval("issuer field", `document.getElementById('edit-auth-issuer').value`); v != "erp-old" {
		t.Errorf("the issuer field holds %q, want the stored erp-old", v)
	}
	if v := b.eval("HS256 box", `String(document.getElementById('edit-alg-HS256').checked)`); v != "true" {
		t.Error("the HS256 box is not ticked on the auth form")
	}
	if v := b.eval("secret field", `document.getElementById('edit-auth-secret').value`); v != "" {
		t.Errorf("the secret field holds %q, want it empty", v)
	}
	b.typeInto("edit-auth-issuer", "erp")
	b.typeInto("edit-auth-audience", "sluice")
	if st := b.submit("save-auth"); st != http.StatusOK {
		t.Fatalf("save the auth settings: status %d\n%s", st, b.bodyText())
	}
	b.expectPage(base, "/projects/"+pid+"/consumers/"+jid+"?notice=auth-saved")
	if b.text("consumer-issuer") != "erp" || b.text("consumer-audience") != "sluice" || b.text("consumer-max-age") != "600 seconds" {
		t.Errorf("after the save the page shows issuer %q, audience %q, max age %q", b.text("consumer-issuer"), b.text("consumer-audience"), b.text("consumer-max-age"))
	}
	b.shot(shots, "consumer-jwt.png")
	r := call([]byte(`{"id": 2, "n": 21}`), mint("erp", "sluice"))
	if r.Status != http.StatusOK || r.Get("twice") != float64(42) {
		t.Fatalf("a token with the new issuer and audience: %d %s", r.Status, r.Body)
	}
	if r := call([]byte(`{"id": 3, "n": 1}`), mint("erp-old", "sluice")); r.Status != http.StatusUnauthorized {
		t.Errorf("a token with the old issuer: %d %s, want 401", r.Status, r.Body)
	}
	if r := call([]byte(`{"id": 3, "n": 1}`), mint("erp", "sluice-old")); r.Status != http.StatusUnauthorized {
		t.Errorf("a token with the old audience: %d %s, want 401", r.Status, r.Body)
	}

	// A JWKS URL that is not https: the problem beside the field, the
	// typed values kept, nothing changed.
	before := string(consumerAPI(jid).Body)
	b.do("open the auth form", chromedp.Click(chromedp.CSS("#auth-details > summary")), chromedp.WaitVisible(chromedp.ID("edit-auth-jwks")))
	b.do("switch to RS256", chromedp.Click(chromedp.ID("edit-alg-HS256")), chromedp.Click(chromedp.ID("edit-alg-RS256")))
	b.typeInto("edit-auth-jwks", "http://idp.example/jwks.json")
	b.typeInto("edit-auth-issuer", "someone-else")
	if st := b.submit("save-auth"); st != http.StatusUnprocessableEntity {
		t.Errorf("a JWKS URL over http: status %d, want 422", st)
	}
	if s := b.text("error-edit-auth-jwks_url"); !strings.HasPrefix(s, "JWKS URL") || !strings.Contains(s, "https://") {
		t.Errorf("a JWKS URL over http: the field says %q", s)
	}
	if b.has("error-edit-auth-public_key") || b.has("error-edit-auth-secret") {
		t.Errorf("other fields blamed for the JWKS URL:\n%s", b.bodyText())
	}
	if v := b.eval("kept JWKS URL", `document.getElementById('edit-auth-jwks').value`); v != "http://idp.example/jwks.json" {
		t.Errorf("after the refusal the JWKS field holds %q", v)
	}
	if v := b.eval("form open", `String(document.getElementById('auth-details').open)`); v != "true" {
		t.Error("the refused form is shown closed")
	}
	b.shot(shots, "consumer-jwks-problem.png")
	if after := string(consumerAPI(jid).Body); after != before {
		t.Errorf("a refused change changed the consumer:\nbefore %s\nafter  %s", before, after)
	}
	if r := call([]byte(`{"id": 4, "n": 1}`), mint("erp", "sluice")); r.Status != http.StatusOK {
		t.Errorf("after the refused change a good token gets %d %s", r.Status, r.Body)
	}

	// An HMAC consumer, generic style, with a generated secret.
	b.open(base + "/projects/" + pid + "/consumers")
	b.typeInto("consumer-name", "webhooks")
	b.do("choose flow and HMAC", chromedp.Click(chromedp.ID("flow-"+flow)), chromedp.Click(chromedp.ID("auth-hmac")),
		chromedp.SetValue(chromedp.ID("hmac-style"), "generic"))
	b.typeInto("hmac-header", "X-Signature")
	b.typeInto("hmac-ts-header", "X-Timestamp")
	if st := b.submit("create-consumer"); st != http.StatusOK {
		t.Fatalf("create the HMAC consumer: status %d\n%s", st, b.bodyText())
	}
	secret := b.text("consumer-secret")
	if len(secret) < 32 {
		t.Fatalf("the generated HMAC secret shown is %q", secret)
	}
	curl := b.text("curl-0")
	if !strings.Contains(curl, "X-Signature") || !strings.Contains(curl, "X-Timestamp") || !strings.Contains(curl, callPath) {
		t.Errorf("the curl example is %q", curl)
	}
	b.shot(shots, "consumer-hmac-secret.png")
	hid := consumerID("webhooks")
	sign := func(key, ts string, body []byte) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write([]byte(ts + "."))
		m.Write(body)
		return hex.EncodeToString(m.Sum(nil))
	}
	body := []byte(`{"id": 5, "n": 4}`)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	r = call(body, map[string]string{"X-Timestamp": ts, "X-Signature": sign(secret, ts, body)})
	if r.Status != http.StatusOK || r.Get("twice") != float64(8) {
		t.Fatalf("a correctly signed call: %d %s", r.Status, r.Body)
	}
	if r := call([]byte(`{"id": 5, "n": 5}`), map[string]string{"X-Timestamp": ts, "X-Signature": sign(secret, ts, body)}); r.Status != http.StatusUnauthorized {
		t.Errorf("a body changed after signing: %d %s, want 401", r.Status, r.Body)
	}
	// The curl example shown, run as a user would paste it.
	if strings.HasPrefix(base, "http://") {
		if _, err := exec.LookPath("openssl"); err == nil {
			if _, err := exec.LookPath("curl"); err == nil {
				out, err := exec.Command("bash", "-c", curl+" -sS -w ' %{http_code}'").CombinedOutput()
				if err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), " 200") || !strings.Contains(string(out), `"twice":0`) {
					t.Errorf("the curl example shown failed: %v\n%s", err, out)
				}
			}
		}
	}

	// Change the HMAC skew on its page; the secret is kept.
	b.open(base + "/projects/" + pid + "/consumers/" + hid)
	if b.text("consumer-style") != "generic" || b.text("consumer-header") != "X-Signature" || b.text("consumer-skew") != "300 seconds" {
		t.Errorf("the HMAC consumer's page shows %q", b.text("consumer-facts"))
	}
	b.do("open the auth form", chromedp.Click(chromedp.CSS("#auth-details > summary")), chromedp.WaitVisible(chromedp.ID("edit-auth-skew")))
	b.typeInto("edit-auth-skew", "4000")
	if st := b.submit("save-auth"); st != http.StatusUnprocessableEntity || !strings.Contains(b.text("error-edit-auth-max_skew_seconds"), "3600") {
		t.Errorf("a skew over an hour: status %d\n%s", st, b.bodyText())
	}
	b.typeInto("edit-auth-skew", "600")
	if st := b.submit("save-auth"); st != http.StatusOK {
		t.Fatalf("save the HMAC settings: status %d\n%s", st, b.bodyText())
	}
	if got := consumerAPI(hid); got.Get("auth.max_skew_seconds") != float64(600) || got.String("auth.header") != "X-Signature" {
		t.Errorf("after the save the consumer is %s", got.Body)
	}
	ts = strconv.FormatInt(time.Now().Unix(), 10)
	if r := call(body, map[string]string{"X-Timestamp": ts, "X-Signature": sign(secret, ts, body)}); r.Status != http.StatusOK {
		t.Errorf("after the save the generated secret no longer signs: %d %s", r.Status, r.Body)
	}

	// Both forms read on a phone: nothing scrolls sideways.
	b.do("phone viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for _, p := range []string{"/consumers/" + hid, "/consumers/" + jid, "/consumers"} {
		b.open(base + "/projects/" + pid + p)
		b.eval("open the forms", `document.querySelectorAll('details').forEach(function (d) { d.open = true; }); "ok"`)
		if ws := strings.Fields(b.eval("widths", `document.documentElement.scrollWidth + " " + document.documentElement.clientWidth`)); len(ws) != 2 || ws[0] != ws[1] {
			t.Errorf("%s on a phone: scroll width and viewport width are %v, want them equal", p, ws)
		}
	}
	b.shot(shots, "consumers-phone.png")
	b.do("reset viewport", chromedp.EmulateReset())

	// A standard member sees the settings, not the form; a forged post
	// is refused and changes nothing.
	const pw = "Tidal-Lantern-Quarry-42"
	sam := inst.CreateUser(t, api, "sam@example.com", pw, false)
	must(api.Do(t, "POST", "/api/v1/projects/"+pid+"/members", map[string]any{"user_id": sam, "role": "standard"}), http.StatusCreated, "grant sam")
	b.submit("logout")
	b.login(base, "sam@example.com", pw)
	b.open(page)
	if b.text("consumer-issuer") != "erp" || b.text("consumer-algorithms") != "HS256" {
		t.Errorf("the standard member sees issuer %q, algorithms %q", b.text("consumer-issuer"), b.text("consumer-algorithms"))
	}
	if b.has("consumer-auth-edit") || b.has("auth-details") {
		t.Error("the standard member sees the form to change the auth settings")
	}
	before = string(consumerAPI(jid).Body)
	if st := b.forgeWith("/projects/"+pid+"/consumers/"+jid+"/auth", url.Values{"auth.algorithms": {"HS256"}, "auth.issuer": {"sam"}}); st != http.StatusForbidden {
		t.Errorf("a standard member's forged auth change: status %d, want 403", st)
	}
	if after := string(consumerAPI(jid).Body); after != before {
		t.Errorf("the forged post changed the consumer: %s", after)
	}
}
