package flow

import (
	"reflect"
	"strings"
	"time"

	"github.com/itchyny/gojq"
)

// Defaults applied by Compile where a document leaves a value out.
const (
	DefaultRetries      = 3
	DefaultBackoff      = time.Second
	DefaultMaxBackoff   = time.Minute
	DefaultSQLBatchSize = 1000
	// DefaultAs is where a call or write puts the other system's answer.
	DefaultAs = "response"
	// EntityIDVar is the variable that holds the ID being fetched in
	// read.fetch_one's templates ({{entity_id}} is short for it).
	EntityIDVar = "$entity_id"
)

// Compiled is a valid flow ready to run: every jq expression and template
// compiled once, defaults applied, the top-level write made the last
// step. It is built from a Flow and never stored: the stored form is the
// Flow's canonical JSON.
//
// Every *gojq.Code here runs with no variables except where its field
// says so.
type Compiled struct {
	Flow *Flow
	// Mode is "" for a batch flow, or the dynamic mode: sync or async.
	Mode string
	// Timeout is a dynamic flow's trigger.dynamic.timeout with its
	// default; 0 for a batch flow.
	Timeout   time.Duration
	Schedules []CompiledSchedule
	// Read is nil for dynamic flows, whose records are the call's body.
	Read     *CompiledRead
	EntityID *gojq.Code
	Steps    []CompiledStep
	Retry    RetryPolicy
}

// RetryPolicy is on_error with its defaults: a failing record is tried
// again Retries times, waiting Backoff, doubling up to MaxBackoff.
type RetryPolicy struct {
	Retries    int
	Backoff    time.Duration
	MaxBackoff time.Duration
}

// Source kinds of a read or write.
const (
	KindHTTP = "http"
	KindSQL  = "sql"
	KindFile = "file"
)

// CompiledRead is the read of a batch flow.
type CompiledRead struct {
	// Kind is KindHTTP, KindSQL or KindFile.
	Kind       string
	Connection string
	// HTTP: Request fetches a page (its templates see null: there is no
	// record yet); Records picks the records out of a page; Paginate has
	// its defaults (style none; param page or offset; start 1 or 0);
	// Next runs on a page (style cursor).
	Request  *CompiledRequest
	Records  *gojq.Code
	Paginate Paginate
	Next     *gojq.Code
	// FetchOne reads one record by ID; its templates take one variable,
	// EntityIDVar. Nil when the flow cannot fetch by ID.
	FetchOne *CompiledRequest
	// IncrementalCursor runs on each record; nil without incremental.
	IncrementalCursor *gojq.Code
	IncrementalParam  string
	// File and SQL are as written, SQL with its batch size defaulted.
	File *File
	SQL  *SQLRead
}

// CompiledRequest is an HTTP request with its templates compiled.
type CompiledRequest struct {
	Method  string
	Path    *CompiledTemplate
	Query   map[string]*CompiledTemplate
	Headers map[string]*CompiledTemplate
	// Body is nil when the request sends the record itself (write, call)
	// or no body (read).
	Body *gojq.Code
}

// CompiledStep is one step; Kind says which fields are set.
type CompiledStep struct {
	Kind StepKind
	// Path is where the step is in the document ("steps[2]",
	// "steps[3].switch[0].steps[1]", "write"), for failures and logs.
	Path string
	// Expr is the expression of filter, map, foreach, fail, log and
	// respond.
	Expr  *gojq.Code
	Call  *CompiledCall
	Cases []CompiledCase
	Write *CompiledWrite
}

// CompiledCall is a call step.
type CompiledCall struct {
	Connection string
	Request    *CompiledRequest
	// As is where the answer goes in the record (DefaultAs if unset).
	As string
}

// CompiledCase is one branch of a switch.
type CompiledCase struct {
	When  *gojq.Code
	Steps []CompiledStep
}

