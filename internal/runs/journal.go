package runs

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// maxJournalBatch bounds the runs one group commit writes.
const maxJournalBatch = 256

// journal group-commits the rows of dynamic runs. A call's run is written
// when it ends (or when it has gone on long enough to be shown running),
// and the calls ending at about the same time share one transaction: one
// commit for many runs, so the database is not what bounds the calls a
// second. Every writer waits until its own entry committed before it
// answers its caller.
//
// There is no background goroutine: the first writer to find no commit
// in progress leads, writes what has queued (its own entry among it) and
// then hands the lead to the oldest entry still queued, so no caller
// waits for more than the commit before its own and its own.
type journal struct {
	mu      sync.Mutex
	pending []*journalEntry
	busy    bool
	// coming counts the runs started that will write an entry and have
	// not yet: a leader waits for them, up to the window, so that one
	// commit takes them all (a commit's cost is mostly per transaction:
	// BEGIN, the WAL frames of the pages it touched, COMMIT).
	coming int
	// more wakes a waiting leader when an entry is queued.
	more chan struct{}
}

// journalWindow is how long a leader waits at most for the runs coming.
const journalWindow = time.Millisecond

// expect says a run started that will write an entry; arrived (called by
// journalWrite with the entry) or gone (a run that writes none) undo it.
func (j *journal) expect() {
	j.mu.Lock()
	j.coming++
	j.mu.Unlock()
}

// gone says an expected run will write no entry after all.
func (j *journal) gone() {
	j.mu.Lock()
	j.coming--
	j.mu.Unlock()
	j.wake()
}

func (j *journal) wake() {
	select {
	case j.more <- struct{}{}:
	default:
	}
}

// gather waits, as the leader, until no expected run is still coming or
// the window has passed, or the batch is full; it is called and returns
// with j.mu held.
func (j *journal) gather() {
	if j.coming <= 0 || len(j.pending) >= maxJournalBatch {
		return
	}
	t := time.NewTimer(journalWindow)
	defer t.Stop()
	for j.coming > 0 && len(j.pending) < maxJournalBatch {
		j.mu.Unlock()
		select {
		case <-j.more:
		case <-t.C:
			j.mu.Lock()
			return
		}
		j.mu.Lock()
	}
}

// journalEntry is one run to write: inserted whole when its row does not
// exist yet, else finished (its status, error and counters updated), with
// its failures and log values.
type journalEntry struct {
	run      *store.Run
	insert   bool
	failures []store.RunFailure
	logs     []store.RunLog
	// expected says the run was counted by journal.expect.
	expected bool
	// done gets the entry's outcome, or lead: the writer is to lead the
	// next commit.
	done chan journalResult
}

type journalResult struct {
	err  error
	lead bool
}

// write commits e with whatever else is queued, and returns its outcome.
func (s *Service) journalWrite(e *journalEntry) error {
	j := &s.journal
	e.done = make(chan journalResult, 1)
	j.mu.Lock()
	j.pending = append(j.pending, e)
	if e.expected {
		j.coming--
	}
	if j.busy {
		j.mu.Unlock()
		j.wake()
		r := <-e.done
		if !r.lead {
			return r.err
		}
		j.mu.Lock()
	}
	j.busy = true
	j.gather()
	batch := j.pending[:min(len(j.pending), maxJournalBatch)]
	j.pending = append([]*journalEntry(nil), j.pending[len(batch):]...)
	j.mu.Unlock()

	s.commitJournal(batch)

	j.mu.Lock()
	if len(j.pending) > 0 {
		// The lead passes on; busy stays set for the new leader.
		j.pending[0].done <- journalResult{lead: true}
	} else {
		j.busy = false
	}
	j.mu.Unlock()
	// The leader's own entry is in its batch: the first one that was
	// queued when it took the lead is always its own or older, and a
	// batch takes the oldest entries first.
	return (<-e.done).err
}

// commitJournal writes a batch in one transaction and tells each entry
// its outcome. When the transaction fails, each entry is tried on its
// own, so one bad entry does not fail the others.
func (s *Service) commitJournal(batch []*journalEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := s.st.InTx(ctx, func(q *store.Q) error { return s.writeEntries(ctx, q, batch) })
	if err != nil && len(batch) > 1 {
		for _, e := range batch {
			e.done <- journalResult{err: s.st.InTx(ctx, func(q *store.Q) error {
				return s.writeEntries(ctx, q, []*journalEntry{e})
			})}
		}
		return
	}
	for _, e := range batch {
		e.done <- journalResult{err: err}
	}
}

// writeEntries writes entries inside q: new rows first (their failures
// refer to them), then finishes, failures, logs, and the alerts of the
// runs that ended failed.
func (s *Service) writeEntries(ctx context.Context, q *store.Q, batch []*journalEntry) error {
	var (
		inserts  []*store.Run
		failures []store.RunFailure
		logs     []store.RunLog
	)
	for _, e := range batch {
		if e.insert {
			inserts = append(inserts, e.run)
		}
		failures = append(failures, e.failures...)
		logs = append(logs, e.logs...)
	}
	if err := q.InsertRuns(ctx, inserts); err != nil {
		return err
	}
	for _, e := range batch {
		if !e.insert {
			if err := q.FinishRun(ctx, e.run); err != nil {
				return err
			}
		}
	}
	if err := q.InsertRunFailures(ctx, failures); err != nil {
		return err
	}
	if err := q.InsertRunLogs(ctx, logs); err != nil {
		return err
	}
	for _, e := range batch {
		if e.run.Finished() {
			if err := s.enqueueAlerts(ctx, q, e.run); err != nil {
				return err
			}
		}
	}
	return nil
}
