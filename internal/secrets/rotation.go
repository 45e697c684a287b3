package secrets

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// AuditActionRotate is the audit action of a key rotation.
const AuditActionRotate = "keyring.rotate"

// JobInserter enqueues a job inside a store transaction (the queue).
type JobInserter interface {
	InsertTx(ctx context.Context, q *store.Q, args river.JobArgs, opts *river.InsertOpts) (int64, error)
}

// SetQueue gives the keyring the queue Rotate enqueues its job on. The
// queue is built after the keyring (its workers include the rotation), so
// the composition root sets it once both exist.
func (k *Keyring) SetQueue(q JobInserter) { k.queue = q }

// Register adds the rotation worker to a queue's workers.
func (k *Keyring) Register(w *river.Workers) {
	river.AddWorker(w, &RotateWorker{Keyring: k})
}

// RotateArgs is the job that re-encrypts every registered secret under
// Term. It carries the term only: the progress lives in the rotation's
// row, so the job can run twice, or resume after a crash.
type RotateArgs struct {
	Term int `json:"term"`
}

// Kind names the job in the queue.
func (RotateArgs) Kind() string { return "keyring_rotate" }

// InsertOpts gives a rotation more attempts than a run: every attempt
// resumes where the last one stopped.
func (RotateArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 25} }

// RotateWorker runs RotateArgs.
type RotateWorker struct {
	river.WorkerDefaults[RotateArgs]
	Keyring *Keyring
}

// Work re-encrypts until done, checkpointing after every batch.
func (w *RotateWorker) Work(ctx context.Context, job *river.Job[RotateArgs]) error {
	_, err := w.Keyring.RunRotation(ctx, job.Args.Term, 0)
	return err
}

// Progress is a rotation's checkpoint, stored as JSON in its row.
type Progress struct {
	Tables map[string]TableProgress `json:"tables"`
}

// TableProgress is how far a rotation got in one table.
type TableProgress struct {
	// Total is how many rows needed re-encrypting when the table started.
	Total int `json:"total"`
	// Done counts rows re-encrypted; Changed rows that changed while being
	// re-encrypted (their new value was sealed under the new term by the
	// writer); Failed rows whose secret did not decrypt in the last pass,
	// left as they were (FailedRows names the first of them).
	Done       int      `json:"done"`
	Changed    int      `json:"changed,omitempty"`
	Failed     int      `json:"failed,omitempty"`
	FailedRows []string `json:"failed_rows,omitempty"`
	// After is the last row ID done: the cursor a resumed job starts from.
	After string `json:"after,omitempty"`
	// Pass counts the passes over the table: a pass after the first picks
	// up rows that a node still sealing under an older term wrote behind
	// the cursor.
	Pass     int  `json:"pass"`
	Started  bool `json:"started"`
	Finished bool `json:"finished"`
}

const (
	maxPasses     = 3
	maxFailedRows = 20
)

func decodeProgress(s string) (Progress, error) {
	var p Progress
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, fmt.Errorf("secrets: rotation progress is unreadable: %w", err)
	}
	if p.Tables == nil {
		p.Tables = map[string]TableProgress{}
	}
	return p, nil
}

func (p Progress) encode() string {
	b, _ := json.Marshal(p)
	return string(b)
}

