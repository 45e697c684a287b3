package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestTrustedProxies: X-Forwarded-For names the client only when the peer
// is a trusted proxy; otherwise the header is ignored. The client IP is what
// sessions and audit events record and what throttles count.
func TestTrustedProxies(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
		xff  string
	}{
		{"untrusted peer: header ignored", nil, "127.0.0.1", "203.0.113.9"},
		{"trusted proxy: client from header", []string{"--trusted-proxies", "127.0.0.0/8"}, "203.0.113.9", "198.51.100.1, 203.0.113.9"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inst := apptest.Start(t, apptest.Options{Args: tc.args})
			inst.Setup(t, "root@example.com", "correct horse battery staple")
			if r := inst.NewClient().Send(t, mkLogin(t, inst.URL, tc.xff)); r.Status != http.StatusUnauthorized {
				t.Fatalf("login with a wrong password: %d %s", r.Status, r.Body)
			}
			events, err := inst.App.Store.Reader().ListAuditEvents(context.Background(), store.AuditFilter{Action: "auth.login", Limit: 1})
			if err != nil || len(events) != 1 {
				t.Fatalf("audit events: %v, %v", events, err)
			}
			if events[0].IP != tc.want {
				t.Fatalf("recorded client IP %q, want %q", events[0].IP, tc.want)
			}
		})
	}
}

func mkLogin(t *testing.T, base, xff string) *http.Request {
	t.Helper()
	req, err := http.NewRequest("POST", base+"/api/v1/auth/login", strings.NewReader(`{"email":"root@example.com","password":"wrong wrong wrong"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", xff)
	return req
}
