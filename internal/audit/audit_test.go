package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

func appendN(t *testing.T, st *store.Store, n int) []*store.AuditEvent {
	t.Helper()
	var out []*store.AuditEvent
	for i := 0; i < n; i++ {
		err := st.InTx(context.Background(), func(q *store.Q) error {
			e, err := audit.Append(context.Background(), q, audit.Event{
				ActorID: "u1", ActorEmail: "a@example.com", IP: "127.0.0.1",
				Action: audit.ActionLogin, Target: fmt.Sprintf("user:%d", i), Outcome: audit.Success,
				Detail: map[string]any{"n": i},
			})
			out = append(out, e)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func verify(t *testing.T, st *store.Store) audit.Report {
	t.Helper()
	r, err := audit.Verify(context.Background(), st.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestChainIntact(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		if r := verify(t, st); !r.Intact || r.Events != 0 {
			t.Fatalf("empty log: %+v", r)
		}
		evs := appendN(t, st, 5)
		for i := 1; i < len(evs); i++ {
			if evs[i].PrevHash != evs[i-1].Hash {
				t.Fatalf("event %d does not chain onto event %d", i, i-1)
			}
		}
		if r := verify(t, st); !r.Intact || r.Events != 5 {
			t.Fatalf("intact log reported %+v", r)
		}
	})
}

func TestUpdatesAreRefused(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		appendN(t, st, 2)
		_, err := st.WriteDB().Exec(`UPDATE audit_events SET outcome = 'failure'`)
		if err == nil {
			t.Fatal("an audit event was updated; the table must be append-only")
		}
	})
}

func TestTamperingIsFound(t *testing.T) {
	dropTrigger := map[store.Dialect]string{
		store.SQLite:   `DROP TRIGGER audit_events_no_update`,
		store.Postgres: `DROP TRIGGER audit_events_no_update ON audit_events`,
	}
	cases := []struct {
		name   string
		tamper func(evs []*store.AuditEvent) string
		broken int // index of the first event reported broken
	}{
		{"edited field", func(evs []*store.AuditEvent) string {
			return fmt.Sprintf(`UPDATE audit_events SET actor_email = 'mallory@example.com' WHERE seq = %d`, evs[2].Seq)
		}, 2},
		{"edited field and rehashed", func(evs []*store.AuditEvent) string {
			return fmt.Sprintf(`UPDATE audit_events SET hash = 'ffff' WHERE seq = %d`, evs[1].Seq)
		}, 1},
		{"deleted event", func(evs []*store.AuditEvent) string {
			return fmt.Sprintf(`DELETE FROM audit_events WHERE seq = %d`, evs[2].Seq)
		}, 3},
		{"deleted first events", func(evs []*store.AuditEvent) string {
			return fmt.Sprintf(`DELETE FROM audit_events WHERE seq <= %d`, evs[1].Seq)
		}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, st *store.Store) {
				evs := appendN(t, st, 5)
				if _, err := st.WriteDB().Exec(dropTrigger[st.Dialect()]); err != nil {
					t.Fatal(err)
				}
				if _, err := st.WriteDB().Exec(tc.tamper(evs)); err != nil {
					t.Fatal(err)
				}
				r := verify(t, st)
				if r.Intact || r.BrokenAt != evs[tc.broken].Seq || r.Reason == "" {
					t.Fatalf("report %+v, want broken at seq %d", r, evs[tc.broken].Seq)
				}
			})
		})
	}
}
