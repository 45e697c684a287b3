package secrets

import (
	"fmt"
	"sort"
	"sync"

	"github.com/sluice-dev/sluice/internal/store"
)

// Columns describes a table's sealed columns for key rotation. Each sealed
// value in it is bound to AAD{Table, Row: the row's ID, Field: the column
// name}, and the Term column records the term that sealed the row's values
// (0: none yet, or legacy plain values stored before the keyring).
//
// A feature that stores secrets registers its table once at start-up
// (Keyring.Registry().Add); rotation then covers it with no code of its
// own.
type Columns struct {
	Table   string
	ID      string
	Term    string
	Secrets []string
}

func (c Columns) table() store.SecretTable {
	return store.SecretTable{Table: c.Table, ID: c.ID, Term: c.Term, Columns: c.Secrets}
}

// Registry is the list of sealed columns. It is safe for concurrent use.
type Registry struct {
	mu     sync.Mutex
	tables map[string]Columns
}

// Add registers a table. Names must be plain lower-case SQL identifiers,
// and a table is registered once.
func (r *Registry) Add(c Columns) error {
	if err := c.table().Check(); err != nil {
		return fmt.Errorf("secrets: register %q for rotation: %w", c.Table, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.tables == nil {
		r.tables = map[string]Columns{}
	}
	if _, dup := r.tables[c.Table]; dup {
		return fmt.Errorf("secrets: table %q is registered for rotation twice", c.Table)
	}
	c.Secrets = append([]string(nil), c.Secrets...)
	r.tables[c.Table] = c
	return nil
}

// List is every registered table, by name.
func (r *Registry) List() []Columns {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Columns, 0, len(r.tables))
	for _, c := range r.tables {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
