package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
)

// TestSafeNext: a post-login redirect stays on this site whatever the
// link put in next; a path on this site keeps its query.
func TestSafeNext(t *testing.T) {
	cases := []struct{ name, next, want string }{
		{"empty", "", "/"},
		{"plain path", "/projects", "/projects"},
		{"path with query", "/projects/p1/runs?status=failed&flow=f1", "/projects/p1/runs?status=failed&flow=f1"},
		{"encoded query kept", "/projects/p1/runs?flow=a%26b", "/projects/p1/runs?flow=a%26b"},
		{"protocol-relative", "//evil.example", "/"},
		{"protocol-relative with path", "//evil.example/login", "/"},
		{"backslash after slash", `/\evil.example`, "/"},
		{"backslashes", `/\\evil.example`, "/"},
		{"backslash later in the path", `/a/..\..\/evil.example`, "/"},
		{"absolute https", "https://evil.example/", "/"},
		{"absolute http", "http://evil.example", "/"},
		{"javascript", "javascript:alert(1)", "/"},
		{"relative", "projects", "/"},
		{"encoded slashes", "/%2F%2Fevil.example", "/"},
		{"encoded slash then slash", "/%2F/evil.example", "/"},
		{"encoded backslash", "/%5Cevil.example", "/"},
		{"tab between slashes", "/\t/evil.example", "/"},
		{"newline between slashes", "/\n/evil.example", "/"},
		{"carriage return", "/\r/evil.example", "/"},
		{"nul", "/\x00/evil.example", "/"},
		{"user info", "//user@evil.example", "/"},
		{"too long", "/" + string(make([]byte, 2001)), "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := safeNext(tc.next); got != tc.want {
				t.Errorf("safeNext(%q) = %q, want %q", tc.next, got, tc.want)
			}
		})
	}
}

// TestSafeNextLocation: whatever safeNext lets through, the Location the
// redirect sends resolves, against this site, to this site. (The browser
// test checks the same with the browser's own URL parser.)
func TestSafeNextLocation(t *testing.T) {
	base, _ := url.Parse("https://sluice.example/login")
	for _, next := range []string{"/projects/p1/runs?status=failed", "/./evil.example", "/.//evil.example", "/a/../../evil.example",
		"//evil.example", `/\evil.example`, "/%2F%2Fevil.example", "https://evil.example", "/\t/evil.example", "/;/evil.example"} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "https://sluice.example/login", nil)
		http.Redirect(rec, req, safeNext(next), http.StatusSeeOther)
		loc := rec.Header().Get("Location")
		u, err := base.Parse(loc)
		if err != nil {
			t.Errorf("next %q: Location %q does not parse: %v", next, loc, err)
			continue
		}
		if u.Host != "sluice.example" || u.Scheme != "https" {
			t.Errorf("next %q: Location %q leads to %s://%s", next, loc, u.Scheme, u.Host)
		}
	}
}