// Rotate adds a new term, which seals every secret from now on, and
// enqueues the job that re-encrypts the secrets already stored. The term,
// the rotation's row, its audit event and the job commit together. actor
// names who asked (ActorID, ActorEmail, IP); the rest of the event is
// filled in. Old terms keep decrypting while the job runs, and after.
func (k *Keyring) Rotate(ctx context.Context, actor audit.Event) (*RotationStatus, error) {
	if k.queue == nil {
		return nil, ErrNoQueue
	}
	var rot *store.KeyRotation
	var term uint32
	var err error
	// Two rotations started at once want the same term; the loser takes
	// the next one.
	for attempt := 0; attempt < 5; attempt++ {
		rot, term, err = k.rotateOnce(ctx, actor)
		if !errors.Is(err, store.ErrConflict) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	k.log.Info("key rotation started", "term", term)
	return rotationStatus(rot)
}

func (k *Keyring) rotateOnce(ctx context.Context, actor audit.Event) (*store.KeyRotation, uint32, error) {
	var rot *store.KeyRotation
	var term uint32
	err := k.st.InTx(ctx, func(q *store.Q) error {
		newest, err := q.MaxKeyringTerm(ctx)
		if err != nil {
			return err
		}
		if newest >= math.MaxUint32 {
			return errors.New("secrets: the keyring has run out of terms")
		}
		term = uint32(newest + 1)
		key, sealedKey, err := k.newDataKey(term)
		if err != nil {
			return err
		}
		clear(key)
		if err := q.InsertKeyringTerm(ctx, &store.KeyringTerm{Term: int(term), SealedKey: sealedKey}); err != nil {
			return err
		}
		if rot, err = q.InsertKeyRotation(ctx, int(term)); err != nil {
			return err
		}
		if _, err := k.queue.InsertTx(ctx, q, RotateArgs{Term: int(term)}, nil); err != nil {
			return err
		}
		ev := actor
		ev.Action, ev.Target, ev.Outcome = AuditActionRotate, fmt.Sprintf("keyring:term/%d", term), audit.Success
		ev.Detail = map[string]any{"term": term}
		_, err = audit.Append(ctx, q, ev)
		return err
	})
	return rot, term, err
}

// RunRotation re-encrypts, batch by batch, every registered secret sealed
// under a term older than term (legacy plain values included), each batch
// and its checkpoint in one transaction. It resumes from the checkpoint,
// so it can be interrupted at any point. maxBatches > 0 stops it after
// that many batches (tests); it reports whether the rotation finished.
func (k *Keyring) RunRotation(ctx context.Context, term, maxBatches int) (bool, error) {
	// The term may have been added by another process.
	if err := k.Refresh(ctx); err != nil {
		return false, err
	}
	if term <= 0 || term > math.MaxUint32 || k.key(uint32(term)) == nil {
		return false, fmt.Errorf("secrets: rotation to term %d: the keyring has no such term", term)
	}
	rot, err := k.st.Reader().KeyRotation(ctx, term)
	if err != nil {
		return false, err
	}
	if rot.FinishedAt != nil {
		return true, nil
	}
	prog, err := decodeProgress(rot.Progress)
	if err != nil {
		return false, err
	}
	batches := 0
	for _, cols := range k.reg.List() {
		tp := prog.Tables[cols.Table]
		for !tp.Finished {
			if maxBatches > 0 && batches >= maxBatches {
				return false, nil
			}
			if err := ctx.Err(); err != nil {
				return false, err
			}
			next, err := k.rotateBatch(ctx, cols, term, tp, &prog)
			if err != nil {
				return false, fmt.Errorf("secrets: rotation to term %d, table %s: %w", term, cols.Table, err)
			}
			tp = next
			batches++
			if k.afterBatch != nil {
				k.afterBatch(cols.Table)
			}
		}
		if tp.Failed > 0 {
			k.log.Error("key rotation: some secrets do not decrypt and were left as they were", "term", term,
				"table", cols.Table, "rows", tp.Failed, "first_ids", tp.FailedRows)
		}
	}
	err = k.st.InTx(ctx, func(q *store.Q) error {
		return q.SetKeyRotationProgress(ctx, term, prog.encode(), true)
	})
	if err != nil {
		return false, err
	}
	k.log.Info("key rotation finished", "term", term)
	return true, nil
}

// rotateBatch re-encrypts one batch of a table and checkpoints, in one
// transaction, returning the table's progress after it. On error nothing
// of the batch is kept, and the progress stays where it was.
func (k *Keyring) rotateBatch(ctx context.Context, cols Columns, term int, tp TableProgress, prog *Progress) (TableProgress, error) {
	t := cols.table()
	next := tp
	next.FailedRows = append([]string(nil), tp.FailedRows...)
	var checkpoint Progress
	err := k.st.InTx(ctx, func(q *store.Q) error {
		if !next.Started {
			n, err := q.CountSecretsBelowTerm(ctx, t, term)
			if err != nil {
				return err
			}
			next.Started, next.Total, next.Pass = true, n, 1
		}
		rows, err := q.SecretRowsBelowTerm(ctx, t, term, next.After, k.opts.BatchSize)
		if err != nil {
			return err
		}
		for _, r := range rows {
			values, sealedTerm, err := k.reseal(ctx, cols, r)
			if errors.Is(err, ErrDecrypt) {
				next.Failed++
				if len(next.FailedRows) < maxFailedRows {
					next.FailedRows = append(next.FailedRows, r.ID)
				}
				continue
			}
			if err != nil {
				return err
			}
			if sealedTerm < term {
				return fmt.Errorf("sealed under term %d, older than the rotation's %d", sealedTerm, term)
			}
			ok, err := q.ResealSecretRow(ctx, t, r, values, sealedTerm)
			if err != nil {
				return err
			}
			if ok {
				next.Done++
			} else {
				next.Changed++
			}
		}
		if len(rows) > 0 {
			next.After = rows[len(rows)-1].ID
		}
		if len(rows) < k.opts.BatchSize {
			// End of a pass. Rows still below the term, other than those
			// that do not decrypt, were written behind the cursor by a
			// node sealing under an older term: go round again.
			left, err := q.CountSecretsBelowTerm(ctx, t, term)
			if err != nil {
				return err
			}
			if left > next.Failed && next.Pass < maxPasses {
				next.Pass++
				next.After, next.Failed, next.FailedRows = "", 0, nil
			} else {
				next.Finished = true
			}
		}
		checkpoint = Progress{Tables: map[string]TableProgress{}}
		for name, v := range prog.Tables {
			checkpoint.Tables[name] = v
		}
		checkpoint.Tables[cols.Table] = next
		return q.SetKeyRotationProgress(ctx, term, checkpoint.encode(), false)
	})
	if err != nil {
		return tp, err
	}
	*prog = checkpoint
	return next, nil
}

// reseal opens each non-empty value of a row (or takes a legacy plain one
// as it is) and seals it again under the current term.
func (k *Keyring) reseal(ctx context.Context, cols Columns, r store.SecretRow) ([]string, int, error) {
	values := make([]string, len(r.Values))
	sealedTerm := 0
	for i, v := range r.Values {
		if v == "" {
			continue
		}
		aad := AAD{Table: cols.Table, Row: r.ID, Field: cols.Secrets[i]}
		var plain []byte
		if IsSealed(v) {
			var err error
			if plain, err = k.OpenContext(ctx, v, aad); err != nil {
				return nil, 0, err
			}
		} else {
			plain = []byte(v)
		}
		ct, term, err := k.seal(ctx, plain, aad)
		clear(plain)
		if err != nil {
			return nil, 0, err
		}
		values[i], sealedTerm = ct, term
	}
	return values, sealedTerm, nil
}
