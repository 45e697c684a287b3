package web_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestConsoleForms: the console's form posts go through the same guard and
// the same error mapping as the API: throttling with Retry-After, Origin
// required, CSRF token required once logged in.
func TestConsoleForms(t *testing.T) {
	inst, _, _ := startWithUser(t, apptest.Options{})
	wrong := url.Values{"email": {userEmail}, "password": {"not the password at all"}}

	t.Run("throttled login page", func(t *testing.T) {
		c := inst.NewClient()
		var r *apptest.Response
		for i := 0; i < 6; i++ {
			r = c.Form(t, "/login", wrong)
		}
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("sixth wrong password through the form: %d, want 429", r.Status)
		}
		if s, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || s < 1 {
			t.Fatalf("Retry-After = %q, want seconds >= 1", r.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(r.Body), "too many failed login attempts") {
			t.Fatalf("the page does not say why: %s", r.Body)
		}
	})

	t.Run("form post without Origin", func(t *testing.T) {
		c := inst.NewClient()
		c.NoOrigin = true
		r := c.Form(t, "/login", url.Values{"email": {adminEmail}, "password": {adminPW}})
		if r.Status != http.StatusForbidden || c.Cookie("sluice_session") != "" {
			t.Fatalf("login form without Origin: %d, cookie %q; want 403 and no session", r.Status, c.Cookie("sluice_session"))
		}
	})

	t.Run("logout form needs the CSRF token", func(t *testing.T) {
		c := inst.NewClient()
		if r := c.Form(t, "/login", url.Values{"email": {adminEmail}, "password": {adminPW}}); r.Status != http.StatusSeeOther {
			t.Fatalf("login form: %d %s", r.Status, r.Body)
		}
		if r := c.Form(t, "/logout", url.Values{}); r.Status != http.StatusForbidden {
			t.Fatalf("logout form without csrf_token: %d, want 403", r.Status)
		}
		if r := c.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusOK {
			t.Fatalf("the session ended although the logout was refused: %d", r.Status)
		}
		csrf := c.Do(t, "GET", "/api/v1/me", nil).String("csrf_token")
		if r := c.Form(t, "/logout", url.Values{"csrf_token": {csrf}}); r.Status != http.StatusSeeOther {
			t.Fatalf("logout form with csrf_token: %d %s", r.Status, r.Body)
		}
		if r := c.Do(t, "GET", "/api/v1/me", nil); r.Status != http.StatusUnauthorized {
			t.Fatalf("after logout: %d, want 401", r.Status)
		}
	})
}
