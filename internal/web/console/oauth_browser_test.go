package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestOAuthConnectInBrowser: an authorization-code connection shows a
// Connect button; pressing it sends the browser to the authorization
// server, which sends it back to the console's callback; the consent is
// stored, and the connection's test then reaches the API with the token
// it got. A standard member sees no button.
func TestOAuthConnectInBrowser(t *testing.T) {
	t.Parallel()
	const accessToken = "at-5f1c0e-consented"
	as := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/authorize": // the user consents at once
			q := r.URL.Query()
			back, err := url.Parse(q.Get("redirect_uri"))
			if err != nil || q.Get("response_type") != "code" || q.Get("client_id") != "sluice" || q.Get("code_challenge") == "" {
				http.Error(w, "bad authorization request", http.StatusBadRequest)
				return
			}
			back.RawQuery = url.Values{"code": {"c0de-1"}, "state": {q.Get("state")}}.Encode()
			http.Redirect(w, r, back.String(), http.StatusFound)
		case "/token":
			if err := r.ParseForm(); err != nil {
				http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
				return
			}
			refresh := r.PostForm.Get("grant_type") == "refresh_token" && r.PostForm.Get("refresh_token") == "rt-1"
			if !refresh && (r.PostForm.Get("code") != "c0de-1" || r.PostForm.Get("code_verifier") == "") {
				http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": accessToken, "token_type": "Bearer", "refresh_token": "rt-1", "expires_in": 3600})
		case "/v1/resource":
			if r.Header.Get("Authorization") != "Bearer "+accessToken {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.WriteHeader(http.StatusNoContent)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(as.Close)

	inst, b, api := adminInBrowser(t, apptest.Options{RealClock: true, Args: []string{"--egress-allow", "127.0.0.0/8"}})
	base := inst.URL
	pid := api.Do(t, "POST", "/api/v1/projects", map[string]any{"name": "Shop"}).String("id")
	r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "shop", "kind": "http",
		"settings": map[string]any{"base_url": as.URL + "/v1", "test": map[string]any{"path": "/resource"}},
		"auth": map[string]any{"type": "oauth2", "grant": "authorization_code", "auth_url": as.URL + "/authorize",
			"token_url": as.URL + "/token", "client_id": "sluice", "client_secret": "cs-1", "scopes": []string{"read"}}})
	if r.Status != http.StatusCreated {
		t.Fatalf("create connection: %d %s", r.Status, r.Body)
	}
	connPage := base + "/projects/" + pid + "/connections/" + r.String("id")

	b.open(connPage)
	if st := b.submit("oauth-connect"); st != http.StatusOK || !b.has("oauth-continue") {
		t.Fatalf("connect: status %d; page:\n%s", st, b.bodyText())
	}
	if st := b.submit("oauth-continue"); st != http.StatusOK {
		t.Fatalf("continue to the authorization server: status %d; page:\n%s", st, b.bodyText())
	}
	if p := b.path(base); !strings.HasPrefix(p, "/projects/"+pid+"/connections/") || !strings.Contains(p, "notice=connected") {
		t.Fatalf("after consent the browser is on %q", p)
	}
	if st := b.submit("test-connection"); st != http.StatusOK || b.text("diag-result") != "ok" {
		t.Fatalf("test after consent: %d\n%s", st, b.bodyText())
	}
	if strings.Contains(b.eval("html", `document.documentElement.outerHTML`), accessToken) {
		t.Error("the page shows the access token")
	}

	// A standard member sees no Connect button.
	sam := inst.CreateUser(t, api, "sam@example.com", "sam-password-long-enough", false)
	if g := api.Do(t, "POST", "/api/v1/projects/"+pid+"/members", map[string]any{"user_id": sam, "role": "standard"}); g.Status != http.StatusCreated {
		t.Fatalf("grant: %d %s", g.Status, g.Body)
	}
	b2 := newBrowser(t)
	b2.open(base + "/login")
	b2.typeInto("email", "sam@example.com")
	b2.typeInto("password", "sam-password-long-enough")
	b2.submit("submit")
	b2.open(connPage)
	if b2.has("oauth-connect") {
		t.Error("a standard member sees the Connect button")
	}
}

// TestConsumerEditInBrowser: the owner changes a consumer's flows, allowed
// addresses and rate from its page; a bad range is refused next to its
// field and changes nothing.
func TestConsumerEditInBrowser(t *testing.T) {
	t.Parallel()
	inst, b, api := adminInBrowser(t, apptest.Options{})
	base := inst.URL
	pid, pipe := newPipe(t, api, "calls")
	mk := func(name string) string {
		r := api.Do(t, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": map[string]any{
			"name": name, "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}}, "entity_id": ".id",
			"steps": []any{map[string]any{"respond": "{ok: true}"}}}})
		if r.Status != http.StatusCreated {
			t.Fatalf("flow %s: %d %s", name, r.Status, r.Body)
		}
		return r.String("id")
	}
	f1, f2 := mk("take-order"), mk("cancel-order")
	cr := api.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "shop", "flows": []string{f1}, "auth": map[string]any{"type": "basic"}})
	if cr.Status != http.StatusCreated {
		t.Fatalf("consumer: %d %s", cr.Status, cr.Body)
	}
	page := base + "/projects/" + pid + "/consumers/" + cr.String("id")

	b.open(page)
	b.eval("open the form", `document.getElementById("consumer-edit").closest("details").open = true;
		document.getElementById("edit-flow-`+f2+`").checked = true; "ok"`)
	b.typeInto("edit-allowed-ips", "not-a-range")
	if st := b.submit("save-consumer"); st != http.StatusUnprocessableEntity || !b.has("error-edit-allowed_ips") {
		t.Fatalf("bad range: status %d\n%s", st, b.bodyText())
	}
	if got := api.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers/"+cr.String("id"), nil); len(got.Get("flows").([]any)) != 1 {
		t.Fatalf("a refused save changed the consumer: %s", got.Body)
	}
	b.typeInto("edit-allowed-ips", "203.0.113.0/24")
	b.typeInto("edit-rate", "5")
	if st := b.submit("save-consumer"); st != http.StatusOK || !strings.Contains(b.bodyText(), "changes are saved") {
		t.Fatalf("save: status %d\n%s", st, b.bodyText())
	}
	got := api.Do(t, "GET", "/api/v1/projects/"+pid+"/consumers/"+cr.String("id"), nil)
	if len(got.Get("flows").([]any)) != 2 || !strings.Contains(string(got.Body), "203.0.113.0/24") || got.Get("rate_limit.per_second") != float64(5) {
		t.Errorf("consumer after the change: %s", got.Body)
	}
}
