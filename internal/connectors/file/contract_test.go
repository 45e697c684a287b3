package file

import (
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/connector/connectortest"
)

// TestContract runs the connector contract suite on every format and mode.
func TestContract(t *testing.T) {
	inputs := map[Format]string{
		NDJSON: "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n",
		CSV:    "id\n1\n2\n3\n",
		JSON:   `[{"id":1},{"id":2},{"id":3}]`,
	}
	for format, content := range inputs {
		t.Run("source "+string(format), func(t *testing.T) {
			connectortest.RunSource(t, func(t *testing.T) connector.Source {
				dir := filesDir(t)
				writeFile(t, dir, "in", content)
				s, err := newTestSource(t, dir, 2, settings("in", format))
				if err != nil {
					t.Fatal(err)
				}
				return s
			}, 3)
		})
		for _, mode := range []Mode{Replace, Append} {
			if format == JSON && mode == Append {
				continue
			}
			t.Run("sink "+string(format)+" "+string(mode), func(t *testing.T) {
				connectortest.RunSink(t, func(t *testing.T) connector.Sink {
					s, err := newTestSink(t, filesDir(t), settings("out", format, "mode", string(mode)))
					if err != nil {
						t.Fatal(err)
					}
					return s
				}, records(map[string]any{"id": "1"}, map[string]any{"id": "2"}))
			})
		}
	}
}
