// Package flow holds the flow document of DESIGN §5: its Go types, the
// parser that reads it from YAML or JSON and lists every problem with its
// place in the document, the JSON Schema shipped with the binary, and the
// compiled form (every jq expression compiled once, when the flow is
// saved) that the engine runs.
//
// The types are the document exactly as written: Parse never fills in
// defaults, so the canonical JSON stored for a flow says what its author
// said. Defaults are applied by Compile (see RetryPolicy and the Compiled
// types).
//
// Struct tags drive validation: `json` names the field, and `flow` says
// what a value must be: required, enum=A|B, min=N, max=N. The JSON Schema
// in schema.json says the same, and a test holds the two together.
package flow

import "time"

// Flow is one flow document: a trigger, a read, steps and writes.
type Flow struct {
	Name    string   `json:"name" flow:"required"`
	Trigger *Trigger `json:"trigger,omitempty"`
	// Read is the source of a batch flow. Dynamic flows get the request
	// body as their record(s); their read, if any, only fetches records
	// again by ID for reprocessing.
	Read *Read `json:"read,omitempty"`
	// EntityID gives each record's ID: failed records are kept by it and
	// fetched again by it.
	EntityID Expr   `json:"entity_id,omitempty" flow:"required"`
	Steps    []Step `json:"steps,omitempty"`
	// Write is shorthand for a last write step.
	Write   *Write   `json:"write,omitempty"`
	OnError *OnError `json:"on_error,omitempty"`
}

// Trigger says what starts a flow: schedules or dynamic calls, never both.
// A flow without a trigger runs by hand or through the API.
type Trigger struct {
	Schedules []Schedule `json:"schedules,omitempty"`
	Dynamic   *Dynamic   `json:"dynamic,omitempty"`
}

// Schedule is a 5-field cron expression in a time zone (UTC when empty).
type Schedule struct {
	Cron     string `json:"cron" flow:"required"`
	Timezone string `json:"timezone,omitempty"`
}

// Dynamic makes a flow callable at POST /call/{project}/{flow}.
type Dynamic struct {
	// Mode sync answers the caller with the respond step's output; async
	// answers 202 with the run ID at once.
	Mode string `json:"mode" flow:"required,enum=sync|async"`
	// Timeout bounds how long a sync caller waits for the answer
	// (default DefaultDynamicTimeout, at most MaxDynamicTimeout); past it
	// the caller gets 504 with the run ID and the run goes on.
	Timeout Duration `json:"timeout,omitempty"`
}

// Read is where a batch flow's records come from: an HTTP API
// (connection and request), a database (connection and sql) or a file
// under the files directory (file, no connection).
type Read struct {
	Connection  string       `json:"connection,omitempty"`
	Request     *Request     `json:"request,omitempty"`
	Records     Expr         `json:"records,omitempty"`
	Paginate    *Paginate    `json:"paginate,omitempty"`
	FetchOne    *FetchOne    `json:"fetch_one,omitempty"`
	Incremental *Incremental `json:"incremental,omitempty"`
	File        *File        `json:"file,omitempty"`
	SQL         *SQLRead     `json:"sql,omitempty"`
}

// Request is an HTTP request to a connection. Path, query and header
// values are templates; Body is a jq expression on the record (the
// record itself when empty, for write and call).
type Request struct {
	Method  string              `json:"method" flow:"required,enum=GET|POST|PUT|PATCH|DELETE"`
	Path    Template            `json:"path" flow:"required"`
	Query   map[string]Template `json:"query,omitempty"`
	Headers map[string]Template `json:"headers,omitempty"`
	Body    Expr                `json:"body,omitempty"`
}

// FetchOne is the request that reads one record by its entity ID, for
// reprocessing; {{entity_id}} in its templates is that ID.
type FetchOne struct {
	Method  string              `json:"method" flow:"required,enum=GET|POST|PUT|PATCH|DELETE"`
	Path    Template            `json:"path" flow:"required"`
	Query   map[string]Template `json:"query,omitempty"`
	Headers map[string]Template `json:"headers,omitempty"`
}

// Paginate says how an HTTP read gets from one page to the next.
type Paginate struct {
	Style string `json:"style" flow:"required,enum=none|page|offset|cursor|link_header"`
	// Next is jq on the page giving the next cursor (style cursor); null,
	// empty or "" ends the read.
	Next Expr `json:"next,omitempty"`
	// Param is the query parameter carrying the page number, offset or
	// cursor.
	Param string `json:"param,omitempty"`
	// Size is the page size asked for in SizeParam; a shorter page is the
	// last one.
	Size      int    `json:"size,omitempty" flow:"min=1,max=10000"`
	SizeParam string `json:"size_param,omitempty"`
	// Start is the first page number (default 1) or offset (default 0).
	Start *int `json:"start,omitempty" flow:"min=0"`
}

// Incremental makes a read resume where the last run ended: the largest
// value of Cursor over the records read is sent as Param on the next run.
type Incremental struct {
	Cursor Expr   `json:"cursor" flow:"required"`
	Param  string `json:"param" flow:"required"`
}

