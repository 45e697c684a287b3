package web_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// TestFailedLoginBurst: failed logins that arrive all at once cannot get
// past the per-IP throttle by being checked before any of them failed.
// argon2id runs in a bounded number of slots, and the throttle is asked
// again once an attempt holds one, so at most limit + slots - 1 attempts
// are ever verified.
func TestFailedLoginBurst(t *testing.T) {
	const slots, burst, ipLimit = 2, 60, 20
	inst, _ := startAdmin(t, apptest.Options{Account: account.Config{MaxConcurrentHashes: slots}})
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			status, err := postStatus(inst.NewClient(), "POST", "/api/v1/auth/login",
				map[string]any{"email": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong password here"})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			counts[status]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if counts[401]+counts[429] != burst {
		t.Fatalf("answers %v: every attempt must be 401 or 429", counts)
	}
	if counts[401] > ipLimit+slots-1 || counts[401] < ipLimit {
		t.Fatalf("%d attempts were verified (401), want between %d and %d; answers %v", counts[401], ipLimit, ipLimit+slots-1, counts)
	}
}
