package web_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// loopbackAllowed lets an instance's connections reach this machine, as
// --egress-allow does in development.
var loopbackAllowed = apptest.Options{Args: []string{"--egress-allow", "127.0.0.0/8"}}

// basicServer answers 200 to user:pass and 401 otherwise.
func basicServer(t *testing.T, user, pass string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="erp"`)
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func connPath(pid string, rest ...string) string {
	return "/api/v1/projects/" + pid + "/connections" + strings.Join(rest, "")
}

// TestConnectionSecretsAreWriteOnly: secrets go in, never come out; a
// change replaces or clears one secret without resending the others; and
// the database file and the log hold none of them in clear.
func TestConnectionSecretsAreWriteOnly(t *testing.T) {
	inst, ann := startAdmin(t, loopbackAllowed)
	bob := addPerson(t, inst, ann, "bob")
	cyd := addPerson(t, inst, ann, "cyd")
	pid := mustProject(t, bob.C, "Shop")
	mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
	const pass, pass2 = "Erp-Basic-Secret-4471", "Erp-Basic-Secret-9902"
	srv := basicServer(t, "svc", pass)

	r := bob.C.Do(t, "POST", connPath(pid), map[string]any{
		"name": "erp", "kind": "http",
		"settings": map[string]any{"base_url": srv.URL, "test": map[string]any{"path": "/health"}},
		"auth":     map[string]any{"type": "basic", "username": "svc", "password": pass},
	})
	wantStatus(t, r, 201, "create http connection")
	cid := r.String("id")
	if strings.Contains(string(r.Body), pass) || r.Get("auth.password") == nil || dig(r.Get("auth.password"), "set") != true {
		t.Fatalf("create answer shows or hides the secret wrongly: %s", r.Body)
	}
	for _, c := range []*apptest.Client{bob.C, cyd.C} {
		for _, path := range []string{connPath(pid), connPath(pid, "/", cid)} {
			r := c.Do(t, "GET", path, nil)
			wantStatus(t, r, 200, "read "+path)
			if strings.Contains(string(r.Body), pass) {
				t.Fatalf("%s shows the password: %s", path, r.Body)
			}
		}
	}
	d := cyd.C.Do(t, "POST", connPath(pid, "/", cid, "/test"), nil)
	if d.Status != 200 || d.Get("ok") != true || d.String("stage") != "http" {
		t.Fatalf("test with the right password: %d %s", d.Status, d.Body)
	}

	// Standard users read and test, but may not change credentials.
	wantStatus(t, cyd.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"password": "x"}}), 403, "standard changes a secret")
	wantStatus(t, cyd.C.Do(t, "DELETE", connPath(pid, "/", cid), nil), 403, "standard deletes")

	// Replace the password alone: the username stays.
	r = bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"password": pass2}})
	wantStatus(t, r, 200, "replace the password")
	if r.Get("auth.username") != "svc" || dig(r.Get("auth.password"), "set") != true {
		t.Fatalf("after replacing the password: %s", r.Body)
	}
	d = bob.C.Do(t, "POST", connPath(pid, "/", cid, "/test"), nil)
	if d.Get("ok") != false || d.String("stage") != "auth" || d.Get("status") != float64(401) || strings.Contains(string(d.Body), pass2) {
		t.Fatalf("test with a wrong password: %s", d.Body)
	}
	// Clear it.
	r = bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"password": nil}})
	wantStatus(t, r, 200, "clear the password")
	if r.Get("auth.password") != nil {
		t.Fatalf("a cleared secret still shows as set: %s", r.Body)
	}

	// The activity log names what changed, never a value.
	events := bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)
	if strings.Contains(string(events.Body), pass) || strings.Contains(string(events.Body), pass2) {
		t.Fatalf("the audit log holds a secret: %s", events.Body)
	}
	if !strings.Contains(string(events.Body), `"secrets_changed":["auth.password"]`) {
		t.Fatalf("the audit log does not say the password changed: %s", events.Body)
	}

	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{pass, pass2} {
		if strings.Contains(inst.Logs.String(), s) {
			t.Errorf("a connection secret reached the log")
		}
		for _, f := range []string{"sluice.db", "sluice.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(inst.Where), f))
			if strings.Contains(string(b), s) {
				t.Errorf("a connection secret is stored in clear in %s", f)
			}
		}
	}
}

// TestConnectionTests: each failing stage gets a diagnosis a user can act
// on, and no secret.
func TestConnectionTests(t *testing.T) {
	inst, ann := startAdmin(t, loopbackAllowed)
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsSrv.Close)
	cases := []struct {
		name  string
		body  map[string]any
		stage string
		ok    bool
	}{
		{"refused port", map[string]any{"kind": "http", "settings": map[string]any{"base_url": closedURL}}, "tcp", false},
		{"unknown certificate authority", map[string]any{"kind": "http", "settings": map[string]any{"base_url": tlsSrv.URL}}, "tls", false},
		{"http status", map[string]any{"kind": "http", "settings": map[string]any{"base_url": tlsSrv.URL, "tls": map[string]any{"insecure_skip_verify": true}}}, "http", false},
		{"metadata address", map[string]any{"kind": "http", "settings": map[string]any{"base_url": "http://169.254.169.254/latest"}}, "egress", false},
		{"postgres ok", map[string]any{"kind": "postgres", "settings": map[string]any{"host": "127.0.0.1", "database": "postgres", "user": "postgres", "sslmode": "disable"}}, "database", true},
		{"postgres unknown database", map[string]any{"kind": "postgres", "settings": map[string]any{"host": "127.0.0.1", "database": "no_such_db_x", "user": "postgres", "sslmode": "disable"}}, "database", false},
		{"mysql wrong password", map[string]any{"kind": "mysql", "settings": map[string]any{"host": "127.0.0.1", "database": "test", "user": "root", "tls": "false"},
			"secrets": map[string]any{"password": "Wrong-Db-Secret-311"}}, "auth", false},
		{"mysql ok", map[string]any{"kind": "mysql", "settings": map[string]any{"host": "127.0.0.1", "database": "test", "user": "root", "tls": "false"}}, "database", true},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := tc.body
			body["name"] = "c" + string(rune('a'+i))
			r := bob.C.Do(t, "POST", connPath(pid), body)
			wantStatus(t, r, 201, "create")
			d := bob.C.Do(t, "POST", connPath(pid, "/", r.String("id"), "/test"), nil)
			if d.Status != 200 || d.String("stage") != tc.stage || d.Get("ok") != tc.ok || d.String("message") == "" {
				t.Fatalf("diagnosis %s, want stage %s ok %v", d.Body, tc.stage, tc.ok)
			}
			if strings.Contains(string(d.Body), "Wrong-Db-Secret") {
				t.Fatalf("the diagnosis shows a secret: %s", d.Body)
			}
		})
	}
}

// TestConnectionValidation: every problem with its path; nothing saved.
func TestConnectionValidation(t *testing.T) {
	inst, ann := startAdmin(t, loopbackAllowed)
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	cases := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"unknown kind", map[string]any{"name": "x", "kind": "ftp"}, []string{"kind"}},
		{"no name", map[string]any{"kind": "http", "settings": map[string]any{"base_url": "https://a.example"}}, []string{"name"}},
		{"base url with credentials and a typo", map[string]any{"name": "x", "kind": "http",
			"settings": map[string]any{"base_url": "https://u:p@a.example", "timout": "3s"}}, []string{"settings.base_url", "settings.timout"}},
		{"credentials in plain headers", map[string]any{"name": "x", "kind": "http",
			"settings": map[string]any{"base_url": "https://a.example", "headers": map[string]any{"Authorization": "Bearer x", "X-Api-Key": "k", "Accept": "application/json"}}},
			[]string{"settings.headers.Authorization", "settings.headers.X-Api-Key"}},
		{"postgres port and missing user", map[string]any{"name": "x", "kind": "postgres",
			"settings": map[string]any{"host": "db", "database": "d", "port": 70000}}, []string{"settings.port", "settings.user"}},
		{"auth on a database", map[string]any{"name": "x", "kind": "mysql",
			"settings": map[string]any{"host": "db", "database": "d", "user": "u"}, "auth": map[string]any{"type": "basic"}}, []string{"auth"}},
		{"unknown secret", map[string]any{"name": "x", "kind": "postgres",
			"settings": map[string]any{"host": "db", "database": "d", "user": "u"}, "secrets": map[string]any{"passwd": "x"}}, []string{"secrets.passwd"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := bob.C.Do(t, "POST", connPath(pid), tc.body)
			wantError(t, r, 422, "invalid_field", tc.name)
			var got []string
			for _, d := range r.Get("error.details").([]any) {
				got = append(got, dig(d, "field").(string))
			}
			for _, f := range tc.fields {
				found := false
				for _, g := range got {
					found = found || g == f
				}
				if !found {
					t.Fatalf("problems %v do not name %s: %s", got, f, r.Body)
				}
			}
		})
	}
	if r := bob.C.Do(t, "GET", connPath(pid), nil); string(r.Body) != "{\"connections\":[]}\n" {
		t.Fatalf("a refused connection was saved: %s", r.Body)
	}
}

// TestConnectionAuthSwitch: another auth type drops the old scheme whole,
// secrets included; the same type keeps what is not sent; kind is fixed.
func TestConnectionAuthSwitch(t *testing.T) {
	inst, ann := startAdmin(t, loopbackAllowed)
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	r := bob.C.Do(t, "POST", connPath(pid), map[string]any{"name": "crm", "kind": "http",
		"settings": map[string]any{"base_url": "https://crm.example"},
		"auth":     map[string]any{"type": "basic", "username": "u", "password": "Switch-Secret-771"}})
	wantStatus(t, r, 201, "create")
	cid := r.String("id")
	r = bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"username": "v"}})
	if r.Status != 200 || r.Get("auth.username") != "v" || dig(r.Get("auth.password"), "set") != true {
		t.Fatalf("same type, new username: %s", r.Body)
	}
	r = bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"type": "bearer", "token": "Switch-Token-772"}})
	if r.Status != 200 || r.Get("auth.type") != "bearer" || r.Get("auth.password") != nil || r.Get("auth.username") != nil ||
		dig(r.Get("auth.token"), "set") != true {
		t.Fatalf("switch to bearer: %s", r.Body)
	}
	wantError(t, bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"kind": "postgres"}), 422, "invalid_field", "change kind")
	// An incomplete scheme is refused whole: bearer needs its token.
	wantError(t, bob.C.Do(t, "PATCH", connPath(pid, "/", cid), map[string]any{"auth": map[string]any{"token": nil}}), 422, "invalid_field", "clear the only secret")
}
