package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// TestFlowCursorState: a flow's incremental cursor state starts empty,
// keeps the last value set, survives a save of the flow and is refused
// when too long or for a flow that is gone.
func TestFlowCursorState(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		w := st.Writer()
		owner := newUser(t, w, "owner@example.com")
		p := newProject(t, w, "A", owner.ID)
		f := newFlow(t, st, newPipe(t, w, p.ID, "pipe"), "flow", `{"name":"flow"}`, owner.ID)
		if got, err := st.Reader().FlowCursorState(ctx, f.ID); err != nil || got != "" {
			t.Fatalf("new flow's cursor state = %q, %v", got, err)
		}
		for _, v := range []string{"2026-01-05T10:00:00Z", "2026-02-01T00:00:00Z"} {
			if err := w.SetFlowCursorState(ctx, f.ID, v); err != nil {
				t.Fatal(err)
			}
		}
		if err := saveFlow(st, f, `{"name":"flow","entity_id":".id"}`, owner.ID, 0); err != nil {
			t.Fatal(err)
		}
		if got, err := st.Reader().FlowCursorState(ctx, f.ID); err != nil || got != "2026-02-01T00:00:00Z" {
			t.Fatalf("cursor state = %q, %v", got, err)
		}
		if err := w.SetFlowCursorState(ctx, f.ID, strings.Repeat("x", store.MaxCursorState+1)); err == nil {
			t.Fatal("a state over the limit was kept")
		}
		if err := w.SetFlowCursorState(ctx, "no-such-flow", "1"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing flow: %v, want ErrNotFound", err)
		}
		if _, err := st.Reader().FlowCursorState(ctx, "no-such-flow"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a missing flow: %v, want ErrNotFound", err)
		}
	})
}
