package file

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

var resumeInputs = []struct {
	format  Format
	content string
}{
	{NDJSON, bomText + "{\"id\":1}\n\n{\"id\":2}\r\nnot json\n{\"id\":4}\n{\"id\":5}\n{\"id\":6}"},
	{CSV, bomText + "id,note\r\n1,a\r\n2,\"two\nlines\"\r\n3,\"x\"y\r\n4,d\r\n\r\n5,e\r\n6,\"f\"\r\n"},
	{JSON, bomText + "[\n {\"id\":1},\n {\"id\":2} , {\"id\":3},{\"id\":4},\n\n {\"id\":5},\r\n {\"id\":6}\n]\n"},
}

// TestResume: a source resumed from the position of any batch reads
// exactly the records after that batch, with the same line and index
// numbers as an uninterrupted read.
func TestResume(t *testing.T) {
	for _, in := range resumeInputs {
		t.Run(string(in.format), func(t *testing.T) {
			dir := filesDir(t)
			name := "in." + string(in.format)
			writeFile(t, dir, name, in.content)
			s := settings(name, in.format)
			src, err := newTestSource(t, dir, 100, s)
			if err != nil {
				t.Fatal(err)
			}
			all, _, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if len(all) != 6 {
				t.Fatalf("uninterrupted read: %d records: %+v", len(all), all)
			}
			// Batch sizes that end batches between records, at the last
			// record, and with the end of the input inside a batch.
			for _, batch := range []int{1, 2, 4, 6, 10} {
				src, _ := newTestSource(t, dir, batch, s)
				_, positions, err := readAll(t, src)
				if err != nil {
					t.Fatal(err)
				}
				for i, pos := range positions {
					src, err := newTestSource(t, dir, batch, s)
					if err != nil {
						t.Fatal(err)
					}
					if err := src.(connector.Resumable).Resume(pos); err != nil {
						t.Fatalf("Resume(%s): %v", pos, err)
					}
					rest, _, err := readAll(t, src)
					if err != nil {
						t.Fatalf("batch %d, after %s: %v", batch, pos, err)
					}
					sameRecords(t, rest, all[min(batch*(i+1), len(all)):])
				}
			}
			// A nil position is the start.
			src, _ = newTestSource(t, dir, 2, s)
			if err := src.(connector.Resumable).Resume(nil); err != nil {
				t.Fatal(err)
			}
			again, _, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			sameRecords(t, again, all)
		})
	}
}

// TestResumeRefusesBadPositions: a position that does not fit the read or
// the file is refused with ErrBadPosition, never used to read from the
// middle of a record.
func TestResumeRefusesBadPositions(t *testing.T) {
	cases := []struct {
		name    string
		format  Format
		content string
		pos     string
		atOpen  bool
		why     string
	}{
		{name: "not JSON", format: NDJSON, pos: `{nope`, why: "not a file position"},
		{name: "another kind's position", format: NDJSON, pos: `{"cursor":"abc"}`, why: "taken reading"},
		{name: "another file", format: NDJSON, pos: `{"path":"other.ndjson","format":"ndjson","offset":1}`, why: `taken reading "other.ndjson"`},
		{name: "another format", format: NDJSON, pos: `{"path":"in.ndjson","format":"csv","offset":1}`, why: "as csv"},
		{name: "negative", format: NDJSON, pos: `{"path":"in.ndjson","format":"ndjson","offset":-1}`, why: "negative"},
		{name: "beyond the end", format: NDJSON, content: "{}\n", pos: `{"path":"in.ndjson","format":"ndjson","offset":99,"line":5,"index":5}`, atOpen: true, why: "shorter than the checkpoint"},
		{name: "middle of a line", format: NDJSON, content: "{\"id\":1}\n{\"id\":2}\n", pos: `{"path":"in.ndjson","format":"ndjson","offset":4,"line":1,"index":1}`, atOpen: true, why: "not the end of a line"},
		{name: "csv middle of a line", format: CSV, content: "id\n1\n2\n", pos: `{"path":"in.csv","format":"csv","offset":4,"line":2,"index":1}`, atOpen: true, why: "not the end of a line"},
		{name: "json inside an element", format: JSON, content: `[{"id":1},{"id":2}]`, pos: `{"path":"in.json","format":"json","offset":3,"index":1}`, atOpen: true, why: "not between two elements"},
		{name: "json beyond the array", format: JSON, content: `[{"id":1}]`, pos: `{"path":"in.json","format":"json","offset":10,"index":1}`, atOpen: true, why: "ends before the checkpoint's array does"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filesDir(t)
			name := "in." + string(tc.format)
			writeFile(t, dir, name, tc.content)
			src, err := newTestSource(t, dir, 2, settings(name, tc.format))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			err = src.(connector.Resumable).Resume(connector.Position(tc.pos))
			if !tc.atOpen {
				if !errors.Is(err, connector.ErrBadPosition) || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("Resume: %v, want ErrBadPosition saying %q", err, tc.why)
				}
				return
			}
			if err != nil {
				t.Fatalf("Resume: %v", err)
			}
			err = src.Open(context.Background())
			if !errors.Is(err, connector.ErrBadPosition) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Open: %v, want ErrBadPosition saying %q", err, tc.why)
			}
		})
	}
}

func TestResumeAfterOpen(t *testing.T) {
	dir := filesDir(t)
	writeFile(t, dir, "in.ndjson", "{}\n")
	src, _ := newTestSource(t, dir, 2, settings("in.ndjson", NDJSON))
	defer src.Close()
	if err := src.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := src.(connector.Resumable).Resume(nil); err == nil {
		t.Fatal("Resume after Open was accepted")
	}
	if _, ok := src.(connector.FetchByID); ok {
		t.Fatal("a file source claims to fetch by ID")
	}
}
