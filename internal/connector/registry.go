package connector

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"
)

// DefaultBatchSize is how many records a Read returns at most when
// Env.BatchSize is 0. A batch is also the most a sink is given at once,
// and a database sink writes a batch in one COPY or statement: W3
// (bench/README.md) upserts about a fifth faster with batches of 1000
// than of 500, for a few MiB more of records in memory (W1's peak RSS
// stays about 40 MiB; with 2000 it nears 56 MiB).
const DefaultBatchSize = 1000

// Env is what a constructor may use from the running process. It carries
// no configuration of its own kind: those are the checked settings.
type Env struct {
	// FilesDir is the directory file connectors are confined to (the
	// --files-dir, or a directory under it that the engine chooses).
	FilesDir string
	// BatchSize bounds the records one Read returns (0: DefaultBatchSize).
	BatchSize int
	// Logger is for operational messages; never for record data.
	Logger *slog.Logger
	// Trace, when set, sees every request a connector makes to another
	// system and its answer (a console log capturing them); it must not
	// keep the values it is given past its call.
	Trace func(Exchange)
}

// Exchange is one request to another system and its answer, for a trace.
// Its headers, URL and bodies are the connector's: a trace reads them and
// must not change them.
type Exchange struct {
	Method        string
	URL           *url.URL
	RequestHeader http.Header
	RequestBody   []byte
	// Status is 0 when no answer came (Err says why).
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
	Duration       time.Duration
	Err            error
}

// Batch is BatchSize, or DefaultBatchSize when BatchSize is 0 or less.
func (e Env) Batch() int {
	if e.BatchSize <= 0 {
		return DefaultBatchSize
	}
	return e.BatchSize
}

// Kind is one kind of connector ("file", "http", "sql"): the roles it can
// play, each with the field spec of its settings and its constructor. A
// role the kind does not play is nil.
type Kind struct {
	Name  string
	Doc   string
	Read  *SourceSpec
	Write *SinkSpec
	Call  *CallerSpec
}

// SourceSpec is a kind's read role.
type SourceSpec struct {
	Fields []Field
	// New builds a Source from settings that Check has normalised against
	// Fields. It does no I/O; it may still refuse settings Check cannot
	// judge alone (a path that leaves the files directory).
	New func(env Env, settings map[string]any) (Source, error)
}

// SinkSpec is a kind's write role.
type SinkSpec struct {
	Fields []Field
	// New builds a Sink as SourceSpec.New builds a Source.
	New func(env Env, settings map[string]any) (Sink, error)
}

// CallerSpec is a kind's call role.
type CallerSpec struct {
	Fields []Field
	// New builds a Caller as SourceSpec.New builds a Source.
	New func(env Env, settings map[string]any) (Caller, error)
}

// NewSource checks settings against the kind's read fields and builds a
// Source. Bad settings give a *ValidationError listing every problem.
func (k *Kind) NewSource(env Env, settings map[string]any) (Source, error) {
	if k.Read == nil {
		return nil, fmt.Errorf("%w: %s cannot be read from", ErrUnsupported, k.Name)
	}
	s, err := checked(k.Read.Fields, settings)
	if err != nil {
		return nil, err
	}
	return k.Read.New(env, s)
}

// NewSink checks settings against the kind's write fields and builds a
// Sink. Bad settings give a *ValidationError listing every problem.
func (k *Kind) NewSink(env Env, settings map[string]any) (Sink, error) {
	if k.Write == nil {
		return nil, fmt.Errorf("%w: %s cannot be written to", ErrUnsupported, k.Name)
	}
	s, err := checked(k.Write.Fields, settings)
	if err != nil {
		return nil, err
	}
	return k.Write.New(env, s)
}

// NewCaller checks settings against the kind's call fields and builds a
// Caller. Bad settings give a *ValidationError listing every problem.
func (k *Kind) NewCaller(env Env, settings map[string]any) (Caller, error) {
	if k.Call == nil {
		return nil, fmt.Errorf("%w: %s cannot be called", ErrUnsupported, k.Name)
	}
	s, err := checked(k.Call.Fields, settings)
	if err != nil {
		return nil, err
	}
	return k.Call.New(env, s)
}

func checked(fields []Field, settings map[string]any) (map[string]any, error) {
	s, ps := Check(fields, settings)
	if len(ps) > 0 {
		return nil, &ValidationError{Problems: ps}
	}
	return s, nil
}

// Registry holds connector kinds by name. Kinds join the default registry
// from their package's init() through Register; tests build their own.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]*Kind
}

// Register adds a kind. A kind without a name or a role, a role without a
// constructor, or a name registered twice is a programming error: it
// panics, at start-up, as Caddy's module registration does.
func (r *Registry) Register(k *Kind) {
	if k == nil || k.Name == "" {
		panic("connector: Register of a kind without a name")
	}
	if k.Read == nil && k.Write == nil && k.Call == nil {
		panic("connector: kind " + k.Name + " plays no role")
	}
	if (k.Read != nil && k.Read.New == nil) || (k.Write != nil && k.Write.New == nil) || (k.Call != nil && k.Call.New == nil) {
		panic("connector: kind " + k.Name + " has a role without a constructor")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kinds == nil {
		r.kinds = map[string]*Kind{}
	}
	if _, dup := r.kinds[k.Name]; dup {
		panic("connector: kind " + k.Name + " registered twice")
	}
	r.kinds[k.Name] = k
}

// Lookup finds a kind by name; an unknown name is an error wrapping
// ErrUnknownKind that lists the known ones.
func (r *Registry) Lookup(name string) (*Kind, error) {
	r.mu.RLock()
	k, ok := r.kinds[name]
	r.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w %q; the kinds are %s", ErrUnknownKind, name, quoteList(r.Names()))
	}
	return k, nil
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// defaultRegistry is the process's set of kinds. It is filled only by
// init() functions and read-only afterwards: the one package-level state
// STYLE allows, as Caddy and PocketBase do for their modules.
var defaultRegistry Registry

// Register adds a kind to the default registry; kinds call it from init().
func Register(k *Kind) { defaultRegistry.Register(k) }

// Lookup finds a kind in the default registry.
func Lookup(name string) (*Kind, error) { return defaultRegistry.Lookup(name) }

// Names lists the kinds of the default registry, sorted.
func Names() []string { return defaultRegistry.Names() }
