package runs

import (
	"sync"

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
