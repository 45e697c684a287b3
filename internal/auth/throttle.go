package auth

import (
	"container/list"
	"sync"
	"time"
)

// Throttle limits failed attempts per key (an account, an IP address) with
// escalating lockouts. Failures are counted in fixed windows: when a key
// reaches limit failures within one window it is locked out, first for
// window/limit (at least one second), and each further lockout of the same
// key doubles, up to maxLockout. A key's escalation is forgotten once it
// has been quiet for maxLockout after its last lockout ended, or on Reset.
//
// State is held in memory, per node: a cluster of N nodes lets an attacker
// who spreads attempts across them make up to N times as many. It is safe
// for concurrent use.
//
// Memory is bounded: expired keys are swept every sweepEvery failures, and
// at most maxThrottleKeys keys are held, the least recently failed being
// dropped first. An attacker who fails with that many distinct keys can
// therefore evict a lockout early; the bound is worth that, and a per-IP
// key still limits such a flood.
type Throttle struct {
	limit      int
	window     time.Duration
	base       time.Duration
	maxLockout time.Duration
	now        func() time.Time
	maxKeys    int

	mu      sync.Mutex
	entries map[string]*list.Element // of *throttleEntry
	lru     *list.List               // front: least recently failed
	fails   int                      // failures since the last sweep
}

// throttleEntry is one key's state.
type throttleEntry struct {
	key         string
	windowStart time.Time
	failures    int       // in the window starting at windowStart
	lockouts    int       // lockouts so far, for doubling
	lockedUntil time.Time // zero when never locked
}

const (
	maxThrottleKeys = 100_000
	sweepEvery      = 1024
	minLockout      = time.Second
)

// NewThrottle returns a Throttle that locks a key out after limit failures
// within window, for escalating lockouts capped at maxLockout. now is the
// clock; nil means time.Now. A limit below 1 is treated as 1, a window
// below one second as one second, and a maxLockout below the first lockout
// as equal to it.
func NewThrottle(limit int, window time.Duration, maxLockout time.Duration, now func() time.Time) *Throttle {
	limit = max(limit, 1)
	window = max(window, time.Second)
	base := max(window/time.Duration(limit), minLockout)
	if now == nil {
		now = time.Now
	}
	return &Throttle{
		limit:      limit,
		window:     window,
		base:       base,
		maxLockout: max(maxLockout, base),
		now:        now,
		maxKeys:    maxThrottleKeys,
		entries:    make(map[string]*list.Element),
		lru:        list.New(),
	}
}

// Allow reports whether key may make an attempt now. While the key is
// locked out it returns false and how long until the lockout ends.
func (t *Throttle) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	el, found := t.entries[key]
	if !found {
		return true, 0
	}
	e := el.Value.(*throttleEntry)
	if now.Before(e.lockedUntil) {
		return false, e.lockedUntil.Sub(now)
	}
	return true, 0
}

// Fail records a failed attempt by key, locking it out when the failures
// in the current window reach the limit. Failures while the key is locked
// out are ignored, so they neither extend nor escalate the lockout.
func (t *Throttle) Fail(key string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()

	t.fails++
	if t.fails >= sweepEvery {
		t.sweep(now)
	}
	var e *throttleEntry
	if el, found := t.entries[key]; found {
		e = el.Value.(*throttleEntry)
		if now.Before(e.lockedUntil) {
			return
		}
		if t.expired(e, now) {
			*e = throttleEntry{key: key}
		}
		t.lru.MoveToBack(el)
	} else {
		// At the cap, drop the least recently failed key rather than sweep:
		// a sweep per new key would let a flood of keys cost O(n) each.
		for len(t.entries) >= t.maxKeys {
			t.remove(t.lru.Front())
		}
		e = &throttleEntry{key: key}
		t.entries[key] = t.lru.PushBack(e)
	}

	if e.windowStart.IsZero() || !now.Before(e.windowStart.Add(t.window)) {
		e.windowStart, e.failures = now, 0
	}
	e.failures++
	if e.failures < t.limit {
		return
	}
	e.lockouts++
	e.lockedUntil = now.Add(t.lockout(e.lockouts))
	e.windowStart, e.failures = time.Time{}, 0
}

// Reset forgets key, after a successful attempt.
func (t *Throttle) Reset(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, found := t.entries[key]; found {
		t.remove(el)
	}
}

// lockout returns the length of the n-th lockout (n ≥ 1).
func (t *Throttle) lockout(n int) time.Duration {
	d := t.base
	for i := 1; i < n && d < t.maxLockout; i++ {
		d *= 2
	}
	return min(d, t.maxLockout)
}

// expired reports whether e holds nothing worth keeping at now: its window
// has passed, and it is not locked out nor within maxLockout of its last
// lockout ending (when a further failure would still escalate).
func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	if !e.windowStart.IsZero() && now.Before(e.windowStart.Add(t.window)) {
		return false
	}
	return e.lockedUntil.IsZero() || !now.Before(e.lockedUntil.Add(t.maxLockout))
}

// sweep drops every expired entry. t.mu must be held.
func (t *Throttle) sweep(now time.Time) {
	t.fails = 0
	for el := t.lru.Front(); el != nil; {
		next := el.Next()
		if t.expired(el.Value.(*throttleEntry), now) {
			t.remove(el)
		}
		el = next
	}
}

// remove drops one entry. t.mu must be held.
func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.lru.Remove(el)
}

// len returns the number of keys held, for tests.
func (t *Throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}
