package account

import (
	"context"
	"runtime"

	"github.com/sluice-dev/sluice/internal/auth"
)

// Every argon2id computation takes a slot first. Each one holds about 19 MiB
// for tens of milliseconds, so without a bound a burst of logins (or of
// failed logins, which all pass the throttle check if they arrive together)
// would grow memory without limit. With the bound, a burst queues, and the
// throttle is checked again once a slot is free.
func newHashSlots(n int) chan struct{} {
	if n <= 0 {
		n = max(2, runtime.GOMAXPROCS(0))
	}
	return make(chan struct{}, n)
}

// hashSlot waits for a free slot, or for ctx to end (a client that left).
func (s *Service) hashSlot(ctx context.Context) (release func(), err error) {
	select {
	case s.slots <- struct{}{}:
		return func() { <-s.slots }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hashPassword is auth.HashPassword in a slot.
func (s *Service) hashPassword(ctx context.Context, password string) (string, error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return auth.HashPassword(password, s.cfg.Params)
}

// verifyPassword is auth.VerifyPassword in a slot.
func (s *Service) verifyPassword(ctx context.Context, password, phc string) (ok bool, err error) {
	release, err := s.hashSlot(ctx)
	if err != nil {
		return false, err
	}
	defer release()
	ok, _, err = auth.VerifyPassword(password, phc, s.cfg.Params)
	return ok, err
}
