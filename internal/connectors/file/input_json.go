package file

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
)

// jsonDecoder streams the elements of one top-level JSON array with
// encoding/json's token API, holding one element at a time. Anything but
// an array is refused; a syntax error inside the array stops the read,
// since nothing after it can be trusted.
type jsonDecoder struct {
	dec   *json.Decoder
	g     *guard
	path  string
	base  int64 // file offset of the decoder's input offset 0
	last  int64 // file offset just after the last element returned
	index int64
	done  bool
}

func newJSONDecoder(br *bufio.Reader, g *guard, path string, start position, resume bool) (*jsonDecoder, error) {
	d := &jsonDecoder{g: g, path: path, base: start.Offset, last: start.Offset, index: start.Index}
	if resume {
		return d, d.resume(br)
	}
	d.dec = newJSON(br)
	tok, err := d.dec.Token()
	switch {
	case err == io.EOF:
		d.done = true // an empty file: no records
		return d, nil
	case err != nil:
		return nil, fmt.Errorf("%q is not a JSON array: %w", path, describeJSON(err))
	case tok != json.Delim('['):
		return nil, fmt.Errorf("%q is not a JSON array: it starts with %s; the json format reads one top-level array of records (use ndjson for one value per line)", path, tokenKind(tok))
	}
	return d, nil
}

func newJSON(r io.Reader) *json.Decoder {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	return dec
}

// resume goes on after an element: the checkpoint's offset must be
// followed by a comma (more elements: the rest is read as an array whose
// "[" stands in for that comma) or by the closing bracket.
func (d *jsonDecoder) resume(br *bufio.Reader) error {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return fmt.Errorf("%w: %q ends before the checkpoint's array does: was the file replaced?", connector.ErrBadPosition, d.path)
		}
		d.base++
		switch c {
		case ' ', '\t', '\r', '\n':
			continue
		case ',':
			d.base-- // the "[" below takes the comma's place
			d.dec = newJSON(io.MultiReader(strings.NewReader("["), br))
			_, err := d.dec.Token()
			return err
		case ']':
			d.done = true
			d.dec = newJSON(br)
			if err := d.trailing(); err != io.EOF {
				return err
			}
			return nil
		default:
			return fmt.Errorf("%w: offset %d of %q is not between two elements of the array: was the file replaced?", connector.ErrBadPosition, d.base-1, d.path)
		}
	}
}

// pos is after the last element, never after the closing bracket: a run
// resumed there finds the bracket and ends.
func (d *jsonDecoder) pos() (int64, int64, int64) {
	return d.last, 0, d.index
}

func (d *jsonDecoder) next() (connector.Record, error) {
	if d.done {
		return connector.Record{}, io.EOF
	}
	d.g.mark = d.base + d.dec.InputOffset()
	if !d.dec.More() {
		if _, err := d.dec.Token(); err != nil { // the closing ]
			return connector.Record{}, d.broken(err)
		}
		d.done = true
		return connector.Record{}, d.trailing()
	}
	var v any
	if err := d.dec.Decode(&v); err != nil {
		return connector.Record{}, d.broken(err)
	}
	d.index++
	d.last = d.base + d.dec.InputOffset()
	return connector.Record{Data: v, Meta: connector.Meta{Index: d.index}}, nil
}

// trailing makes sure nothing but white space follows the array.
func (d *jsonDecoder) trailing() error {
	tok, err := d.dec.Token()
	switch {
	case err == io.EOF:
		return io.EOF
	case err != nil:
		return fmt.Errorf("%q: after the array's closing bracket: %w", d.path, describeJSON(err))
	default:
		return fmt.Errorf("%q: %s after the array's closing bracket; the file must hold one array", d.path, tokenKind(tok))
	}
}

func (d *jsonDecoder) broken(err error) error {
	// A stream Decoder's SyntaxError.Offset does not count the commas and
	// white space between elements, so the element is located by where
	// the Decoder stopped: at its start.
	at := d.base + d.dec.InputOffset()
	switch {
	case errors.Is(err, errTooLong):
		return fmt.Errorf("%q: element %d is longer than %d MiB; is a bracket or quote left open?", d.path, d.index+1, MaxRecordBytes>>20)
	case errors.Is(err, io.ErrUnexpectedEOF), err == io.EOF:
		return fmt.Errorf("%q: the array ends without its closing bracket, in or after element %d", d.path, d.index+1)
	}
	return fmt.Errorf("%q: element %d (from byte offset %d): %w; the rest of the array cannot be read", d.path, d.index+1, at, bare(err))
}

func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number, float64:
		return "a number"
	case bool:
		return "true or false"
	case nil:
		return "null"
	}
	return "something else"
}