// File is a file under the files directory, read or written as NDJSON,
// CSV with a header row, or one JSON array.
type File struct {
	Path   string `json:"path" flow:"required"`
	Format string `json:"format" flow:"required,enum=ndjson|csv|json"`
}

// SQLRead reads rows of a query in batches. With CursorColumn, only rows
// past the last checkpoint are read; Key is the column that fetches one
// row by entity ID for reprocessing.
type SQLRead struct {
	Query        string `json:"query" flow:"required"`
	CursorColumn string `json:"cursor_column,omitempty"`
	BatchSize    int    `json:"batch_size,omitempty" flow:"min=1,max=100000"`
	Key          string `json:"key,omitempty"`
}

// Step is one thing done to each record: exactly one of its fields is set.
type Step struct {
	Filter  Expr   `json:"filter,omitempty"`
	Map     Expr   `json:"map,omitempty"`
	Call    *Call  `json:"call,omitempty"`
	Switch  []Case `json:"switch,omitempty"`
	Foreach Expr   `json:"foreach,omitempty"`
	Fail    Expr   `json:"fail,omitempty"`
	Log     Expr   `json:"log,omitempty"`
	Write   *Write `json:"write,omitempty"`
	Respond Expr   `json:"respond,omitempty"`
}

// StepKind names what a step does.
type StepKind string

// The step kinds, in the order of Step's fields.
const (
	StepFilter  StepKind = "filter"
	StepMap     StepKind = "map"
	StepCall    StepKind = "call"
	StepSwitch  StepKind = "switch"
	StepForeach StepKind = "foreach"
	StepFail    StepKind = "fail"
	StepLog     StepKind = "log"
	StepWrite   StepKind = "write"
	StepRespond StepKind = "respond"
)

// StepKinds lists every step kind.
var StepKinds = []StepKind{StepFilter, StepMap, StepCall, StepSwitch, StepForeach, StepFail, StepLog, StepWrite, StepRespond}

// Kinds lists the kinds set in s; a valid step has exactly one.
func (s *Step) Kinds() []StepKind {
	var ks []StepKind
	set := []bool{s.Filter != "", s.Map != "", s.Call != nil, s.Switch != nil, s.Foreach != "",
		s.Fail != "", s.Log != "", s.Write != nil, s.Respond != ""}
	for i, on := range set {
		if on {
			ks = append(ks, StepKinds[i])
		}
	}
	return ks
}

// Kind is the step's kind, or "" unless exactly one is set.
func (s *Step) Kind() StepKind {
	if ks := s.Kinds(); len(ks) == 1 {
		return ks[0]
	}
	return ""
}

// Call sends a request mid-flow and keeps the answer under As (default
// "response") in the record.
type Call struct {
	Connection string   `json:"connection" flow:"required"`
	Request    *Request `json:"request" flow:"required"`
	As         string   `json:"as,omitempty"`
}

// Case is one branch of a switch: the first whose When is true runs its
// steps.
type Case struct {
	When Expr `json:"when" flow:"required"`
	// Steps is never omitted: an empty list is a branch that does nothing.
	Steps []Step `json:"steps" flow:"required"`
}

// Write sends records to an HTTP API (connection and request, optionally
// Batch records per request as an array body), a database table
// (connection and sql) or a file under the files directory (file). The
// answer is kept under As (default "response") for the steps after it.
type Write struct {
	Connection string    `json:"connection,omitempty"`
	Request    *Request  `json:"request,omitempty"`
	Batch      int       `json:"batch,omitempty" flow:"min=1,max=10000"`
	File       *File     `json:"file,omitempty"`
	SQL        *SQLWrite `json:"sql,omitempty"`
	As         string    `json:"as,omitempty"`
}

// SQLWrite inserts or upserts records into a table in batches; each
// record's top-level fields are the columns.
type SQLWrite struct {
	Table     string   `json:"table" flow:"required"`
	Mode      string   `json:"mode" flow:"required,enum=insert|upsert"`
	Key       []string `json:"key,omitempty"`
	BatchSize int      `json:"batch_size,omitempty" flow:"min=1,max=100000"`
}

// OnError is the per-record retry policy; see RetryPolicy for defaults.
type OnError struct {
	Retries    *int     `json:"retries,omitempty" flow:"min=0,max=100"`
	Backoff    Duration `json:"backoff,omitempty"`
	MaxBackoff Duration `json:"max_backoff,omitempty"`
}

// Expr is a jq expression (gojq), compiled when the flow is saved.
type Expr string

// Template is text with {{...}} placeholders, each a jq expression on the
// current record whose value is URL-escaped into the text.
type Template string

// Duration is a Go duration such as 2s, 1m30s or 250ms.
type Duration string

// Value is d as a time.Duration (0 when empty or invalid; a saved flow's
// durations are valid).
func (d Duration) Value() time.Duration {
	v, err := time.ParseDuration(string(d))
	if err != nil {
		return 0
	}
	return v
}
