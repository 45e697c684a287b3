package web_test

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestSetupRace: many setups racing with the printed token create exactly
// one account; the rest are told setup is complete.
func TestSetupRace(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst := apptest.Start(t, apptest.Options{Dialect: d})
		token := inst.SetupToken(t)
		const n = 8
		statuses, errs := make([]int, n), make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			c := inst.NewClient()
			wg.Go(func() {
				statuses[i], errs[i] = postStatus(c, "POST", "/api/v1/setup", map[string]any{"token": token,
					"email": fmt.Sprintf("admin%d@example.com", i), "password": adminPW, "name": "Admin"})
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		created := 0
		for i, s := range statuses {
			switch s {
			case http.StatusCreated:
				created++
			case http.StatusConflict, http.StatusForbidden:
			default:
				t.Errorf("setup %d: status %d", i, s)
			}
		}
		if users := snap(t, inst).Users; created != 1 || users != 1 {
			t.Fatalf("%d setups succeeded and %d users exist, want exactly 1 (statuses %v)", created, users, statuses)
		}
	})
}

// TestLastAdminRace: two admins disabling each other at the same moment
// cannot leave the instance without an active administrator.
func TestLastAdminRace(t *testing.T) {
	t.Parallel()
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		for round := range 5 {
			inst, ann := startAdmin(t, apptest.Options{Dialect: d})
			annID := ann.Do(t, "GET", "/api/v1/me", nil).String("user.id")
			cydID := inst.CreateUser(t, ann, otherEmail, otherPW, true)
			cyd := inst.Login(t, otherEmail, otherPW)
			var wg sync.WaitGroup
			var s1, s2 int
			var e1, e2 error
			wg.Go(func() { s1, e1 = postStatus(ann, "PATCH", "/api/v1/users/"+cydID, map[string]any{"disabled": true}) })
			wg.Go(func() { s2, e2 = postStatus(cyd, "PATCH", "/api/v1/users/"+annID, map[string]any{"disabled": true}) })
			wg.Wait()
			if err := errors.Join(e1, e2); err != nil {
				t.Fatal(err)
			}
			n, err := inst.App.Store.Reader().CountActiveAdmins(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			if n < 1 {
				t.Fatalf("round %d: no active admin left (statuses %d, %d)", round, s1, s2)
			}
		}
	})
}
