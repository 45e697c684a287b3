package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/sluice-dev/sluice/internal/jsonx"
)

// MaxBodyBytes is the default cap on a JSON request body. Sluice's requests
// are small documents; 1 MiB leaves room for large flow definitions while
// keeping a flood of big bodies from exhausting memory.
const MaxBodyBytes int64 = 1 << 20

// MaxJSONDepth is how deeply objects and arrays may nest. encoding/json
// recurses per level, so an unbounded depth lets a tiny body burn stack and
// CPU; no legitimate Sluice document comes near 32.
const MaxJSONDepth = 32

// DecodeJSON reads r's body as one JSON value into dst, capped at
// MaxBodyBytes. See DecodeJSONLimit.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any) error {
	return DecodeJSONLimit(w, r, dst, MaxBodyBytes)
}

// DecodeJSONLimit reads r's body as exactly one JSON value into dst, reading
// at most limit bytes. It is strict on purpose: a wrong Content-Type, an
// unknown field, trailing data or excessive nesting are refused rather than
// guessed at, because a typo silently ignored ("pasword") is worse than a
// clear 400. Every failure is an *Error whose message says what is wrong,
// where, and how to fix it; only a programming error such as a non-pointer
// dst comes back as a plain error (and so a 500).
func DecodeJSONLimit(w http.ResponseWriter, r *http.Request, dst any, limit int64) error {
	if e := checkContentType(r.Header.Get("Content-Type")); e != nil {
		return e
	}
	body, e := readBody(w, r, limit)
	if e != nil {
		return e
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("empty_body", "the request body is empty; send a JSON object")
	}
	// Scanning tokens first bounds the depth before encoding/json recurses,
	// and finds trailing data, which Decoder.Decode would leave unread.
	if e := scanJSON(body, MaxJSONDepth); e != nil {
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeError(err)
	}
	return nil
}

func checkContentType(ct string) *Error {
	if ct == "" {
		return UnsupportedMediaType("the request has no Content-Type; send Content-Type: application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return UnsupportedMediaType(fmt.Sprintf("Content-Type %q is not accepted; send Content-Type: application/json", clip(ct)))
	}
	// RFC 8259 makes UTF-8 the only JSON encoding; anything else would be
	// misread byte by byte.
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
		return UnsupportedMediaType(fmt.Sprintf("charset %q is not accepted; JSON must be sent as UTF-8", clip(cs)))
	}
	return nil
}

func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			// MaxBody may have set a smaller cap further out; report that one.
			return nil, TooLarge(fmt.Sprintf("the request body is larger than the %d-byte limit; send a smaller body", tooBig.Limit))
		}
		return nil, BadRequest("unreadable_body", "the request body could not be read completely; send it again")
	}
	return body, nil
}

