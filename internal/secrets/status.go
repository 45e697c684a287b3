package secrets

import (
	"context"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// Status describes the keyring for operators: its terms, its rotations
// and how many stored secrets each term sealed. It holds no key material.
type Status struct {
	CurrentTerm int              `json:"current_term"`
	Terms       []TermStatus     `json:"terms"`
	Rotations   []RotationStatus `json:"rotations"`
	Secrets     []TableSecrets   `json:"secrets"`
}

// TermStatus is one term of the keyring.
type TermStatus struct {
	Term      int       `json:"term"`
	CreatedAt time.Time `json:"created_at"`
}

// RotationStatus is one rotation and its progress by table.
type RotationStatus struct {
	Term       int                      `json:"term"`
	StartedAt  time.Time                `json:"started_at"`
	FinishedAt *time.Time               `json:"finished_at"`
	Tables     map[string]TableProgress `json:"tables"`
}

// TableSecrets counts a registered table's rows that hold a secret, by the
// term that sealed them (term 0: legacy values not yet sealed).
type TableSecrets struct {
	Table  string      `json:"table"`
	ByTerm map[int]int `json:"by_term"`
}

func rotationStatus(r *store.KeyRotation) (*RotationStatus, error) {
	p, err := decodeProgress(r.Progress)
	if err != nil {
		return nil, err
	}
	return &RotationStatus{Term: r.Term, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Tables: p.Tables}, nil
}

// Status reads the keyring's state from the database.
func (k *Keyring) Status(ctx context.Context) (*Status, error) {
	q := k.st.Reader()
	terms, err := q.KeyringTerms(ctx)
	if err != nil {
		return nil, err
	}
	s := &Status{Terms: []TermStatus{}, Rotations: []RotationStatus{}, Secrets: []TableSecrets{}}
	for _, t := range terms {
		s.Terms = append(s.Terms, TermStatus{Term: t.Term, CreatedAt: t.CreatedAt})
		if t.Term > s.CurrentTerm {
			s.CurrentTerm = t.Term
		}
	}
	rots, err := q.KeyRotations(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rots {
		rs, err := rotationStatus(r)
		if err != nil {
			return nil, err
		}
		s.Rotations = append(s.Rotations, *rs)
	}
	for _, cols := range k.reg.List() {
		by, err := q.CountSecretsByTerm(ctx, cols.table())
		if err != nil {
			return nil, err
		}
		s.Secrets = append(s.Secrets, TableSecrets{Table: cols.Table, ByTerm: by})
	}
	return s, nil
}

// Rotation reads one rotation's state.
func (k *Keyring) Rotation(ctx context.Context, term int) (*RotationStatus, error) {
	r, err := k.st.Reader().KeyRotation(ctx, term)
	if err != nil {
		return nil, err
	}
	return rotationStatus(r)
}