// CompiledWrite is a write step.
type CompiledWrite struct {
	// Kind is KindHTTP, KindSQL or KindFile.
	Kind       string
	Connection string
	Request    *CompiledRequest
	// Batch is how many records go in one HTTP request (1: one each, the
	// record as the body; more: an array of records).
	Batch int
	File  *File
	// SQL is as written, with its batch size defaulted.
	SQL *SQLWrite
	// As is where the answer goes in the record (DefaultAs if unset).
	As string
}

// Compile checks a flow and compiles it. Problems carry paths but no
// places, since a Flow built in Go has no source; Parse and Load report
// places.
func Compile(f *Flow) (*Compiled, error) {
	ps := &problems{}
	out := build(f, ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return out, nil
}

// checker runs the checks beyond types and builds the compiled form.
type checker struct {
	ps  *problems
	pos *positions
}

// build checks the typed flow (tags, then the rules between fields) and
// compiles it; the result is meaningful only when ps stays empty.
func build(f *Flow, ps *problems) *Compiled {
	checkTags(ps, reflect.ValueOf(f).Elem(), "")
	c := &checker{ps: ps, pos: ps.pos}
	out := &Compiled{Flow: f}
	c.name(f.Name)
	out.Schedules, out.Mode = c.trigger(f.Trigger)
	out.Read = c.read(f.Read, out.Mode != "")
	out.EntityID = c.expr("entity_id", f.EntityID)
	out.Steps = c.steps("steps", f.Steps)
	if f.Write != nil {
		out.Steps = append(out.Steps, CompiledStep{Kind: StepWrite, Path: "write", Write: c.write("write", f.Write)})
	}
	c.responds(f, out.Mode)
	if out.Mode != "" {
		out.Timeout = c.dynamicTimeout(f.Trigger.Dynamic.Timeout)
	}
	out.Retry = c.onError(f.OnError)
	return out
}

// expr compiles a whole-string expression with no variables; nil when
// empty (required fields are reported by their tags) or invalid.
func (c *checker) expr(path string, e Expr) *gojq.Code {
	if e == "" {
		return nil
	}
	return c.compileJQ(path, string(e), 0, nil)
}

func (c *checker) steps(path string, steps []Step) []CompiledStep {
	out := make([]CompiledStep, 0, len(steps))
	for i := range steps {
		out = append(out, c.step(index(path, i), &steps[i]))
	}
	return out
}

func (c *checker) step(path string, s *Step) CompiledStep {
	kinds := s.Kinds()
	switch len(kinds) {
	case 0:
		if c.ps.hasBelow(path) {
			return CompiledStep{Path: path} // its unknown field says more
		}
		c.ps.add(path, "is an empty step: a step is exactly one of filter, map, call, switch, foreach, fail, log, write, respond")
		return CompiledStep{Path: path}
	case 1:
	default:
		names := make([]string, len(kinds))
		for i, k := range kinds {
			names[i] = string(k)
		}
		both := "both " + names[0] + " and " + names[1]
		if len(names) > 2 {
			both = strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
		}
		c.ps.add(path, "has %s: a step does exactly one thing; split it into one step each (- %s: ... then - %s: ...)",
			both, kinds[0], kinds[1])
	}
	out := CompiledStep{Kind: kinds[0], Path: path}
	for _, k := range kinds {
		kpath := path + "." + string(k)
		switch k {
		case StepFilter:
			out.Expr = c.expr(kpath, s.Filter)
		case StepMap:
			out.Expr = c.expr(kpath, s.Map)
		case StepForeach:
			out.Expr = c.expr(kpath, s.Foreach)
		case StepFail:
			out.Expr = c.expr(kpath, s.Fail)
		case StepLog:
			out.Expr = c.expr(kpath, s.Log)
		case StepRespond:
			out.Expr = c.expr(kpath, s.Respond)
		case StepCall:
			out.Call = c.call(kpath, s.Call)
		case StepWrite:
			out.Write = c.write(kpath, s.Write)
		case StepSwitch:
			out.Cases = c.cases(kpath, s.Switch)
		}
	}
	return out
}

func (c *checker) cases(path string, cases []Case) []CompiledCase {
	if len(cases) == 0 {
		c.ps.add(path, "has no cases: give at least one, e.g. switch: [{when: '.total > 100', steps: [...]}]")
		return nil
	}
	out := make([]CompiledCase, len(cases))
	for i, cs := range cases {
		cpath := index(path, i)
		out[i] = CompiledCase{When: c.expr(cpath+".when", cs.When), Steps: c.steps(cpath+".steps", cs.Steps)}
	}
	return out
}

func (c *checker) call(path string, call *Call) *CompiledCall {
	c.as(path+".as", call.As)
	out := &CompiledCall{Connection: call.Connection, As: defaultString(call.As, DefaultAs)}
	if call.Request != nil {
		out.Request = c.request(path+".request", call.Request, requestCall)
	}
	return out
}

// responds holds a sync dynamic flow to answering its caller. Elsewhere
// a respond step does nothing (the record passes on), so one flow can be
// run by hand or in a dry run as well as called: DESIGN §5's example has
// one in a scheduled flow.
func (c *checker) responds(f *Flow, mode string) {
	if mode != "sync" || hasRespond(f.Steps) {
		return
	}
	at := "steps"
	if len(f.Steps) == 0 {
		at = ""
	}
	c.ps.add(at, "a sync dynamic flow must answer its caller: add a respond step, e.g. - respond: '{status: \"accepted\", id: .id}'")
}

func hasRespond(steps []Step) bool {
	for _, s := range steps {
		if s.Respond != "" {
			return true
		}
		for _, cs := range s.Switch {
			if hasRespond(cs.Steps) {
				return true
			}
		}
	}
	return false
}

func (c *checker) onError(o *OnError) RetryPolicy {
	p := RetryPolicy{Retries: DefaultRetries, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff}
	if o == nil {
		return p
	}
	if o.Retries != nil {
		p.Retries = *o.Retries
	}
	if d, ok := c.duration("on_error.backoff", o.Backoff); ok {
		p.Backoff = d
	}
	if d, ok := c.duration("on_error.max_backoff", o.MaxBackoff); ok {
		p.MaxBackoff = d
	}
	if p.MaxBackoff < p.Backoff {
		at := "on_error.max_backoff"
		if o.MaxBackoff == "" {
			at = "on_error.backoff"
		}
		c.ps.add(at, "max_backoff (%s) is shorter than backoff (%s): the wait starts at backoff and doubles up to max_backoff", p.MaxBackoff, p.Backoff)
	}
	return p
}

// Bounds of trigger.dynamic.timeout.
const (
	DefaultDynamicTimeout = 30 * time.Second
	MaxDynamicTimeout     = 5 * time.Minute
)

// dynamicTimeout is trigger.dynamic.timeout with its default.
func (c *checker) dynamicTimeout(d Duration) time.Duration {
	const path = "trigger.dynamic.timeout"
	v, ok := c.duration(path, d)
	switch {
	case !ok:
		return DefaultDynamicTimeout
	case v > MaxDynamicTimeout:
		c.ps.add(path, "is %s, over the most allowed, %s: a caller should not wait longer (use mode: async for long work)", v, MaxDynamicTimeout)
		return DefaultDynamicTimeout
	}
	return v
}

// maxWait caps backoff: a record waiting longer holds its run up.
const maxWait = time.Hour

func (c *checker) duration(path string, d Duration) (time.Duration, bool) {
	if d == "" {
		return 0, false
	}
	v, err := time.ParseDuration(string(d))
	switch {
	case err != nil:
		c.ps.add(path, "%s is not a duration: give a number with a unit, e.g. 2s, 500ms, 1m or 1m30s", quoteJSONish(string(d)))
	case v <= 0:
		c.ps.add(path, "must be more than 0, e.g. 2s")
	case v > maxWait:
		c.ps.add(path, "is %s, over the most allowed, %s", v, maxWait)
	default:
		return v, true
	}
	return 0, false
}

func defaultString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
