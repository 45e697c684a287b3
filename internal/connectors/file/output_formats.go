package file

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/jsonx"
)

func newEncoder(buf *bytes.Buffer, o Options, existing *csvHeader) (encoder, error) {
	switch o.Format {
	case NDJSON:
		return newNDJSONEncoder(buf), nil
	case JSON:
		return newJSONEncoder(buf), nil
	case CSV:
		e, err := newCSVEncoder(buf, o, existing)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return e, nil
	}
	return nil, fmt.Errorf("file: unknown format %q", o.Format)
}

// jsonEncoderFor encodes values as compact JSON, keeping <, > and & as
// they are (the output is a data file, not HTML). Object keys come out
// sorted: records are maps.
func jsonEncoderFor(w io.Writer) *json.Encoder {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc
}

// ndjsonEncoder writes one JSON value per line. A value is encoded whole
// before it is written, so a bad record leaves no trace.
type ndjsonEncoder struct {
	buf     *bytes.Buffer
	scratch []byte
}

func newNDJSONEncoder(buf *bytes.Buffer) *ndjsonEncoder {
	return &ndjsonEncoder{buf: buf}
}

func (e *ndjsonEncoder) begin() {}
func (e *ndjsonEncoder) end()   {}

func (e *ndjsonEncoder) encode(v any) error {
	b, err := jsonx.AppendUnescaped(e.scratch[:0], v)
	if err != nil {
		return fmt.Errorf("cannot be written as JSON: %w", err)
	}
	e.buf.Write(append(b, '\n'))
	e.scratch = keepScratch(b)
	return nil
}

// keepScratch keeps an encoding buffer for the next record unless a huge
// record grew it.
func keepScratch(b []byte) []byte {
	if cap(b) > writeBuffer {
		return nil
	}
	return b
}

// jsonEncoder writes one JSON array, an element per line:
//
//	[
//	{...},
//	{...}
//	]
type jsonEncoder struct {
	buf     *bytes.Buffer
	scratch []byte
	n       int
}

func newJSONEncoder(buf *bytes.Buffer) *jsonEncoder {
	return &jsonEncoder{buf: buf}
}

func (e *jsonEncoder) begin() { e.buf.WriteByte('[') }

func (e *jsonEncoder) end() {
	if e.n == 0 {
		e.buf.WriteString("]\n")
		return
	}
	e.buf.WriteString("\n]\n")
}

func (e *jsonEncoder) encode(v any) error {
	b, err := jsonx.AppendUnescaped(e.scratch[:0], v)
	if err != nil {
		return fmt.Errorf("cannot be written as JSON: %w", err)
	}
	if e.n == 0 {
		e.buf.WriteByte('\n')
	} else {
		e.buf.WriteString(",\n")
	}
	e.buf.Write(b)
	e.scratch = keepScratch(b)
	e.n++
	return nil
}

// csvHeader is the header row found in a file being appended to.
type csvHeader struct{ columns []string }

// csvEncoder writes a header row and then one row per object record.
// Values are written as text: strings as they are, numbers in their JSON
// form, true/false, null as an empty field, and objects and arrays as
// compact JSON. A key that is not a column fails its record unless the
// columns were named in the settings (then the other keys are left out on
// purpose).
type csvEncoder struct {
	buf        *bytes.Buffer
	cw         *csv.Writer
	columns    []string
	index      map[string]bool
	strict     bool // columns taken from data: an unknown key fails the record
	headerDone bool
	row        []string
	scratch    bytes.Buffer
	enc        *json.Encoder
}

func newCSVEncoder(buf *bytes.Buffer, o Options, existing *csvHeader) (*csvEncoder, error) {
	e := &csvEncoder{buf: buf, cw: csv.NewWriter(buf), strict: len(o.Columns) == 0}
	e.cw.Comma = o.Delimiter
	e.enc = jsonEncoderFor(&e.scratch)
	switch {
	case existing != nil && len(o.Columns) > 0 && !slices.Equal(existing.columns, o.Columns):
		return nil, fmt.Errorf("append to %q: its header row is %s but the write's columns are %s; make them the same, or write to another file",
			o.Path, strings.Join(existing.columns, o.delim()), strings.Join(o.Columns, o.delim()))
	case existing != nil:
		e.setColumns(existing.columns)
		e.headerDone = true
	case len(o.Columns) > 0:
		e.setColumns(o.Columns)
	}
	return e, nil
}

func (o Options) delim() string { return string(o.Delimiter) }

func (e *csvEncoder) setColumns(cols []string) {
	e.columns = cols
	e.index = make(map[string]bool, len(cols))
	for _, c := range cols {
		e.index[c] = true
	}
	e.row = make([]string, len(cols))
}

func (e *csvEncoder) begin() {}

// end writes the header of a file that got no records, when the columns
// are known.
func (e *csvEncoder) end() {
	if !e.headerDone && e.columns != nil {
		e.writeRow(e.columns)
	}
}

func (e *csvEncoder) writeRow(row []string) {
	_ = e.cw.Write(row) // writes to a bytes.Buffer: cannot fail
	e.cw.Flush()
}

func (e *csvEncoder) encode(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("a CSV row is made from an object record, and this record is %s", kindOf(v))
	}
	if e.columns == nil {
		if len(m) == 0 {
			return errors.New("the first record has no fields, so the CSV columns cannot be taken from it; name them in the write's columns setting")
		}
		cols := make([]string, 0, len(m))
		for k := range m {
			cols = append(cols, k)
		}
		slices.Sort(cols)
		e.setColumns(cols)
		if err := e.fill(m); err != nil {
			e.columns = nil // the next record names them again
			return err
		}
	} else if err := e.fill(m); err != nil {
		return err
	}
	if !e.headerDone {
		e.writeRow(e.columns)
		e.headerDone = true
	}
	e.writeRow(e.row)
	return nil
}

// fill sets e.row from m, or says why m does not fit the columns.
func (e *csvEncoder) fill(m map[string]any) error {
	if e.strict {
		for k := range m {
			if !e.index[k] {
				return fmt.Errorf("field %q is not one of the CSV columns (%s); name every column to write in the write's columns setting", k, strings.Join(e.columns, ", "))
			}
		}
	}
	for i, c := range e.columns {
		s, err := e.cell(m[c])
		if err != nil {
			return fmt.Errorf("field %q: %w", c, err)
		}
		e.row[i] = s
	}
	return nil
}

// cell is a value's CSV text.
func (e *csvEncoder) cell(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case json.Number:
		return string(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case int:
		return strconv.Itoa(x), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return "", errors.New("is not a finite number")
		}
		return strconv.FormatFloat(x, 'f', -1, 64), nil
	case *big.Int:
		return x.String(), nil
	case map[string]any, []any:
		e.scratch.Reset()
		if err := e.enc.Encode(x); err != nil {
			return "", err
		}
		return string(bytes.TrimSuffix(e.scratch.Bytes(), []byte{'\n'})), nil
	}
	return "", fmt.Errorf("a %T cannot be written as CSV", v)
}

func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "true or false"
	case map[string]any:
		return "an object"
	}
	return "a number"
}

// skipBOM reads r through a bounded buffer without its byte order mark.
func skipBOM(r io.Reader) *bufio.Reader {
	br := bufio.NewReaderSize(&guard{r: r, limit: MaxRecordBytes}, readBuffer)
	if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
		_, _ = br.Discard(len(bom))
	}
	return br
}
