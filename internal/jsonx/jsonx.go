// Package jsonx is the one place records are decoded from and encoded to
// JSON text on a run's hot path (file lines, HTTP pages and bodies, SQL
// JSON columns). It uses github.com/goccy/go-json, which gives exactly
// the values and the text encoding/json gives — numbers as json.Number,
// object keys sorted, <, > and & escaped, invalid UTF-8 replaced — at
// about two thirds of its cost; decoding was a quarter of a run's CPU
// time with encoding/json.
//
// Errors are the library's syntax errors, which name the byte offset;
// callers add where the text came from (a line, a page).
package jsonx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	gojson "github.com/goccy/go-json"
)

// ErrTrailing is returned by Decode for text with more after its value.
var ErrTrailing = errors.New("there is more after the first JSON value")

// Decode decodes b, which must hold one JSON value and nothing else but
// white space, as encoding/json's Decoder with UseNumber does:
// map[string]any, []any, string, json.Number, bool or nil.
func Decode(b []byte) (any, error) {
	d := gojson.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if _, err := d.Token(); !errors.Is(err, io.EOF) {
		return nil, ErrTrailing
	}
	return v, nil
}

// Append appends v encoded as json.Marshal encodes it (compact).
func Append(dst []byte, v any) ([]byte, error) {
	b, err := gojson.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// AppendUnescaped appends v as a json.Encoder with SetEscapeHTML(false)
// writes it, without the newline: <, > and & stay as they are, which is
// what files of records want.
func AppendUnescaped(dst []byte, v any) ([]byte, error) {
	b, err := gojson.MarshalWithOption(v, gojson.DisableHTMLEscape())
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// Marshal is json.Marshal, faster.
func Marshal(v any) ([]byte, error) { return gojson.Marshal(v) }

// SyntaxOffset reports the byte offset of a JSON syntax error, from this
// package's Decode or from encoding/json.
func SyntaxOffset(err error) (int64, bool) {
	var ge *gojson.SyntaxError
	if errors.As(err, &ge) {
		return ge.Offset, true
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return se.Offset, true
	}
	return 0, false
}
