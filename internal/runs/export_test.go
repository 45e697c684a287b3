package runs

import "context"

// SetDynamicHook makes every sync run call hook (on the run's goroutine,
// inside its panic recovery) before its engine runs.
func SetDynamicHook(s *Service, hook func(ctx context.Context, runID string)) { s.dyn.hook = hook }
