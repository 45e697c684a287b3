package runs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/pipeline"
)

// MaxDryRunRecords bounds the sample records of one dry run.
const MaxDryRunRecords = 100

// DryRunInput is a dry run of a flow.
type DryRunInput struct {
	// Records is the JSON array of sample records, as sent (at most
	// MaxDryRunRecords; each usually an object, as a source gives them).
	Records json.RawMessage
	// Definition, when set, is an unsaved flow document to try instead of
	// the saved one: a JSON object, or YAML text as a JSON string.
	Definition json.RawMessage
	// Calls makes the call steps' requests; by default they are not made.
	Calls bool
}

// DryRunResult is what a dry run did with each sample record.
type DryRunResult struct {
	// Version is the flow version tried; 0 for an unsaved definition.
	Version int
	Records []engine.RecordTrace
}

// DryRun takes sample records through a flow of a project, the saved one
// or an unsaved definition, and reports for each record what every step
// did and what every write would have sent (see engine.Engine.DryRun). It
// writes nothing anywhere and creates no run; calls are made only when
// in.Calls is set. A flow that is not the project's is store.ErrNotFound
// (whatever the body); records that are not an array of at most
// MaxDryRunRecords, or a definition with problems, are a
// *pipeline.ValidationError listing every problem.
func (s *Service) DryRun(ctx context.Context, projectID, pipeID, flowID string, in DryRunInput) (*DryRunResult, error) {
	f, err := s.st.Reader().FlowByID(ctx, projectID, pipeID, flowID)
	if err != nil {
		return nil, err
	}
	recs, problems := sampleRecords(in.Records)
	out := &DryRunResult{Version: f.Version}
	def := []byte(f.Definition)
	if len(in.Definition) > 0 && string(in.Definition) != "null" {
		out.Version = 0
		var dps []pipeline.Problem
		if def, dps, err = unsavedDefinition(in.Definition); err != nil {
			return nil, err
		}
		problems = append(problems, dps...)
	}
	if len(problems) > 0 {
		return nil, &pipeline.ValidationError{Problems: problems}
	}
	c, err := flow.Load(def)
	if err != nil {
		return nil, fmt.Errorf("runs: the flow does not compile: %w", err)
	}
	env := connector.Env{FilesDir: s.filesDir, Logger: s.log}
	broken := map[string]error{}
	sinks := map[string]connector.Sink{}
	for _, w := range engine.WriteSteps(c) {
		sink, err := s.sink(ctx, projectID, env, w.Write)
		if err != nil {
			broken[w.Path] = err
			continue
		}
		sinks[w.Path] = sink
	}
	callers, cerrs := s.callers(ctx, projectID, env, c)
	for path, err := range cerrs {
		broken[path] = err
	}
	e, err := engine.New(c, sinks, engine.Options{Callers: callers, DryRun: &engine.DryRun{Calls: in.Calls, Broken: broken}})
	if err != nil {
		for _, sk := range sinks {
			sk.Close()
		}
		for _, cl := range callers {
			cl.Close()
		}
		return nil, fmt.Errorf("runs: dry run: %w", err)
	}
	if out.Records, err = e.DryRun(ctx, recs); err != nil {
		return nil, fmt.Errorf("runs: dry run: %w", err)
	}
	return out, nil
}

// sampleRecords decodes a dry run's records: a JSON array of at most
// MaxDryRunRecords values, numbers kept as json.Number as sources keep
// them.
func sampleRecords(raw json.RawMessage) ([]any, []pipeline.Problem) {
	bad := func(format string, args ...any) ([]any, []pipeline.Problem) {
		return nil, []pipeline.Problem{{Path: "records", Message: fmt.Sprintf(format, args...)}}
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return bad(`is required: the sample records as a JSON array, e.g. "records": [{"id": 1, "total": 10}]`)
	}
	if raw[0] != '[' {
		return bad(`must be a JSON array of sample records, e.g. "records": [{"id": 1, "total": 10}]; to try one record, put it in brackets`)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var recs []any
	if err := dec.Decode(&recs); err != nil {
		return bad("is not a valid JSON array: %v", err)
	}
	if len(recs) == 0 {
		return bad("is empty: give at least one sample record")
	}
	if len(recs) > MaxDryRunRecords {
		return bad("has %d records; a dry run takes at most %d: send fewer", len(recs), MaxDryRunRecords)
	}
	return recs, nil
}

// unsavedDefinition checks a definition sent with a dry run as a save
// would, and returns its canonical JSON, or its problems placed under
// "definition".
func unsavedDefinition(raw json.RawMessage) ([]byte, []pipeline.Problem, error) {
	_, canon, err := flow.ParseDefinition(raw)
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		ps := make([]pipeline.Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			ps[i] = pipeline.Problem{Path: underDefinition(p.Path), Line: p.Line, Column: p.Column, Message: p.Message}
		}
		return nil, ps, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("runs: checking the definition: %w", err)
	}
	return canon, nil, nil
}

// underDefinition places a path of the flow document under the request's
// "definition" field, as the pipeline service does for saves.
func underDefinition(p string) string {
	switch {
	case p == "":
		return "definition"
	case strings.HasPrefix(p, "["):
		return "definition" + p
	}
	return "definition." + p
}
