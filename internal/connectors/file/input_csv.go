package file

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
)

// csvDecoder reads CSV (RFC 4180 quoting, through encoding/csv) whose
// first row names the columns. Each later row is a record: an object of
// column name to text. A row with the wrong number of fields, or with a
// quote where RFC 4180 allows none, is a failed record.
type csvDecoder struct {
	cr     *csv.Reader
	g      *guard
	header []string
	base   int64 // file offset where cr started
	line0  int64 // lines before base
	lines  int64 // lines consumed since base
	index  int64
}

func newCSVDecoder(f *os.File, br *bufio.Reader, g *guard, o Options, start position) (*csvDecoder, error) {
	d := &csvDecoder{g: g, base: start.Offset, line0: start.Line, index: start.Index}
	d.cr = newCSVReader(br, o.Delimiter)
	if start.Line == 0 {
		// From the start: the first row read is the header.
		h, err := d.cr.Read()
		if err == io.EOF {
			return d, nil // an empty file: no header, no records
		}
		if err != nil {
			return nil, headerErr(o.Path, err)
		}
		if err := d.setHeader(o.Path, h); err != nil {
			return nil, err
		}
		d.lines = lastLine(d.cr, h)
		return d, nil
	}
	// Resuming: the header is read again from the start of the file.
	h, err := newCSVReader(skipBOM(io.NewSectionReader(f, 0, start.Offset)), o.Delimiter).Read()
	if err != nil {
		return nil, headerErr(o.Path, err)
	}
	return d, d.setHeader(o.Path, h)
}

func newCSVReader(r io.Reader, delim rune) *csv.Reader {
	cr := csv.NewReader(r)
	cr.Comma = delim
	cr.FieldsPerRecord = -1 // the decoder compares with the header itself
	cr.ReuseRecord = true
	return cr
}

func headerErr(path string, err error) error {
	if errors.Is(err, errTooLong) {
		return fmt.Errorf("%q: the header row is longer than %d MiB; is a quote left open?", path, MaxRecordBytes>>20)
	}
	return fmt.Errorf("%q: the header row cannot be read: %w", path, err)
}

func (d *csvDecoder) setHeader(path string, h []string) error {
	seen := make(map[string]int, len(h))
	d.header = make([]string, len(h))
	for i, name := range h {
		if strings.TrimSpace(name) == "" {
			return fmt.Errorf("%q: column %d of the header row has no name; every column needs one", path, i+1)
		}
		if j, dup := seen[name]; dup {
			return fmt.Errorf("%q: columns %d and %d of the header row are both named %q; names must differ", path, j+1, i+1, name)
		}
		seen[name] = i
		d.header[i] = name
	}
	return nil
}

func (d *csvDecoder) pos() (int64, int64, int64) {
	return d.base + d.cr.InputOffset(), d.line0 + d.lines, d.index
}

func (d *csvDecoder) next() (connector.Record, error) {
	if d.header == nil {
		return connector.Record{}, io.EOF
	}
	d.g.mark = d.base + d.cr.InputOffset()
	row, err := d.cr.Read()
	if err == io.EOF {
		return connector.Record{}, io.EOF
	}
	d.index++
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		d.lines = int64(pe.Line)
		return connector.Record{
			Meta: connector.Meta{Index: d.index, Line: d.line0 + int64(pe.StartLine)},
			Err:  fmt.Errorf("line %d, column %d: %w", d.line0+int64(pe.Line), pe.Column, pe.Err),
		}, nil
	}
	if errors.Is(err, errTooLong) {
		return connector.Record{}, fmt.Errorf("row %d (line %d): longer than %d MiB; is a quote left open?", d.index, d.line0+d.lines+1, MaxRecordBytes>>20)
	}
	if err != nil {
		return connector.Record{}, fmt.Errorf("read row %d: %w", d.index, bare(err))
	}
	startLine, _ := d.cr.FieldPos(0)
	d.lines = lastLine(d.cr, row)
	meta := connector.Meta{Index: d.index, Line: d.line0 + int64(startLine)}
	if len(row) != len(d.header) {
		return connector.Record{Meta: meta, Err: fmt.Errorf("line %d: the row has %d fields and the header %d", meta.Line, len(row), len(d.header))}, nil
	}
	m := make(map[string]any, len(row))
	for i, v := range row {
		m[d.header[i]] = v
	}
	return connector.Record{Data: m, Meta: meta}, nil
}

// lastLine is the line (counted from the reader's start) on which the row
// just read ends: the line of its last field plus the line breaks inside
// that field (encoding/csv turns each quoted \r\n into one \n).
func lastLine(cr *csv.Reader, row []string) int64 {
	if len(row) == 0 {
		return 0
	}
	l, _ := cr.FieldPos(len(row) - 1)
	return int64(l) + int64(strings.Count(row[len(row)-1], "\n"))
}
