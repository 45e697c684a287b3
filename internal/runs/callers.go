package runs

import (
	"context"
	"fmt"
	"strconv"

	"github.com/sluice-dev/sluice/internal/connector"
	httpconn "github.com/sluice-dev/sluice/internal/connectors/http"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
)

// callers makes the callers of a flow's call steps, keyed by step Path,
// for engine.Options.Callers: each call's connection bound through the
// service's Binder, with the call's request as the http connector's call
// settings. A step whose caller cannot be made (no such connection, a
// connection that cannot be called) is in errs instead, with the reason
// prefixed by its path; nothing is opened.
func (s *Service) callers(ctx context.Context, projectID string, env connector.Env, c *flow.Compiled) (map[string]connector.Caller, map[string]error) {
	steps := engine.CallSteps(c)
	if len(steps) == 0 {
		return nil, nil
	}
	raw := rawCalls(c.Flow)
	out := map[string]connector.Caller{}
	errs := map[string]error{}
	for _, st := range steps {
		call := raw[st.Path]
		if call == nil {
			errs[st.Path] = fmt.Errorf("%s: the call step is not in the flow document", st.Path)
			continue
		}
		cl, err := s.caller(ctx, projectID, env, call)
		if err != nil {
			errs[st.Path] = fmt.Errorf("%s: %w", st.Path, err)
			continue
		}
		out[st.Path] = cl
	}
	return out, errs
}

// buildCallers is callers for a run: any step without a caller fails the
// run before it starts, and the callers made are closed.
func (s *Service) buildCallers(ctx context.Context, projectID string, c *flow.Compiled) (map[string]connector.Caller, error) {
	env := s.env(ctx)
	out, errs := s.callers(ctx, projectID, env, c)
	for _, st := range engine.CallSteps(c) {
		if err := errs[st.Path]; err != nil {
			for _, cl := range out {
				cl.Close()
			}
			return nil, err
		}
	}
	return out, nil
}

// caller makes the caller of one call step.
func (s *Service) caller(ctx context.Context, projectID string, env connector.Env, call *flow.Call) (connector.Caller, error) {
	kind, err := s.bound(ctx, projectID, call.Connection)
	if err != nil {
		return nil, err
	}
	if kind.Name != flow.KindHTTP || kind.Call == nil {
		return nil, fmt.Errorf("connection %q is not an http connection, and only http connections answer a call step", call.Connection)
	}
	return kind.NewCaller(env, httpconn.CallSettings(call))
}

// rawCalls finds the call steps of a flow document by the paths the
// compiled form gives them ("steps[1]", "steps[2].switch[0].steps[1]").
func rawCalls(f *flow.Flow) map[string]*flow.Call {
	out := map[string]*flow.Call{}
	var walk func(path string, steps []flow.Step)
	walk = func(path string, steps []flow.Step) {
		for i := range steps {
			p := path + "[" + strconv.Itoa(i) + "]"
			if steps[i].Call != nil {
				out[p] = steps[i].Call
			}
			for j := range steps[i].Switch {
				walk(p+".switch["+strconv.Itoa(j)+"].steps", steps[i].Switch[j].Steps)
			}
		}
	}
	if f != nil {
		walk("steps", f.Steps)
	}
	return out
}
