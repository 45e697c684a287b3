package connector

import (
	"bytes"
	"encoding/json"
	"errors"
)

// Record is one record in transit.
//
// Data is a decoded JSON value, as encoding/json decodes it with UseNumber:
// map[string]any for an object (the usual case), []any, string,
// json.Number, bool or nil. Numbers stay json.Number so that IDs above 2^53
// and decimal amounts pass through unchanged; gojq computes with them.
//
// Err is set instead of Data when the source could not decode this record
// (a malformed NDJSON line, a CSV row with the wrong number of fields).
// Such a record is not handed to steps or sinks: the engine counts it as
// failed, with Err as the reason and Meta to say where it was, and goes on
// with the next one. A source uses a per-record Err only for damage that is
// confined to one record; damage that makes the rest of the input
// unreadable is an error from Read.
type Record struct {
	Data any
	Meta Meta
	Err  error
}

// Meta says where a record came from, for error messages and for the
// failed-record list when no entity ID can be read.
type Meta struct {
	// Index is the record's 1-based number in its source, counted from the
	// start of the source even after a resume (NDJSON line with content,
	// CSV data row, JSON array element). 0 when the source does not count.
	Index int64
	// Line is the 1-based line the record starts on, for text formats
	// that have lines (NDJSON, CSV); 0 otherwise.
	Line int64
}

// Position is an opaque checkpoint in a source: JSON text that only the
// source that produced it interprets. The engine stores it as it is (with
// the flow's cursor state) and gives it back to Resumable.Resume to go on
// from there. A nil Position means "the start".
type Position json.RawMessage

// MarshalJSON writes the position's JSON text, or null for a nil Position.
func (p Position) MarshalJSON() ([]byte, error) {
	if len(p) == 0 {
		return []byte("null"), nil
	}
	if !json.Valid(p) {
		return nil, errors.New("connector: position is not JSON text")
	}
	return p, nil
}

// UnmarshalJSON keeps a copy of the JSON text; null gives a nil Position.
func (p *Position) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*p = nil
		return nil
	}
	*p = append((*p)[:0], b...)
	return nil
}

// String is the position's JSON text, for logs.
func (p Position) String() string {
	if len(p) == 0 {
		return "null"
	}
	return string(p)
}
