package file

import (
	"context"
	"encoding/json"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

// TestRoundTrip writes records in each format and reads them back.
func TestRoundTrip(t *testing.T) {
	nested := []any{
		map[string]any{"id": json.Number("12345678901234567890"), "note": "<b>&</b>", "items": []any{map[string]any{"sku": "A", "qty": json.Number("2")}}},
		map[string]any{"id": json.Number("2"), "note": "line\nbreak, \"quoted\"", "items": []any{}},
	}
	flat := []any{
		map[string]any{"id": "1", "note": "a, b", "name": "Ada"},
		map[string]any{"id": "2", "note": "say \"hi\"\ntwice", "name": ""},
		map[string]any{"id": "3", "note": "  spaced  ", "name": "Zoë"},
	}
	cases := []struct {
		name   string
		format Format
		delim  string
		values []any
		file   string // the bytes written, when checked
	}{
		{name: "ndjson", format: NDJSON, values: nested,
			file: `{"id":12345678901234567890,"items":[{"qty":2,"sku":"A"}],"note":"<b>&</b>"}` + "\n" + `{"id":2,"items":[],"note":"line\nbreak, \"quoted\""}` + "\n"},
		{name: "json", format: JSON, values: nested,
			file: "[\n" + `{"id":12345678901234567890,"items":[{"qty":2,"sku":"A"}],"note":"<b>&</b>"}` + ",\n" + `{"id":2,"items":[],"note":"line\nbreak, \"quoted\""}` + "\n]\n"},
		{name: "json no records", format: JSON, values: nil, file: "[]\n"},
		{name: "ndjson no records", format: NDJSON, values: nil, file: ""},
		{name: "csv", format: CSV, values: flat,
			file: "id,name,note\n1,Ada,\"a, b\"\n2,,\"say \"\"hi\"\"\ntwice\"\n3,Zoë,\"  spaced  \"\n"}, // encoding/csv quotes a leading space
		{name: "csv semicolon", format: CSV, delim: ";", values: flat},
		{name: "csv tab", format: CSV, delim: "\t", values: flat},
		{name: "csv no records", format: CSV, values: nil, file: ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filesDir(t)
			name := "out/data." + string(tc.format) // the directory is created
			s := settings(name, tc.format)
			if tc.delim != "" {
				s["delimiter"] = tc.delim
			}
			for i, o := range writeAll(t, dir, s, records(tc.values...)) {
				if o.Err != nil {
					t.Fatalf("record %d: %v", i, o.Err)
				}
			}
			if tc.file != "" || tc.values == nil {
				if got := readFile(t, dir, name); got != tc.file {
					t.Fatalf("file:\n%q\nwant\n%q", got, tc.file)
				}
			}
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("mode %v, %v; want 0600", fi.Mode(), err)
			}
			delete(s, "mode")
			src, err := newTestSource(t, dir, 0, s)
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if err := src.Open(ctx); err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			var back []any
			for {
				recs, _, err := src.Read(ctx)
				if err != nil {
					break
				}
				for _, r := range recs {
					if r.Err != nil {
						t.Fatal(r.Err)
					}
					back = append(back, r.Data)
				}
			}
			if !reflect.DeepEqual(back, tc.values) {
				t.Fatalf("read back %#v\nwant %#v", back, tc.values)
			}
		})
	}
}

