package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock, so no test sleeps.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// failN records n failures for key.
func failN(th *Throttle, key string, n int) {
	for range n {
		th.Fail(key)
	}
}

// wantAllow asserts Allow's answer for key.
func wantAllow(t *testing.T, th *Throttle, key string, ok bool, retry time.Duration) {
	t.Helper()
	gotOK, gotRetry := th.Allow(key)
	if gotOK != ok || gotRetry != retry {
		t.Fatalf("Allow(%q) = %v, %v; want %v, %v", key, gotOK, gotRetry, ok, retry)
	}
}

func TestThrottleLocksAtLimit(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(5, time.Minute, time.Hour, clock.now) // first lockout 12s
	wantAllow(t, th, "a", true, 0)
	failN(th, "a", 4)
	wantAllow(t, th, "a", true, 0)
	th.Fail("a")
	wantAllow(t, th, "a", false, 12*time.Second)
	wantAllow(t, th, "b", true, 0)
	clock.advance(11 * time.Second)
	wantAllow(t, th, "a", false, time.Second)
	clock.advance(time.Second)
	wantAllow(t, th, "a", true, 0)
}

func TestThrottleWindowResets(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(5, time.Minute, time.Hour, clock.now)
	failN(th, "a", 4)
	clock.advance(time.Minute)
	failN(th, "a", 4) // a new window: 4 failures, still under the limit
	wantAllow(t, th, "a", true, 0)
	th.Fail("a")
	wantAllow(t, th, "a", false, 12*time.Second)
}

func TestThrottleEscalates(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(5, time.Minute, 100*time.Second, clock.now)
	for i, want := range []time.Duration{12, 24, 48, 96, 100, 100} {
		failN(th, "a", 5)
		wantAllow(t, th, "a", false, want*time.Second)
		if i == 0 {
			// Failures while locked out neither extend nor count.
			failN(th, "a", 10)
			wantAllow(t, th, "a", false, want*time.Second)
		}
		clock.advance(want * time.Second)
		wantAllow(t, th, "a", true, 0)
	}
}

func TestThrottleEscalationDecays(t *testing.T) {
	tests := []struct {
		name  string
		quiet time.Duration // after the first lockout ends
		want  time.Duration // second lockout
	}{
		{"soon after", time.Minute, 24 * time.Second},
		{"just before max lockout", 99 * time.Second, 24 * time.Second},
		{"after max lockout", 100 * time.Second, 12 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			th := NewThrottle(5, time.Minute, 100*time.Second, clock.now)
			failN(th, "a", 5)
			clock.advance(12*time.Second + tt.quiet)
			failN(th, "a", 5)
			wantAllow(t, th, "a", false, tt.want)
		})
	}
}

func TestThrottleReset(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(3, time.Minute, time.Hour, clock.now) // first lockout 20s
	failN(th, "a", 3)
	failN(th, "b", 3)
	th.Reset("a")
	wantAllow(t, th, "a", true, 0)
	wantAllow(t, th, "b", false, 20*time.Second)
	failN(th, "a", 3) // escalation was forgotten too
	wantAllow(t, th, "a", false, 20*time.Second)
	th.Reset("never seen")
}

func TestNewThrottleBounds(t *testing.T) {
	tests := []struct {
		name       string
		limit      int
		window     time.Duration
		maxLockout time.Duration
		failures   int
		want       time.Duration
	}{
		{"first lockout at least 1s", 100, 10 * time.Second, time.Hour, 100, time.Second},
		{"limit 0 means 1", 0, time.Minute, time.Hour, 1, time.Minute},
		{"negative limit means 1", -3, time.Minute, time.Hour, 1, time.Minute},
		{"zero window means 1s", 1, 0, time.Hour, 1, time.Second},
		{"max lockout raised to first", 2, time.Minute, time.Second, 2, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock()
			th := NewThrottle(tt.limit, tt.window, tt.maxLockout, clock.now)
			failN(th, "a", tt.failures-1)
			if tt.failures > 1 {
				wantAllow(t, th, "a", true, 0)
			}
			th.Fail("a")
			wantAllow(t, th, "a", false, tt.want)
		})
	}
}

func TestThrottleRealClock(t *testing.T) {
	th := NewThrottle(2, time.Hour, time.Hour, nil)
	th.Fail("a")
	if ok, _ := th.Allow("a"); !ok {
		t.Fatal("locked out below the limit")
	}
	th.Fail("a")
	if ok, retry := th.Allow("a"); ok || retry <= 0 {
		t.Fatalf("Allow = %v, %v; want locked out", ok, retry)
	}
}

func TestThrottleSweepsExpired(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(5, time.Minute, time.Hour, clock.now)
	for i := range 1000 {
		th.Fail(fmt.Sprint("old", i))
	}
	failN(th, "locked", 5) // locked out: kept through the sweep
	clock.advance(2 * time.Minute)
	const fresh = sweepEvery - 1000 - 5 - 1 // failures left before the sweeping one
	for i := range fresh {
		th.Fail(fmt.Sprint("new", i))
	}
	if got, want := th.len(), 1000+1+fresh; got != want {
		t.Fatalf("before the sweep: %d keys; want %d", got, want)
	}
	th.Fail("trigger") // the sweepEvery-th failure sweeps
	if got, want := th.len(), 1+fresh+1; got != want {
		t.Fatalf("after the sweep: %d keys; want %d", got, want)
	}
	// Its lockout is over, but it is kept for escalation within maxLockout.
	if _, held := th.entries["locked"]; !held {
		t.Fatal("recently locked key was swept")
	}
	wantAllow(t, th, "locked", true, 0)
}

func TestThrottleCapEvictsLeastRecent(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(5, time.Hour, time.Hour, clock.now)
	th.maxKeys = 3
	th.Fail("a")
	th.Fail("b")
	th.Fail("c")
	th.Fail("a") // a is now the most recent
	th.Fail("d") // evicts b
	if got := th.len(); got != 3 {
		t.Fatalf("%d keys; want 3", got)
	}
	for key, want := range map[string]bool{"a": true, "b": false, "c": true, "d": true} {
		if _, held := th.entries[key]; held != want {
			t.Errorf("key %q held = %v; want %v", key, held, want)
		}
	}
	failN(th, "a", 3) // a kept its two earlier failures
	wantAllow(t, th, "a", false, 12*time.Minute)
}

func TestThrottleConcurrent(t *testing.T) {
	clock := newFakeClock()
	th := NewThrottle(3, time.Minute, time.Hour, clock.now)
	th.maxKeys = 50
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				key := fmt.Sprint("k", (g*7+i)%97)
				th.Allow(key)
				th.Fail(key)
				if i%5 == 0 {
					th.Reset(key)
				}
				if i%100 == 0 {
					clock.advance(time.Second)
				}
			}
		})
	}
	wg.Wait()
	if got := th.len(); got > 50 {
		t.Fatalf("%d keys; want at most the cap of 50", got)
	}
}
