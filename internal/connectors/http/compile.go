package http

import (
	"errors"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// The connector's settings are the flow's own text. They are compiled by
// wrapping them in the smallest valid flow and compiling that with the
// flow package, so templates, jq and the rules between fields (a GET with
// a body, a fetch_one that never uses {{entity_id}}, the pagination
// fields of each style) are checked exactly as saving a flow checks them.

// flowRequest turns checked request settings into the flow's Request.
func flowRequest(m map[string]any) *flow.Request {
	if m == nil {
		return nil
	}
	r := &flow.Request{}
	r.Method, _ = m["method"].(string)
	p, _ := m["path"].(string)
	r.Path = flow.Template(p)
	if q, ok := m["query"].(map[string]string); ok {
		r.Query = templates(q)
	}
	if h, ok := m["headers"].(map[string]string); ok {
		r.Headers = templates(h)
	}
	b, _ := m["body"].(string)
	r.Body = flow.Expr(b)
	return r
}

func templates(m map[string]string) map[string]flow.Template {
	out := make(map[string]flow.Template, len(m))
	for k, v := range m {
		out[k] = flow.Template(v)
	}
	return out
}

// compileFlow compiles f and maps its problems under prefix (the part of
// the wrapper flow the settings went into) back to settings paths.
func compileFlow(f *flow.Flow, prefix string) (*flow.Compiled, error) {
	c, err := flow.Compile(f)
	if err == nil {
		return c, nil
	}
	var ve *flow.ValidationError
	if !errors.As(err, &ve) {
		return nil, err
	}
	out := &connector.ValidationError{}
	for _, p := range ve.Problems {
		field := strings.TrimPrefix(strings.TrimPrefix(p.Path, prefix), ".")
		out.Problems = append(out.Problems, connector.Problem{Field: field, Message: p.Message})
	}
	return nil, out
}

// wrapper is the smallest valid flow around a read, step or write.
func wrapper() *flow.Flow {
	return &flow.Flow{Name: "http", EntityID: "."}
}

// compileRead compiles read settings (checked against sourceFields).
func compileRead(s map[string]any) (*flow.CompiledRead, error) {
	r := &flow.Read{Connection: "http"}
	r.Request = flowRequest(obj(s, "request"))
	r.Records, _ = stringAt(s, "records")
	if p := obj(s, "paginate"); p != nil {
		pg := &flow.Paginate{}
		pg.Style, _ = p["style"].(string)
		next, _ := p["next"].(string)
		pg.Next = flow.Expr(next)
		pg.Param, _ = p["param"].(string)
		pg.Size, _ = p["size"].(int)
		pg.SizeParam, _ = p["size_param"].(string)
		if n, ok := p["start"].(int); ok {
			pg.Start = &n
		}
		r.Paginate = pg
	}
	if fo := obj(s, "fetch_one"); fo != nil {
		req := flowRequest(fo)
		r.FetchOne = &flow.FetchOne{Method: req.Method, Path: req.Path, Query: req.Query, Headers: req.Headers}
	}
	if inc := obj(s, "incremental"); inc != nil {
		cur, _ := inc["cursor"].(string)
		param, _ := inc["param"].(string)
		r.Incremental = &flow.Incremental{Cursor: flow.Expr(cur), Param: param}
	}
	f := wrapper()
	f.Read = r
	c, err := compileFlow(f, "read")
	if err != nil {
		return nil, err
	}
	return c.Read, nil
}

// compileWrite compiles write settings (checked against sinkFields).
func compileWrite(s map[string]any) (*flow.CompiledWrite, error) {
	batch, _ := s["batch"].(int)
	f := wrapper()
	f.Read = &flow.Read{File: &flow.File{Path: "in.ndjson", Format: "ndjson"}}
	f.Write = &flow.Write{Connection: "http", Request: flowRequest(obj(s, "request")), Batch: batch}
	c, err := compileFlow(f, "write")
	if err != nil {
		return nil, err
	}
	return c.Steps[len(c.Steps)-1].Write, nil
}

// compileCall compiles call settings (checked against callerFields).
func compileCall(s map[string]any) (*flow.CompiledRequest, error) {
	f := wrapper()
	f.Read = &flow.Read{File: &flow.File{Path: "in.ndjson", Format: "ndjson"}}
	f.Steps = []flow.Step{{Call: &flow.Call{Connection: "http", Request: flowRequest(obj(s, "request"))}}}
	c, err := compileFlow(f, "steps[0].call")
	if err != nil {
		return nil, err
	}
	return c.Steps[0].Call.Request, nil
}

func obj(s map[string]any, name string) map[string]any {
	m, _ := s[name].(map[string]any)
	return m
}

func stringAt(s map[string]any, name string) (flow.Expr, bool) {
	v, ok := s[name].(string)
	return flow.Expr(v), ok
}

// ReadSettings are the settings of an http source for a flow's read;
// since is the largest cursor value of the flow's last run ("" for none),
// used only when the read is incremental.
func ReadSettings(r *flow.Read, since string) map[string]any {
	s := map[string]any{"request": requestSettings(r.Request), "records": string(r.Records)}
	if p := r.Paginate; p != nil {
		pg := map[string]any{"style": p.Style}
		setString(pg, "next", string(p.Next))
		setString(pg, "param", p.Param)
		setString(pg, "size_param", p.SizeParam)
		if p.Size != 0 {
			pg["size"] = p.Size
		}
		if p.Start != nil {
			pg["start"] = *p.Start
		}
		s["paginate"] = pg
	}
	if fo := r.FetchOne; fo != nil {
		s["fetch_one"] = requestSettings(&flow.Request{Method: fo.Method, Path: fo.Path, Query: fo.Query, Headers: fo.Headers})
	}
	if inc := r.Incremental; inc != nil {
		m := map[string]any{"cursor": string(inc.Cursor), "param": inc.Param}
		setString(m, "since", since)
		s["incremental"] = m
	}
	return s
}

// WriteSettings are the settings of an http sink for a flow's write.
func WriteSettings(w *flow.Write) map[string]any {
	return map[string]any{"request": requestSettings(w.Request), "batch": max(w.Batch, 1)}
}

// CallSettings are the settings of an http caller for a flow's call step.
func CallSettings(c *flow.Call) map[string]any {
	return map[string]any{"request": requestSettings(c.Request)}
}

func requestSettings(r *flow.Request) map[string]any {
	if r == nil {
		return nil
	}
	m := map[string]any{"method": r.Method, "path": string(r.Path)}
	if len(r.Query) > 0 {
		m["query"] = textMap(r.Query)
	}
	if len(r.Headers) > 0 {
		m["headers"] = textMap(r.Headers)
	}
	setString(m, "body", string(r.Body))
	return m
}

func textMap(m map[string]flow.Template) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

func setString(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

// StepSources finds the flow's own write and call steps by the paths the
// compiled form gives them (flow.CompiledStep.Path: "steps[2]",
// "steps[3].switch[0].steps[1]", "write"), so the runs layer can give an
// http sink or caller the text of its step.
func StepSources(f *flow.Flow) (writes map[string]*flow.Write, calls map[string]*flow.Call) {
	writes, calls = map[string]*flow.Write{}, map[string]*flow.Call{}
	var walk func(path string, steps []flow.Step)
	walk = func(path string, steps []flow.Step) {
		for i := range steps {
			s := &steps[i]
			sp := path + "[" + strconv.Itoa(i) + "]"
			if s.Write != nil {
				writes[sp] = s.Write
			}
			if s.Call != nil {
				calls[sp] = s.Call
			}
			for j := range s.Switch {
				walk(sp+".switch["+strconv.Itoa(j)+"].steps", s.Switch[j].Steps)
			}
		}
	}
	walk("steps", f.Steps)
	if f.Write != nil {
		writes["write"] = f.Write
	}
	return writes, calls
}