// TestWriteFailsOneRecord: a record the format cannot hold fails alone,
// with a reason; the others are written.
func TestWriteFailsOneRecord(t *testing.T) {
	cases := []struct {
		name     string
		s        map[string]any
		values   []any
		failures map[int]string
		file     string
	}{
		{name: "ndjson NaN", s: settings("o.ndjson", NDJSON), values: []any{map[string]any{"a": 1}, map[string]any{"a": math.NaN()}, map[string]any{"a": 3}},
			failures: map[int]string{1: "cannot be written as JSON: json: unsupported value: NaN"}, file: "{\"a\":1}\n{\"a\":3}\n"},
		{name: "json channel", s: settings("o.json", JSON), values: []any{map[string]any{"a": 1}, make(chan int), map[string]any{"a": 3}},
			failures: map[int]string{1: "cannot be written as JSON"}, file: "[\n{\"a\":1},\n{\"a\":3}\n]\n"},
		{name: "csv value kinds", s: settings("o.csv", CSV), values: []any{
			map[string]any{"s": "x", "n": json.Number("1.50"), "f": 2.5, "i": 7, "b": true, "z": nil, "o": map[string]any{"k": []any{1}}, "big": new(big.Int).Lsh(big.NewInt(1), 70)},
		}, file: "b,big,f,i,n,o,s,z\ntrue,1180591620717411303424,2.5,7,1.50,\"{\"\"k\"\":[1]}\",x,\n"},
		{name: "csv not an object", s: settings("o.csv", CSV), values: []any{[]any{1, 2}, map[string]any{"a": "1"}},
			failures: map[int]string{0: "a CSV row is made from an object record, and this record is an array"}, file: "a\n1\n"},
		{name: "csv key that is not a column", s: settings("o.csv", CSV), values: []any{map[string]any{"a": "1"}, map[string]any{"a": "2", "b": "x"}, map[string]any{}},
			failures: map[int]string{1: `field "b" is not one of the CSV columns (a)`}, file: "a\n1\n\n"},
		{name: "csv columns pick and order", s: settings("o.csv", CSV, "columns", []any{"b", "a"}), values: []any{map[string]any{"a": "1", "b": "2", "c": "left out"}},
			file: "b,a\n2,1\n"},
		{name: "csv columns without records", s: settings("o.csv", CSV, "columns", []any{"b", "a"}), file: "b,a\n"},
		{name: "csv empty first record", s: settings("o.csv", CSV), values: []any{map[string]any{}, map[string]any{"a": "1"}},
			failures: map[int]string{0: "the first record has no fields"}, file: "a\n1\n"},
		{name: "csv infinite", s: settings("o.csv", CSV), values: []any{map[string]any{"a": math.Inf(1)}, map[string]any{"a": 1.0}},
			failures: map[int]string{0: `field "a": is not a finite number`}, file: "a\n1\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filesDir(t)
			out := writeAll(t, dir, tc.s, records(tc.values...))
			for i, o := range out {
				want, fail := tc.failures[i]
				switch {
				case fail && (o.Err == nil || !strings.Contains(o.Err.Error(), want)):
					t.Errorf("record %d: err %v, want %q", i, o.Err, want)
				case !fail && o.Err != nil:
					t.Errorf("record %d: %v", i, o.Err)
				}
			}
			if got := readFile(t, dir, tc.s["path"].(string)); got != tc.file {
				t.Fatalf("file:\n%q\nwant\n%q", got, tc.file)
			}
		})
	}
}

// TestAtomicReplace: until Close succeeds the old file stays whole, and a
// failed run (Abort) leaves no trace of itself.
func TestAtomicReplace(t *testing.T) {
	ctx := context.Background()
	for _, format := range []Format{NDJSON, CSV, JSON} {
		t.Run(string(format), func(t *testing.T) {
			dir := filesDir(t)
			name := "out/orders." + string(format)
			writeFile(t, dir, name, "old content\n")
			newSink := func() connector.Sink {
				s, err := newTestSink(t, dir, settings(name, format))
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Open(ctx); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Write(ctx, records(map[string]any{"id": "1"}, map[string]any{"id": "2"})); err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(ctx); err != nil {
					t.Fatal(err)
				}
				return s
			}

			// A run that fails: the engine aborts the sink.
			s := newSink()
			if _, ok := s.(connector.Committer); !ok {
				t.Fatal("a replace sink is not a connector.Committer")
			}
			if got := readFile(t, dir, name); got != "old content\n" {
				t.Fatalf("before Close the file is %q", got)
			}
			if err := s.(connector.Committer).Abort(); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir, name); got != "old content\n" {
				t.Fatalf("after Abort the file is %q", got)
			}
			onlyFile(t, dir, "out", "orders."+string(format))

			// A run that dies without Abort or Close (a killed worker)
			// leaves only a hidden temporary file, never a partial file
			// under the name.
			dead := newSink()
			if got := readFile(t, dir, name); got != "old content\n" {
				t.Fatalf("a dead run changed the file to %q", got)
			}
			dead.(connector.Committer).Abort()

			// A run that succeeds replaces the file whole.
			s = newSink()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir, name); !strings.Contains(got, "2") || strings.Contains(got, "old") {
				t.Fatalf("after Close the file is %q", got)
			}
			onlyFile(t, dir, "out", "orders."+string(format))
		})
	}
}

// TestFailedCloseLeavesNoFile: when the rename cannot happen (here the
// path became a directory while the run wrote), Close fails, removes the
// temporary file and creates nothing.
func TestFailedCloseLeavesNoFile(t *testing.T) {
	ctx := context.Background()
	dir := filesDir(t)
	s, err := newTestSink(t, dir, settings("out.ndjson", NDJSON))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Open(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write(ctx, records(map[string]any{"id": 1})); err != nil {
		t.Fatal(err)
	}
	writeFile(t, dir, "out.ndjson/blocker", "x")
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), `rename the temporary file onto "out.ndjson"`) {
		t.Fatalf("Close: %v", err)
	}
	onlyFile(t, dir, ".", "out.ndjson")
}

