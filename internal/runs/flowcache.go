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

// rowCache keeps rows of a project by ID for a short while, so a dynamic
// call does not read its flow's row (and definition) or its pipe's row
// from the database every time. A change made through this node
// (pipeline's OnFlowChange, wired to ForgetFlows) takes effect at once;
// one made on another node within the TTL.
type rowCache[T any] struct {
	mu sync.Mutex
	m  map[[2]string]cachedRow[T]
}

type cachedRow[T any] struct {
	v  T
	at time.Time
}

// get gives the row of (projectID, id) read less than ttl ago, or loads
// it; a negative ttl loads every time.
func (c *rowCache[T]) get(ttl time.Duration, projectID, id string, load func() (T, error)) (T, error) {
	key := [2]string{projectID, id}
	now := time.Now()
	if ttl > 0 {
		c.mu.Lock()
		r, ok := c.m[key]
		c.mu.Unlock()
		if ok && now.Sub(r.at) < ttl {
			return r.v, nil
		}
	}
	v, err := load()
	if err != nil || ttl < 0 {
		return v, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedFlows {
		c.m = map[[2]string]cachedRow[T]{}
	}
	c.m[key] = cachedRow[T]{v: v, at: now}
	c.mu.Unlock()
	return v, nil
}

// forget drops the rows of a project.
func (c *rowCache[T]) forget(projectID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if k[0] == projectID {
			delete(c.m, k)
		}
	}
}

func (s *Service) rowTTL() time.Duration {
	if s.FlowRowTTL == 0 {
		return DefaultFlowRowTTL
	}
	return s.FlowRowTTL
}

// flowRow loads a flow of a project, or gives the row read less than the
// TTL ago.
func (s *Service) flowRow(ctx context.Context, projectID, flowID string) (*store.Flow, error) {
	return s.flowRows.get(s.rowTTL(), projectID, flowID, func() (*store.Flow, error) {
		return s.st.Reader().FlowInProject(ctx, projectID, flowID)
	})
}

// pipeRow loads a pipe of a project, or gives the row read less than the
// TTL ago.
func (s *Service) pipeRow(ctx context.Context, projectID, pipeID string) (*store.Pipe, error) {
	return s.pipeRows.get(s.rowTTL(), projectID, pipeID, func() (*store.Pipe, error) {
		return s.st.Reader().PipeByID(ctx, projectID, pipeID)
	})
}

// ForgetFlows drops the cached flow and pipe rows of a project: its flows
// or pipes changed (saved, switched on or off, deleted; a pipe's
// console-log settings changed).
func (s *Service) ForgetFlows(projectID string) {
	s.flowRows.forget(projectID)
	s.pipeRows.forget(projectID)
}
