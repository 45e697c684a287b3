package file

import (
	"context"
	"strings"
	"testing"
)

const bomText = "\xEF\xBB\xBF"

// TestRead is the table of what each format reads from what bytes: good
// input, bad lines, empty files, byte order marks, CRLF line ends.
func TestRead(t *testing.T) {
	cases := []struct {
		name    string
		format  Format
		delim   string
		content string
		want    []got
		openErr string // Open fails with this
		readErr string // Read fails with this after the records
	}{
		// NDJSON
		{name: "ndjson", format: NDJSON, content: "{\"id\":1}\n{\"id\":2}\n",
			want: []got{{Line: 1, Index: 1, Data: `{"id":1}`}, {Line: 2, Index: 2, Data: `{"id":2}`}}},
		{name: "ndjson without a final newline", format: NDJSON, content: "{\"id\":1}\n{\"id\":2}",
			want: []got{{Line: 1, Index: 1, Data: `{"id":1}`}, {Line: 2, Index: 2, Data: `{"id":2}`}}},
		{name: "ndjson bad lines fail alone", format: NDJSON, content: "{\"id\":1}\n{\"id\":\n[1,2]\n{\"id\":3} x\n{\"id\":4}\n{\"a\":1}{\"b\":2}\n",
			want: []got{
				{Line: 1, Index: 1, Data: `{"id":1}`},
				{Line: 2, Index: 2, Err: "line 2: the JSON value is cut short"},
				{Line: 3, Index: 3, Data: `[1,2]`},
				{Line: 4, Index: 4, Err: "line 4: column 10: more after the JSON value"},
				{Line: 5, Index: 5, Data: `{"id":4}`},
				{Line: 6, Index: 6, Err: "line 6: column 8: more after the JSON value"},
			}},
		{name: "ndjson blank lines are not records", format: NDJSON, content: "\n{\"id\":1}\n   \n\t\n{\"id\":2}\n\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":1}`}, {Line: 5, Index: 2, Data: `{"id":2}`}}},
		{name: "ndjson CRLF", format: NDJSON, content: "{\"id\":1}\r\n{\"id\":2}\r\n",
			want: []got{{Line: 1, Index: 1, Data: `{"id":1}`}, {Line: 2, Index: 2, Data: `{"id":2}`}}},
		{name: "ndjson BOM", format: NDJSON, content: bomText + "{\"id\":1}\n",
			want: []got{{Line: 1, Index: 1, Data: `{"id":1}`}}},
		{name: "ndjson empty file", format: NDJSON, content: ""},
		{name: "ndjson BOM only", format: NDJSON, content: bomText},
		{name: "ndjson numbers stay exact", format: NDJSON, content: `{"id":12345678901234567890,"amount":19.90,"e":1e400}` + "\n",
			want: []got{{Line: 1, Index: 1, Data: `{"amount":19.90,"e":1e400,"id":12345678901234567890}`}}},
		{name: "ndjson invalid UTF-8 kept as replacement", format: NDJSON, content: "{\"s\":\"a\xffb\"}\n",
			want: []got{{Line: 1, Index: 1, Data: `{"s":"a�b"}`}}},

		// CSV
		{name: "csv", format: CSV, content: "id,name\n1,Ada\n2,Grace\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":"1","name":"Ada"}`}, {Line: 3, Index: 2, Data: `{"id":"2","name":"Grace"}`}}},
		{name: "csv RFC 4180 quoting", format: CSV, content: "id,note\n1,\"a, b\"\n2,\"say \"\"hi\"\"\"\n3,\"two\nlines\"\n4,x\n",
			want: []got{
				{Line: 2, Index: 1, Data: `{"id":"1","note":"a, b"}`},
				{Line: 3, Index: 2, Data: `{"id":"2","note":"say \"hi\""}`},
				{Line: 4, Index: 3, Data: `{"id":"3","note":"two\nlines"}`},
				{Line: 6, Index: 4, Data: `{"id":"4","note":"x"}`},
			}},
		{name: "csv semicolon", format: CSV, delim: ";", content: "id;price\n1;2,50\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":"1","price":"2,50"}`}}},
		{name: "csv tab", format: CSV, delim: "\t", content: "id\tname\n1\tAda Lovelace\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":"1","name":"Ada Lovelace"}`}}},
		{name: "csv bad rows fail alone", format: CSV, content: "id,name\n1,Ada\n2\n3,Gr\"ace\n4,\"Ken\"x\n5,Ken,extra\n6,Radia\n",
			want: []got{
				{Line: 2, Index: 1, Data: `{"id":"1","name":"Ada"}`},
				{Line: 3, Index: 2, Err: "line 3: the row has 1 fields and the header 2"},
				{Line: 4, Index: 3, Err: `line 4, column 5: bare " in non-quoted-field`},
				{Line: 5, Index: 4, Err: `line 5, column 7: extraneous or missing " in quoted-field`},
				{Line: 6, Index: 5, Err: "line 6: the row has 3 fields and the header 2"},
				{Line: 7, Index: 6, Data: `{"id":"6","name":"Radia"}`},
			}},
		{name: "csv header only", format: CSV, content: "id,name\n"},
		{name: "csv header only without newline", format: CSV, content: "id,name"},
		{name: "csv empty file", format: CSV, content: ""},
		{name: "csv blank lines skipped", format: CSV, content: "id\n\n1\n\n2\n",
			want: []got{{Line: 3, Index: 1, Data: `{"id":"1"}`}, {Line: 5, Index: 2, Data: `{"id":"2"}`}}},
		{name: "csv BOM", format: CSV, content: bomText + "id,name\n1,Ada\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":"1","name":"Ada"}`}}},
		{name: "csv CRLF", format: CSV, content: "id,note\r\n1,\"a\r\nb\"\r\n2,c\r\n",
			want: []got{{Line: 2, Index: 1, Data: `{"id":"1","note":"a\nb"}`}, {Line: 4, Index: 2, Data: `{"id":"2","note":"c"}`}}},
		{name: "csv duplicate column", format: CSV, content: "id,name,id\n1,a,2\n", openErr: `columns 1 and 3 of the header row are both named "id"`},
		{name: "csv unnamed column", format: CSV, content: "id,,name\n", openErr: "column 2 of the header row has no name"},
		{name: "csv broken header", format: CSV, content: "id,\"name\n", openErr: "the header row cannot be read"},

		// JSON arrays
		{name: "json", format: JSON, content: `[{"id":1},{"id":2}]`,
			want: []got{{Index: 1, Data: `{"id":1}`}, {Index: 2, Data: `{"id":2}`}}},
		{name: "json pretty with CRLF", format: JSON, content: "[\r\n  {\"id\": 1},\r\n  {\"id\": 2}\r\n]\r\n",
			want: []got{{Index: 1, Data: `{"id":1}`}, {Index: 2, Data: `{"id":2}`}}},
		{name: "json BOM", format: JSON, content: bomText + `[{"id":1}]`, want: []got{{Index: 1, Data: `{"id":1}`}}},
		{name: "json empty array", format: JSON, content: " [ ] \n"},
		{name: "json empty file", format: JSON, content: "\n"},
		{name: "json mixed values", format: JSON, content: `[1,"a",null,[true]]`,
			want: []got{{Index: 1, Data: `1`}, {Index: 2, Data: `"a"`}, {Index: 3, Data: `null`}, {Index: 4, Data: `[true]`}}},
		{name: "json object is not an array", format: JSON, content: `{"orders":[]}`, openErr: `"in.json" is not a JSON array: it starts with an object`},
		{name: "json ndjson is not an array", format: JSON, content: "{\"id\":1}\n{\"id\":2}\n", openErr: "use ndjson for one value per line"},
		{name: "json garbage", format: JSON, content: "<html>", openErr: `"in.json" is not a JSON array: column 1: invalid character '<'`},
		{name: "json broken in the middle", format: JSON, content: `[{"id":1},{"id":2},{"id":}, {"id":4}]`,
			want: []got{{Index: 1, Data: `{"id":1}`}, {Index: 2, Data: `{"id":2}`}}, readErr: "element 3 (from byte offset 19): invalid character '}'"},
		{name: "json cut short", format: JSON, content: `[{"id":1},{"id":2}`,
			want: []got{{Index: 1, Data: `{"id":1}`}, {Index: 2, Data: `{"id":2}`}}, readErr: "the array ends without its closing bracket"},
		{name: "json trailing comma", format: JSON, content: `[{"id":1},]`,
			want: []got{{Index: 1, Data: `{"id":1}`}}, readErr: "element 2"},
		{name: "json content after the array", format: JSON, content: `[{"id":1}] [2]`,
			want: []got{{Index: 1, Data: `{"id":1}`}}, readErr: `"[" after the array's closing bracket`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filesDir(t)
			name := "in." + string(tc.format)
			writeFile(t, dir, name, tc.content)
			s := settings(name, tc.format)
			if tc.delim != "" {
				s["delimiter"] = tc.delim
			}
			src, err := newTestSource(t, dir, 2, s) // small batches: records cross batch ends
			if err != nil {
				t.Fatal(err)
			}
			recs, _, err := readAll(t, src)
			switch {
			case tc.openErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.openErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.openErr)
				}
				return
			case tc.readErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.readErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.readErr)
				}
			case err != nil:
				t.Fatal(err)
			}
			sameRecords(t, recs, tc.want)
		})
	}
}

