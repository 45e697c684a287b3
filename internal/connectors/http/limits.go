package http

import (
	"context"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// Limits bound the requests to one connection from this node: a rate
// limit in requests per second with a burst, and a cap on requests in
// flight. One Limits is shared by every source, sink and caller of the
// connection, so two flows writing to the same API together stay under
// its limits. The zero of each part means no limit; a nil *Limits limits
// nothing.
type Limits struct {
	limiter *rate.Limiter // nil: no rate limit
	slots   chan struct{} // nil: no concurrency limit

	// now and sleep are the clock of the rate limit (tests replace them).
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// NewLimits builds the limits of a connection: perSecond requests a second
// (0: no rate limit) with bursts of burst (at least 1), and at most
// concurrency requests in flight (0: no limit).
func NewLimits(perSecond float64, burst, concurrency int) *Limits {
	l := &Limits{now: time.Now, sleep: sleepCtx}
	if perSecond > 0 && !math.IsInf(perSecond, 1) {
		l.limiter = rate.NewLimiter(rate.Limit(perSecond), max(burst, 1))
	}
	if concurrency > 0 {
		l.slots = make(chan struct{}, concurrency)
	}
	return l
}

// Concurrency is the cap on requests in flight (0: none).
func (l *Limits) Concurrency() int {
	if l == nil || l.slots == nil {
		return 0
	}
	return cap(l.slots)
}

// acquire waits for a slot and a token, honouring ctx; the returned
// release gives the slot back once the answer has been read.
func (l *Limits) acquire(ctx context.Context) (release func(), err error) {
	if l == nil {
		return func() {}, nil
	}
	release = func() {}
	if l.slots != nil {
		select {
		case l.slots <- struct{}{}:
			release = func() { <-l.slots }
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for a free request slot of the connection: %w", context.Cause(ctx))
		}
	}
	if l.limiter != nil {
		now := l.now()
		r := l.limiter.ReserveN(now, 1)
		if !r.OK() {
			release()
			return nil, fmt.Errorf("the connection's rate limit cannot serve a request")
		}
		if d := r.DelayFrom(now); d > 0 {
			if err := l.sleep(ctx, d); err != nil {
				r.CancelAt(l.now())
				release()
				return nil, fmt.Errorf("waiting for the connection's rate limit: %w", err)
			}
		}
	}
	return release, nil
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// atomicBool is a flag read by several goroutines (a Caller's Close and
// its Calls).
type atomicBool = atomic.Bool