// onlyFile fails unless sub holds exactly the file name: no temporary
// files left behind.
func onlyFile(t *testing.T, dir, sub, name string) {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, sub))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if len(names) != 1 || names[0] != name {
		t.Fatalf("%s holds %v, want only %s", sub, names, name)
	}
}

// TestAppend: records go to the end of the file; a CSV header is written
// once and an existing one is kept; an unfinished last line is finished.
func TestAppend(t *testing.T) {
	cases := []struct {
		name    string
		s       map[string]any
		before  *string // nil: no file yet
		values  []any
		after   string
		openErr string
	}{
		{name: "ndjson new file", s: settings("a.ndjson", NDJSON, "mode", "append"), values: []any{map[string]any{"id": 1}}, after: "{\"id\":1}\n"},
		{name: "ndjson existing", s: settings("a.ndjson", NDJSON, "mode", "append"), before: ptr("{\"id\":0}\n"), values: []any{map[string]any{"id": 1}}, after: "{\"id\":0}\n{\"id\":1}\n"},
		{name: "ndjson unfinished last line", s: settings("a.ndjson", NDJSON, "mode", "append"), before: ptr("{\"id\":0}"), values: []any{map[string]any{"id": 1}}, after: "{\"id\":0}\n{\"id\":1}\n"},
		{name: "csv new file", s: settings("a.csv", CSV, "mode", "append"), values: []any{map[string]any{"id": "1"}}, after: "id\n1\n"},
		{name: "csv keeps the existing header", s: settings("a.csv", CSV, "mode", "append"), before: ptr(bomText + "name,id\r\nAda,0\r\n"),
			values: []any{map[string]any{"id": "1", "name": "Grace"}}, after: bomText + "name,id\r\nAda,0\r\nGrace,1\n"},
		{name: "csv header-only file", s: settings("a.csv", CSV, "mode", "append"), before: ptr("id\n"), values: []any{map[string]any{"id": "1"}}, after: "id\n1\n"},
		{name: "csv columns must match the header", s: settings("a.csv", CSV, "mode", "append", "columns", []any{"id"}), before: ptr("name,id\n"),
			openErr: "its header row is name,id but the write's columns are id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := filesDir(t)
			path := tc.s["path"].(string)
			if tc.before != nil {
				writeFile(t, dir, path, *tc.before)
			}
			s, err := newTestSink(t, dir, tc.s)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := s.(connector.Committer); ok {
				t.Fatal("an append sink claims to commit on Close")
			}
			err = s.Open(ctx)
			if tc.openErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("Open: %v, want %q", err, tc.openErr)
				}
				s.Close()
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Write(ctx, records(tc.values...)); err != nil {
				t.Fatal(err)
			}
			if err := s.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			// Flushed records are in the file before Close.
			if got := readFile(t, dir, path); got != tc.after {
				t.Fatalf("after Flush:\n%q\nwant\n%q", got, tc.after)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, dir, path); got != tc.after {
				t.Fatalf("after Close:\n%q\nwant\n%q", got, tc.after)
			}
		})
	}
}

func ptr(s string) *string { return &s }

// TestSettingsProblems: every problem in a file read or write is listed at
// once, with its field.
func TestSettingsProblems(t *testing.T) {
	_, err := newTestSink(t, filesDir(t), map[string]any{"path": "../x.json", "format": "json", "mode": "append", "columns": []any{"a", "a"}, "delimiter": "|"})
	var ve *connector.ValidationError
	if !asValidation(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	if len(ve.Problems) != 1 || ve.Problems[0].Field != "delimiter" {
		t.Fatalf("the spec check runs first: %+v", ve.Problems)
	}
	_, err = newTestSink(t, filesDir(t), map[string]any{"path": "../x.json", "format": "json", "mode": "append", "columns": []any{"a", "a"}})
	if !asValidation(err, &ve) {
		t.Fatalf("err = %v", err)
	}
	fields := map[string]bool{}
	for _, p := range ve.Problems {
		fields[p.Field] = true
	}
	for _, f := range []string{"path", "mode", "columns", "columns[1]"} {
		if !fields[f] {
			t.Errorf("no problem with %s in %+v", f, ve.Problems)
		}
	}
}