// TestLongNDJSONLine: a line beyond MaxRecordBytes fails alone and its
// bytes are not kept; the lines around it are read.
func TestLongNDJSONLine(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 17 MiB file")
	}
	dir := filesDir(t)
	long := `{"x":"` + strings.Repeat("a", MaxRecordBytes) + `"}`
	writeFile(t, dir, "in.ndjson", "{\"id\":1}\n"+long+"\n{\"id\":3}\n")
	src, err := newTestSource(t, dir, 10, settings("in.ndjson", NDJSON))
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, src)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, recs, []got{
		{Line: 1, Index: 1, Data: `{"id":1}`},
		{Line: 2, Index: 2, Err: "line 2: longer than 16 MiB"},
		{Line: 3, Index: 3, Data: `{"id":3}`},
	})
}

// TestUnclosedQuote: a CSV quote left open makes the rest of the file one
// field; the read stops at MaxRecordBytes instead of buffering it all.
func TestUnclosedQuote(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 17 MiB file")
	}
	dir := filesDir(t)
	var b strings.Builder
	b.WriteString("id,note\n1,ok\n2,\"open\n")
	for b.Len() < MaxRecordBytes+(1<<20) {
		b.WriteString("3,more text that is now inside the open quote\n")
	}
	writeFile(t, dir, "in.csv", b.String())
	src, err := newTestSource(t, dir, 10, settings("in.csv", CSV))
	if err != nil {
		t.Fatal(err)
	}
	recs, _, err := readAll(t, src)
	if err == nil || !strings.Contains(err.Error(), "longer than 16 MiB; is a quote left open?") {
		t.Fatalf("err = %v", err)
	}
	sameRecords(t, recs, []got{{Line: 2, Index: 1, Data: `{"id":"1","note":"ok"}`}})
}

func TestReadMissingFile(t *testing.T) {
	dir := filesDir(t)
	src, err := newTestSource(t, dir, 0, settings("in/none.ndjson", NDJSON))
	if err != nil {
		t.Fatal(err)
	}
	err = src.Open(context.Background())
	if err == nil || !strings.Contains(err.Error(), `open "in/none.ndjson": no such file in the files directory`) || strings.Contains(err.Error(), dir) {
		t.Fatalf("err = %v", err)
	}
	src.Close()

	if err := mkdir(dir, "adir"); err != nil {
		t.Fatal(err)
	}
	src, _ = newTestSource(t, dir, 0, settings("adir", NDJSON))
	if err := src.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("reading a directory: %v", err)
	}
	src.Close()

	src, _ = newTestSource(t, dir+"-missing", 0, settings("a.ndjson", NDJSON))
	if err := src.Open(context.Background()); err == nil || !strings.Contains(err.Error(), "the files directory does not exist") || strings.Contains(err.Error(), dir) {
		t.Fatalf("missing files directory: %v", err)
	}
	src.Close()
}
