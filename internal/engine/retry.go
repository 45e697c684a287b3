package engine

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// result is what became of one record given to a write or a call, after
// every try.
type result struct {
	answer   any // Outcome.Response, or the call's answer
	err      error
	attempts int
}

// retryable reports whether a record that failed with err on try number
// try may be tried again, and how long the other system asked to wait.
func (b *batch) retryable(err error, try int) (time.Duration, bool) {
	after, ok := connector.Transient(err)
	return after, ok && try <= b.e.c.Retry.Retries
}

// retryWait is the wait before retry number try (1 for the first): the
// flow's backoff doubled try-1 times up to max_backoff, drawn at random
// between half and all of it, and never shorter than after (the other
// system's Retry-After). An after longer than Options.MaxRetryWait is an
// error: a run does not stall that long for one batch.
func (b *batch) retryWait(try int, after time.Duration) (time.Duration, error) {
	if after > b.e.opts.MaxRetryWait {
		return 0, fmt.Errorf("the destination asked to wait %s before trying again, longer than a run waits (%s): reprocess the record later", after, b.e.opts.MaxRetryWait)
	}
	return max(jitter(backoff(b.e.c.Retry.Backoff, b.e.c.Retry.MaxBackoff, try)), after), nil
}

// backoff is base doubled try-1 times, at most maxWait (and at least a
// millisecond, so that a zero backoff still yields).
func backoff(base, maxWait time.Duration, try int) time.Duration {
	maxWait = max(maxWait, time.Millisecond)
	d := max(base, time.Millisecond)
	for i := 1; i < try && d < maxWait; i++ {
		d *= 2
	}
	return min(d, maxWait)
}

// jitter draws a wait between d/2 and d.
func jitter(d time.Duration) time.Duration {
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + rand.N(d-half+1)
}

// retried adds to the error of a record that was tried more than once how
// many retries it had.
func retried(err error, attempts int) error {
	switch {
	case attempts <= 1:
		return err
	case attempts == 2:
		return fmt.Errorf("%w (after 1 retry)", err)
	}
	return fmt.Errorf("%w (after %d retries)", err, attempts-1)
}
