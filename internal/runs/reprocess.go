package runs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// MaxReprocessIDs bounds the entity IDs one reprocess request may name.
const MaxReprocessIDs = 10000

// reprocessBatch is how many entity IDs the reprocess source fetches per
// batch it gives the engine.
const reprocessBatch = 100

// cannotFetch says why a flow's read cannot fetch one record by its
// entity ID, or "" when it can (sql with a key, http with fetch_one).
func cannotFetch(r *flow.CompiledRead) string {
	switch {
	case r == nil:
		return "the flow has no read"
	case r.Kind == flow.KindSQL:
		if r.SQL == nil || r.SQL.Key == "" {
			return "the flow's sql read has no key: set read.sql.key to the column that holds the entity ID, so a record can be fetched again by it"
		}
		return ""
	case r.Kind == flow.KindHTTP:
		if r.FetchOne == nil {
			return "the flow's http read has no fetch_one: add read.fetch_one, the request that reads one record (e.g. path: /orders/{{entity_id}})"
		}
		return ""
	case r.Kind == flow.KindFile:
		return "the flow reads from a file, and a file cannot fetch one record by its entity ID; run the flow again on a file holding the failed records instead"
	}
	return fmt.Sprintf("the flow reads from %s, which cannot fetch one record by its entity ID", kindOf(r.Kind))
}

// StartReprocess queues a run that fetches failed records of the run
// runID again by their entity IDs and sends them through the run's flow
// (its current version). ids nil means every failure of the run that has
// an entity ID and was not reprocessed yet; otherwise each ID must be a
// failure of the run. The new run (trigger reprocess, parent runID), its
// entity IDs, its job and the audit event commit together.
func (s *Service) StartReprocess(ctx context.Context, p *account.Principal, g *access.Grant, runID string, ids []string, c account.Client) (*store.Run, error) {
	if s.queue == nil {
		return nil, errors.New("runs: no queue")
	}
	if ids != nil {
		var err error
		if ids, err = checkIDs(ids); err != nil {
			return nil, err
		}
	}
	var run *store.Run
	err := s.st.InTx(ctx, func(q *store.Q) error {
		if err := recheck(ctx, q, g.Project.ID, p, access.RunFlows); err != nil {
			return err
		}
		parent, err := q.RunByID(ctx, g.Project.ID, runID)
		if err != nil {
			return err
		}
		f, err := q.FlowByID(ctx, g.Project.ID, parent.PipeID, parent.FlowID)
		if err != nil {
			return err
		}
		cf, err := flow.Load([]byte(f.Definition))
		if err != nil {
			return &ReprocessError{Field: "flow", Message: "the run's flow does not compile any more, so its records cannot be reprocessed: " + err.Error()}
		}
		if why := cannotFetch(cf.Read); why != "" {
			return &ReprocessError{Field: "read", Message: "the records of this run cannot be reprocessed: " + why}
		}
		if !parent.Finished() {
			return &StateError{Code: "run_not_finished", Message: fmt.Sprintf("run %s is still %s; reprocess its failures when it has finished", parent.ID, parent.Status)}
		}
		if ids == nil {
			if ids, err = q.ReprocessableIDs(ctx, parent.ID); err != nil {
				return err
			}
			if len(ids) == 0 {
				return &StateError{Code: "nothing_to_reprocess", Message: fmt.Sprintf("run %s has no failed record with an entity ID left to reprocess", parent.ID)}
			}
		} else {
			found, err := q.FailedEntityIDs(ctx, parent.ID, ids)
			if err != nil {
				return err
			}
			var unknown []string
			for _, id := range ids {
				if !found[id] {
					unknown = append(unknown, id)
				}
			}
			if len(unknown) > 0 {
				return &ReprocessError{Field: "entity_ids", Unknown: unknown,
					Message: fmt.Sprintf("%d of the entity IDs given are not failed records of run %s; list its failures to see which are", len(unknown), parent.ID)}
			}
		}
		run = &store.Run{ProjectID: g.Project.ID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerReprocess,
			TriggeredBy: p.User.ID, ParentRunID: parent.ID}
		if err := q.CreateRun(ctx, run); err != nil {
			return err
		}
		if err := q.AddReprocessIDs(ctx, run.ID, ids); err != nil {
			return err
		}
		if _, err := s.queue.InsertTx(ctx, q, RunFlowArgs{RunID: run.ID}, nil); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, event(p, c, g.Project.ID, audit.ActionRunReprocess, run.ID,
			map[string]any{"parent_run_id": parent.ID, "flow_id": f.ID, "pipe_id": f.PipeID, "records": len(ids), "version": f.Version}))
		return err
	})
	if err != nil {
		return nil, err
	}
	return run, nil
}

