package web_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

func consumerPath(pid string, rest ...string) string {
	return "/api/v1/projects/" + pid + "/consumers" + strings.Join(rest, "")
}

// TestConsumersAPI: a consumer is created with every problem of a bad
// request listed (422, nothing stored); a Basic consumer's generated secret
// is in the create and rotation answers only; a JWT secret is write-only;
// and the database file and the log never hold a secret in clear.
func TestConsumersAPI(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	bob := addPerson(t, inst, ann, "bob")
	pid := mustProject(t, bob.C, "Shop")
	pipe := mustPipe(t, bob.C, pid, "orders")
	r := bob.C.Do(t, "POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("create order")})
	wantStatus(t, r, http.StatusCreated, "create flow")
	flow := r.String("id")

	r = bob.C.Do(t, "POST", consumerPath(pid), map[string]any{"name": "", "flows": []string{"not-a-flow"}, "allowed_ips": []string{"10.1.2.3/8"},
		"auth": map[string]any{"type": "jwt", "algorithms": []string{"none"}}})
	wantStatus(t, r, http.StatusUnprocessableEntity, "bad consumer")
	for _, field := range []string{"name", "auth.algorithms[0]", "allowed_ips[0]", "flows[0]"} {
		if !strings.Contains(string(r.Body), `"`+field+`"`) {
			t.Errorf("the 422 does not name %s: %s", field, r.Body)
		}
	}
	r = bob.C.Do(t, "GET", consumerPath(pid), nil)
	wantStatus(t, r, http.StatusOK, "list")
	if strings.Contains(string(r.Body), `"id"`) {
		t.Fatalf("a refused create stored a consumer: %s", r.Body)
	}

	r = bob.C.Do(t, "POST", consumerPath(pid), map[string]any{"name": "erp", "flows": []string{flow}, "auth": map[string]any{"type": "basic"},
		"rate_limit": map[string]any{"per_second": 5, "burst": 10}})
	wantStatus(t, r, http.StatusCreated, "create basic consumer")
	basicID, secret, user := r.String("id"), r.String("secret"), r.String("auth.username")
	if len(secret) < 22 || !strings.HasPrefix(user, "sc-") || r.Get("rate_limit.burst") != float64(10) {
		t.Fatalf("create answer: %s", r.Body)
	}
	r = bob.C.Do(t, "GET", consumerPath(pid, "/", basicID), nil)
	wantStatus(t, r, http.StatusOK, "get")
	if strings.Contains(string(r.Body), secret) || r.Get("auth.secret.set") != true {
		t.Fatalf("get shows the secret or hides that it is set: %s", r.Body)
	}
	r = bob.C.Do(t, "POST", consumerPath(pid, "/", basicID, "/secret"), nil)
	wantStatus(t, r, http.StatusOK, "rotate")
	rotated := r.String("secret")
	if rotated == "" || rotated == secret {
		t.Fatalf("rotation: %s", r.Body)
	}

	const jwtSecret = "Consumer-JWT-Secret-0123456789-abcdef"
	r = bob.C.Do(t, "POST", consumerPath(pid), map[string]any{"name": "shop", "flows": []string{flow},
		"auth": map[string]any{"type": "jwt", "algorithms": []string{"HS256"}, "secret": jwtSecret, "issuer": "shop"}})
	wantStatus(t, r, http.StatusCreated, "create jwt consumer")
	if strings.Contains(string(r.Body), jwtSecret) || r.Get("secret") != nil || r.Get("auth.secret.set") != true {
		t.Fatalf("a JWT secret came back: %s", r.Body)
	}
	jwtID := r.String("id")
	r = bob.C.Do(t, "POST", consumerPath(pid, "/", jwtID, "/secret"), nil)
	wantStatus(t, r, http.StatusUnprocessableEntity, "rotate a JWT consumer")
	r = bob.C.Do(t, "PATCH", consumerPath(pid, "/", jwtID), map[string]any{"name": "shop"})
	wantStatus(t, r, http.StatusOK, "patch with the same name")
	r = bob.C.Do(t, "POST", consumerPath(pid), map[string]any{"name": "shop", "auth": map[string]any{"type": "basic"}})
	wantStatus(t, r, http.StatusConflict, "a taken name")
	r = bob.C.Do(t, "DELETE", consumerPath(pid, "/", jwtID), nil)
	wantStatus(t, r, http.StatusNoContent, "delete")

	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{secret, rotated, jwtSecret} {
		if strings.Contains(inst.Logs.String(), s) {
			t.Errorf("the log holds a consumer secret")
		}
		for _, f := range []string{"sluice.db", "sluice.db-wal"} {
			b, _ := os.ReadFile(filepath.Join(filepath.Dir(inst.Where), f))
			if strings.Contains(string(b), s) {
				t.Errorf("a consumer secret is stored in clear in %s", f)
			}
		}
	}
}
