package consumer

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sluice-dev/sluice/internal/store"
)

// DefaultConsumerTTL is how long a project's consumers are served from
// memory when Verifier.ConsumerTTL is zero.
const DefaultConsumerTTL = time.Second

// maxCachedProjects bounds the snapshot cache; when full it is emptied
// (projects are then loaded again, nothing more).
const maxCachedProjects = 10_000

// snapEntry is one consumer of a snapshot: its row and the row decoded
// once at load. err is the decoding's error, kept so that a call reaching
// an unreadable row fails as it did when each call decoded it (a 500),
// while calls to the project's other consumers still pass.
type snapEntry struct {
	row *store.Consumer
	c   *Consumer
	err error
}

// snapshot is a project's consumers as loaded by one ListConsumers. It is
// never changed after load: calls share its rows and views read-only.
type snapshot struct {
	loaded     time.Time
	all        []snapEntry // in ListConsumers order (name, id)
	byID       map[string]*snapEntry
	byUsername map[string]*snapEntry
}

// snapshotCache holds the verifier's per-project snapshots.
type snapshotCache struct {
	mu       sync.Mutex
	projects map[string]*snapshot
	// epoch counts Forget calls: a load that started before one is
	// answered to its own callers but not kept, so nothing loaded before a
	// change commits outlives the change's Forget.
	epoch uint64
	group singleflight.Group
	// loads counts ListConsumers calls, for tests.
	loads atomic.Int64
}

func (v *Verifier) consumerTTL() time.Duration {
	if v.ConsumerTTL > 0 {
		return v.ConsumerTTL
	}
	return DefaultConsumerTTL
}

// consumers answers the project's snapshot, loading it when absent or
// older than ConsumerTTL (by v.now(); a clock that went back also
// reloads). Concurrent misses of a project share one load. A load error
// is returned, not cached.
func (v *Verifier) consumers(ctx context.Context, projectID string) (*snapshot, error) {
	sc := &v.snaps
	now := v.now()
	sc.mu.Lock()
	s := sc.projects[projectID]
	epoch := sc.epoch
	sc.mu.Unlock()
	if s != nil {
		if age := now.Sub(s.loaded); age >= 0 && age < v.consumerTTL() {
			return s, nil
		}
	}
	// The epoch is in the key: a caller that comes after a Forget never
	// joins a load that began before it.
	key := strconv.FormatUint(epoch, 10) + "\x00" + projectID
	ch := sc.group.DoChan(key, func() (any, error) {
		// Not the first caller's context: its cancellation must not fail
		// the others waiting on this load.
		return v.loadSnapshot(context.WithoutCancel(ctx), projectID, epoch)
	})
	select {
	case res := <-ch:
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Val.(*snapshot), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (v *Verifier) loadSnapshot(ctx context.Context, projectID string, epoch uint64) (*snapshot, error) {
	loaded := v.now()
	v.snaps.loads.Add(1)
	rows, err := v.st.Reader().ListConsumers(ctx, projectID)
	if err != nil {
		return nil, err
	}
	s := &snapshot{loaded: loaded, all: make([]snapEntry, len(rows)),
		byID: make(map[string]*snapEntry, len(rows)), byUsername: map[string]*snapEntry{}}
	for i, row := range rows {
		e := &s.all[i]
		e.row = row
		e.c, e.err = view(row)
		s.byID[row.ID] = e
		if row.Username != "" {
			s.byUsername[row.Username] = e
		}
	}
	sc := &v.snaps
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.epoch == epoch {
		if sc.projects == nil || (len(sc.projects) >= maxCachedProjects && sc.projects[projectID] == nil) {
			sc.projects = make(map[string]*snapshot)
		}
		sc.projects[projectID] = s
	}
	return s, nil
}

// Forget drops what the Verifier holds of a project's consumers, so the
// next call loads them again: a consumer created, changed, given a new
// secret or deleted through this node takes effect at once. Cached tokens
// need no dropping: a hit requires the consumer's updated_at in the fresh
// snapshot to equal the one it verified against. A change made on
// another node (or in the database directly) takes effect here within
// ConsumerTTL.
func (v *Verifier) Forget(projectID string) {
	sc := &v.snaps
	sc.mu.Lock()
	defer sc.mu.Unlock()
	sc.epoch++
	delete(sc.projects, projectID)
}