// checkIDs refuses an empty or oversized list and blank IDs, and drops
// duplicates.
func checkIDs(ids []string) ([]string, error) {
	switch {
	case len(ids) == 0:
		return nil, &ReprocessError{Field: "entity_ids", Message: "entity_ids is empty: list the entity IDs to reprocess, or send no body to reprocess every failed record of the run"}
	case len(ids) > MaxReprocessIDs:
		return nil, &ReprocessError{Field: "entity_ids", Message: fmt.Sprintf("entity_ids lists %d IDs; at most %d may be reprocessed at once", len(ids), MaxReprocessIDs)}
	}
	out := make([]string, 0, len(ids))
	for i, id := range ids {
		if strings.TrimSpace(id) == "" {
			return nil, &ReprocessError{Field: fmt.Sprintf("entity_ids[%d]", i), Message: fmt.Sprintf("entity_ids[%d] is empty: every entity ID must be a non-empty string", i)}
		}
		out = append(out, id)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// reprocessSource is the Source of a reprocess run: it fetches each of the
// run's entity IDs again from the flow's own source, in batches. A record
// the source no longer has is a record failed at stage read, and the run
// keeps its entity ID (see entityOf). It has no positions: a retried
// reprocess job starts over.
type reprocessSource struct {
	st    *store.Store
	runID string
	src   connector.Source
	fetch connector.FetchByID

	after  string
	index  int64
	done   bool
	closed bool
	// missing maps the Meta.Index of the records of the last batch that
	// could not be fetched to their entity IDs.
	missing map[int64]string
}

var _ connector.Source = (*reprocessSource)(nil)

// newReprocessSource wraps the flow's source, which must fetch by ID.
func newReprocessSource(st *store.Store, runID string, src connector.Source) (*reprocessSource, error) {
	fetch, ok := src.(connector.FetchByID)
	if !ok {
		return nil, errors.New("the flow's source cannot fetch a record by its entity ID (the flow changed since the reprocess was asked for), so this run cannot reprocess anything")
	}
	return &reprocessSource{st: st, runID: runID, src: src, fetch: fetch, missing: map[int64]string{}}, nil
}

// Open opens the flow's source.
func (r *reprocessSource) Open(ctx context.Context) error {
	if r.closed {
		return connector.ErrClosed
	}
	return r.src.Open(ctx)
}

// Read fetches the next batch of entity IDs.
func (r *reprocessSource) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	switch {
	case r.closed:
		return nil, nil, connector.ErrClosed
	case r.done:
		return nil, nil, io.EOF
	}
	ids, err := r.st.Reader().ReprocessIDs(ctx, r.runID, r.after, reprocessBatch)
	if err != nil {
		return nil, nil, fmt.Errorf("reprocess: %w", err)
	}
	if len(ids) == 0 {
		r.done = true
		return nil, nil, io.EOF
	}
	clear(r.missing)
	recs := make([]connector.Record, 0, len(ids))
	for _, id := range ids {
		r.index++
		rec, err := r.fetch.FetchByID(ctx, id)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			return nil, nil, fmt.Errorf("reprocess: %w", ctx.Err())
		case errors.Is(err, connector.ErrNotFound):
			rec = connector.Record{Err: fmt.Errorf("the source no longer has the record with entity ID %q (%v); it cannot be reprocessed", id, err)}
			r.missing[r.index] = id
		default:
			return nil, nil, fmt.Errorf("reprocess: fetching entity ID %q: %w", id, err)
		}
		rec.Meta = connector.Meta{Index: r.index}
		recs = append(recs, rec)
	}
	r.after = ids[len(ids)-1]
	if len(ids) < reprocessBatch {
		r.done = true
	}
	return recs, nil, nil
}

// entityOf is the entity ID of a record of the last batch that could not
// be fetched ("" for any other).
func (r *reprocessSource) entityOf(m connector.Meta) string { return r.missing[m.Index] }

// Close closes the flow's source.
func (r *reprocessSource) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.src.Close()
}
