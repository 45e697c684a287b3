package file

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

// filesDir is a fresh files directory, made the way the server makes it.
func filesDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "files")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// kind is the file kind as the engine finds it: through the registry.
func kind(t *testing.T) *connector.Kind {
	t.Helper()
	k, err := connector.Lookup("file")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newTestSource(t *testing.T, dir string, batch int, settings map[string]any) (connector.Source, error) {
	t.Helper()
	return kind(t).NewSource(connector.Env{FilesDir: dir, BatchSize: batch}, settings)
}

func newTestSink(t *testing.T, dir string, settings map[string]any) (connector.Sink, error) {
	t.Helper()
	return kind(t).NewSink(connector.Env{FilesDir: dir}, settings)
}

// got is one record as a test compares it.
type got struct {
	Line, Index int64
	Data        string // compact JSON
	Err         string
}

// readAll opens src and reads it to the end, returning its records, the
// positions of its batches, and the error that stopped it (nil at EOF).
func readAll(t *testing.T, src connector.Source) ([]got, []connector.Position, error) {
	t.Helper()
	ctx := context.Background()
	defer src.Close()
	if err := src.Open(ctx); err != nil {
		return nil, nil, err
	}
	var out []got
	var pos []connector.Position
	for {
		recs, p, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			return out, pos, nil
		}
		if err != nil {
			return out, pos, err
		}
		pos = append(pos, p)
		for _, r := range recs {
			g := got{Line: r.Meta.Line, Index: r.Meta.Index}
			if r.Err != nil {
				g.Err = r.Err.Error()
			} else {
				b, err := json.Marshal(r.Data)
				if err != nil {
					t.Fatal(err)
				}
				g.Data = string(b)
			}
			out = append(out, g)
		}
	}
}

// sameRecords compares records read with the wanted ones: Data exactly,
// Err by a part of its message.
func sameRecords(t *testing.T, gotRecs, want []got) {
	t.Helper()
	if len(gotRecs) != len(want) {
		t.Fatalf("got %d records, want %d:\n got  %+v\n want %+v", len(gotRecs), len(want), gotRecs, want)
	}
	for i := range want {
		g, w := gotRecs[i], want[i]
		ok := g.Line == w.Line && g.Index == w.Index && g.Data == w.Data &&
			(w.Err == "" && g.Err == "" || w.Err != "" && strings.Contains(g.Err, w.Err))
		if !ok {
			t.Errorf("record %d:\n got  %+v\n want %+v", i, g, w)
		}
	}
}

func records(values ...any) []connector.Record {
	out := make([]connector.Record, len(values))
	for i, v := range values {
		out[i] = connector.Record{Data: v}
	}
	return out
}

// writeAll writes recs through a sink built from settings and closes it.
func writeAll(t *testing.T, dir string, settings map[string]any, recs []connector.Record) []connector.Outcome {
	t.Helper()
	ctx := context.Background()
	s, err := newTestSink(t, dir, settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	out, err := s.Write(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return out
}

func settings(path string, format Format, kv ...any) map[string]any {
	m := map[string]any{"path": path, "format": string(format)}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

func mkdir(dir, name string) error { return os.Mkdir(filepath.Join(dir, name), 0o700) }

func asValidation(err error, ve **connector.ValidationError) bool { return errors.As(err, ve) }