// scanJSON walks the tokens of body without building values, refusing
// nesting deeper than maxDepth, syntax errors and anything after the first
// top-level value.
func scanJSON(body []byte, maxDepth int) *Error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers too big for float64 are the decoder's business, not the scan's
	depth, values := 0, 0
	for {
		before := dec.InputOffset()
		tok, err := dec.Token()
		if err == io.EOF {
			if depth > 0 {
				// Token reports a body cut off between tokens as a plain EOF.
				return syntaxError(io.ErrUnexpectedEOF, len(body))
			}
			return nil
		}
		if err != nil {
			if depth == 0 && values > 0 {
				return trailingData(body, before)
			}
			return syntaxError(err, len(body))
		}
		if depth == 0 {
			values++
			if values > 1 {
				return trailingData(body, before)
			}
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > maxDepth {
				return BadRequest("json_too_deep", fmt.Sprintf("JSON nests deeper than %d levels at byte %d; flatten the document", maxDepth, dec.InputOffset()))
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

func trailingData(body []byte, offset int64) *Error {
	// Point at the first byte of the extra data, not the whitespace before it.
	for offset < int64(len(body)) && isSpace(body[offset]) {
		offset++
	}
	return BadRequest("malformed_json", fmt.Sprintf("unexpected data after the JSON value at byte %d; send exactly one JSON value", offset))
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func syntaxError(err error, size int) *Error {
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return BadRequest("malformed_json", fmt.Sprintf("malformed JSON at byte %d: %s; check for missing quotes, commas or brackets", se.Offset, se.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		where := "early"
		if size > 0 {
			where = fmt.Sprintf("at byte %d", size)
		}
		return BadRequest("malformed_json", fmt.Sprintf("malformed JSON: the body ends %s before the value is complete; close every string, object and array", where))
	}
	return BadRequest("malformed_json", "malformed JSON: "+err.Error())
}

func decodeError(err error) error {
	var (
		e   *Error
		se  *json.SyntaxError
		te  *json.UnmarshalTypeError
		iue *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &e):
		return e // a custom UnmarshalJSON already phrased it for the client
	case errors.As(err, &iue):
		return err // the handler passed a bad dst: a bug, so a 500
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return syntaxError(err, 0)
	case errors.As(err, &te):
		want := describeType(te.Type)
		if te.Field == "" {
			return BadRequest("invalid_field", fmt.Sprintf("the request body must be %s, got %s", want, aOrAn(te.Value)))
		}
		return BadRequest("invalid_field",
			fmt.Sprintf("field %q must be %s, got %s (at byte %d); send %s", te.Field, want, aOrAn(te.Value), te.Offset, want),
			Detail{Field: te.Field, Message: "must be " + want})
	}
	// encoding/json has no typed error for unknown fields; this prefix is
	// its documented wording and has been stable since DisallowUnknownFields
	// was added.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := strings.Trim(name, `"`)
		return BadRequest("unknown_field",
			fmt.Sprintf("unknown field %q; remove it or check its spelling", field),
			Detail{Field: field, Message: "unknown field"})
	}
	// Left: errors from custom UnmarshalJSON or TextUnmarshaler methods,
	// which describe the client's value.
	return BadRequest("invalid_field", "invalid value: "+err.Error())
}

// describeType names a Go type the way a JSON client thinks of it.
func describeType(t reflect.Type) string {
	if t == nil {
		return "a valid value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return "a valid value"
}

func aOrAn(jsonKind string) string {
	switch jsonKind {
	case "array", "object":
		return "an " + jsonKind
	case "string", "number", "bool":
		return "a " + jsonKind
	case "":
		return "something else"
	}
	// Number values that do not fit (e.g. "number 3.5" for an int) arrive
	// with the literal attached.
	return jsonKind
}

// clip keeps echoed client input short so an error message cannot be used
// to reflect a huge header back.
func clip(s string) string {
	const n = 64
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// ReadBody reads r's body, at most limit bytes: a larger one is a 413.
// Routes that must see the raw bytes before anything is parsed (a
// signature over the body) read with it, then call CheckJSONType and
// ParseJSON.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	body, e := readBody(w, r, limit)
	if e != nil {
		return nil, e
	}
	return body, nil
}

// CheckJSONType refuses a Content-Type other than application/json
// (UTF-8) with a 415, as DecodeJSON does.
func CheckJSONType(r *http.Request) error {
	if e := checkContentType(r.Header.Get("Content-Type")); e != nil {
		return e
	}
	return nil
}

// ParseJSON decodes body, which must be exactly one JSON value nested at
// most MaxJSONDepth deep, into any with numbers kept as json.Number.
//
// A body that is not too deep goes straight to jsonx (dynamic calls parse
// every body, and the token-by-token scan cost as much as the rest of the
// call's HTTP handling); a body that fails there, or nests too deep, is
// scanned token by token for an error that names the byte at fault.
func ParseJSON(body []byte) (any, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, BadRequest("empty_body", "the request body is empty; send a JSON object or an array of objects")
	}
	if !nestsDeeper(body, MaxJSONDepth) {
		if v, err := jsonx.Decode(body); err == nil {
			return v, nil
		}
	}
	if e := scanJSON(body, MaxJSONDepth); e != nil {
		return nil, e
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, decodeError(err)
	}
	return v, nil
}

// nestsDeeper says whether the brackets of body, outside strings, open
// deeper than max: a bound checked before a decoder recurses into the
// text. It does not check the syntax (the decoder does).
func nestsDeeper(body []byte, max int) bool {
	depth, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			if depth++; depth > max {
				return true
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return false
}
