package runs

import (
	"context"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// maxCachedFlows bounds a flowCache; when full it starts over.
const maxCachedFlows = 4096

// flowCache keeps flows compiled, by flow ID and version, so that the
// scheduler's ticks and dynamic calls do not parse YAML and compile jq
// again while a flow is unchanged. A compiled flow is only read (the
// engine runs its jq from several goroutines already), so its users
// share it.
type flowCache struct {
	mu sync.Mutex
	m  map[string]cachedFlow
}

type cachedFlow struct {
	version int
	def     string
	c       *flow.Compiled
	err     error
}

// get compiles f, or gives what an earlier get compiled of the same
// version and definition.
func (fc *flowCache) get(f *store.Flow) (*flow.Compiled, error) {
	fc.mu.Lock()
	cf, ok := fc.m[f.ID]
	fc.mu.Unlock()
	if ok && cf.version == f.Version && cf.def == f.Definition {
		return cf.c, cf.err
	}
	c, err := flow.Load([]byte(f.Definition))
	fc.mu.Lock()
	if fc.m == nil || len(fc.m) >= maxCachedFlows {
		fc.m = map[string]cachedFlow{}
	}
	fc.m[f.ID] = cachedFlow{version: f.Version, def: f.Definition, c: c, err: err}
	fc.mu.Unlock()
	return c, err
}

// DefaultFlowRowTTL is how long a dynamic call trusts a flow row it read
// (Service.FlowRowTTL's default).
const DefaultFlowRowTTL = time.Second

// flowRows keeps the rows of called flows for a short while, so a
// dynamic call does not read its flow's row (and definition) from the
// database every time. A change made through this node (pipeline's
// OnFlowChange, wired to ForgetFlows) takes effect at once; one made on
// another node within the TTL.
type flowRows struct {
	mu    sync.Mutex
	m     map[[2]string]flowRow
	pipes map[[2]string]pipeRow
}

type flowRow struct {
	f  *store.Flow
	at time.Time
}

// flowRow loads a flow of a project, or gives the row read less than the
// TTL ago.
func (s *Service) flowRow(ctx context.Context, projectID, flowID string) (*store.Flow, error) {
	ttl := s.FlowRowTTL
	if ttl == 0 {
		ttl = DefaultFlowRowTTL
	}
	key := [2]string{projectID, flowID}
	now := time.Now()
	if ttl > 0 {
		s.rows.mu.Lock()
		r, ok := s.rows.m[key]
		s.rows.mu.Unlock()
		if ok && now.Sub(r.at) < ttl {
			return r.f, nil
		}
	}
	f, err := s.st.Reader().FlowInProject(ctx, projectID, flowID)
	if err != nil || ttl < 0 {
		return f, err
	}
	s.rows.mu.Lock()
	if s.rows.m == nil || len(s.rows.m) >= maxCachedFlows {
		s.rows.m = map[[2]string]flowRow{}
	}
	s.rows.m[key] = flowRow{f: f, at: now}
	s.rows.mu.Unlock()
	return f, nil
}

// ForgetFlows drops the cached flow and pipe rows of a project: its flows
// or pipes changed (saved, switched on or off, deleted; a pipe's
// console-log settings changed).
func (s *Service) ForgetFlows(projectID string) {
	s.rows.mu.Lock()
	defer s.rows.mu.Unlock()
	for k := range s.rows.m {
		if k[0] == projectID {
			delete(s.rows.m, k)
		}
	}
	for k := range s.rows.pipes {
		if k[0] == projectID {
			delete(s.rows.pipes, k)
		}
	}
}
