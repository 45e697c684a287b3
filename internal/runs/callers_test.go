package runs

import (
	"context"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/flow"
)

// TestRawCalls: every call step of the compiled flow is found in the
// document by its path, switch cases included.
func TestRawCalls(t *testing.T) {
	doc := `name: t
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - call: {connection: a, request: {method: GET, path: "/a/{{.id}}"}}
  - switch:
      - when: '.x'
        steps:
          - map: .
          - call: {connection: b, request: {method: POST, path: /b}, as: b}
      - when: 'true'
        steps:
          - switch:
              - when: '.y'
                steps: [{call: {connection: c, request: {method: GET, path: /c}}}]
write: {file: {path: out.ndjson, format: ndjson}}
`
	c, err := flow.Load([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	raw := rawCalls(c.Flow)
	var paths, conns []string
	for _, st := range engine.CallSteps(c) {
		paths = append(paths, st.Path)
		if raw[st.Path] == nil {
			t.Fatalf("no document call at %s", st.Path)
		}
		conns = append(conns, raw[st.Path].Connection)
	}
	want := []string{"steps[0]", "steps[1].switch[0].steps[1]", "steps[1].switch[1].steps[0].switch[0].steps[0]"}
	if !slices.Equal(paths, want) || strings.Join(conns, "") != "abc" || len(raw) != 3 {
		t.Errorf("paths %v (want %v), connections %v", paths, want, conns)
	}

	// Without connections bound, every call step says why it has no
	// caller, and a run refuses to start.
	s := &Service{}
	out, errs := s.callers(context.Background(), "p", connector.Env{}, c)
	if len(out) != 0 || len(errs) != 3 {
		t.Fatalf("callers %v, errors %v", out, errs)
	}
	var msgs []string
	for _, err := range errs {
		msgs = append(msgs, err.Error())
	}
	sort.Strings(msgs)
	if !strings.HasPrefix(msgs[0], "steps[0]: ") {
		t.Errorf("errors %v", msgs)
	}
	if _, err := s.buildCallers(context.Background(), "p", c); err == nil || !strings.HasPrefix(err.Error(), "steps[0]: ") {
		t.Errorf("buildCallers: %v", err)
	}
}
