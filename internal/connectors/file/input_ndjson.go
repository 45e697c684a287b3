package file

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/jsonx"
)

// ndjsonDecoder reads one JSON value per line. Lines holding only white
// space are not records. A line that is not one JSON value, or is longer
// than MaxRecordBytes, is a failed record; the next line is read as usual.
type ndjsonDecoder struct {
	br     *bufio.Reader
	offset int64 // bytes consumed
	line   int64 // lines consumed
	index  int64 // records returned
	long   []byte
	lr     bytes.Reader
}

func newNDJSONDecoder(br *bufio.Reader, start position) *ndjsonDecoder {
	return &ndjsonDecoder{br: br, offset: start.Offset, line: start.Line, index: start.Index}
}

func (d *ndjsonDecoder) pos() (int64, int64, int64) { return d.offset, d.line, d.index }

func (d *ndjsonDecoder) next() (connector.Record, error) {
	for {
		b, tooLong, err := d.readLine()
		if err != nil && err != io.EOF {
			return connector.Record{}, fmt.Errorf("read line %d: %w", d.line+1, bare(err))
		}
		if len(b) == 0 && !tooLong && err == io.EOF {
			return connector.Record{}, io.EOF
		}
		d.line++
		b = bytes.TrimSpace(b) // also the \r of a CRLF line end
		if len(b) == 0 && !tooLong {
			continue
		}
		d.index++
		meta := connector.Meta{Index: d.index, Line: d.line}
		if tooLong {
			return connector.Record{Meta: meta, Err: fmt.Errorf("line %d: longer than %d MiB", d.line, MaxRecordBytes>>20)}, nil
		}
		v, err := d.decode(b)
		if err != nil {
			return connector.Record{Meta: meta, Err: fmt.Errorf("line %d: %w", d.line, err)}, nil
		}
		return connector.Record{Data: v, Meta: meta}, nil
	}
}

// decode reads exactly one JSON value from b, keeping numbers as
// json.Number. A line goes through jsonx (goccy/go-json: the values
// encoding/json gives, faster); a line it refuses is decoded again by encoding/json, whose error says
// what is wrong. A Decoder per line lets a malformed line fail alone.
func (d *ndjsonDecoder) decode(b []byte) (any, error) {
	if v, err := jsonx.Decode(b); err == nil {
		return v, nil
	}
	d.lr.Reset(b)
	dec := json.NewDecoder(&d.lr)
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, describeJSON(err)
	}
	if off := dec.InputOffset(); off != int64(len(b)) {
		rest := b[off:]
		col := off + int64(len(rest)-len(bytes.TrimLeft(rest, " \t"))) + 1
		return nil, fmt.Errorf("column %d: more after the JSON value; a line holds one value", col)
	}
	return v, nil
}

// readLine returns the next line without its \n, whether it was longer
// than MaxRecordBytes (then its bytes are dropped), and io.EOF with the
// last line when the file does not end in a newline. The slice is valid
// until the next call.
func (d *ndjsonDecoder) readLine() ([]byte, bool, error) {
	d.long = d.long[:0]
	if cap(d.long) > 1<<20 {
		d.long = nil // do not keep a huge line's buffer for the rest of the file
	}
	tooLong := false
	for {
		b, err := d.br.ReadSlice('\n')
		d.offset += int64(len(b))
		if errors.Is(err, bufio.ErrBufferFull) {
			if !tooLong && len(d.long)+len(b) > MaxRecordBytes {
				tooLong, d.long = true, d.long[:0]
			}
			if !tooLong {
				d.long = append(d.long, b...)
			}
			continue
		}
		if tooLong {
			return nil, true, err
		}
		if len(d.long) > 0 {
			d.long = append(d.long, b...)
			b = d.long
		}
		if len(b) > MaxRecordBytes+2 { // +2: the line's \r\n
			return nil, true, err
		}
		if n := len(b); n > 0 && b[n-1] == '\n' {
			b = b[:n-1]
		}
		return b, false, err
	}
}

// describeJSON says where in the value a decoding error is, in columns
// counted from 1.
func describeJSON(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("column %d: %s", se.Offset, se.Error())
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the JSON value is cut short")
	}
	return err
}
