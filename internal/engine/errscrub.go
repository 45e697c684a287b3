package engine

import (
	"encoding/json"
	"errors"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

// Sluice keeps no copy of the data it moves (DESIGN.md §1, §8), and a
// failed record's error is stored with its run. Errors often quote the
// record: gojq previews the value it could not work on (`cannot iterate
// over: string ("…")`), a fail step or error(.x) builds its message from
// fields, a database quotes the duplicate key, an HTTP API echoes the
// request in its 400. So every failure's error passes two filters before
// it leaves the engine:
//
//   - jqMessage rewrites gojq's runtime errors by their shape: a value
//     preview is replaced by its type (`cannot iterate over: string`),
//     since a preview is cut at 30 bytes and a cut value would slip past
//     the scrubber below;
//   - scrub replaces every occurrence of the record's leaf values (strings
//     of at least 3 characters, numbers of at least 3 digits), as they
//     are and JSON-escaped, with "[value]" (values under 8 characters
//     only as words of their own), and a value's start cut off by an
//     excerpt's end. This covers messages the engine cannot parse:
//     user-authored fail and error(...) messages, connector errors.
//
// What stays is what a user needs to fix the flow: the stage, the kind of
// error, the types involved, field, column and constraint names. What a
// scrubber cannot see (a value the flow computed, e.g. upper-cased, and
// then quoted) is not caught here; connectors keep values out of the
// errors they build where they can (the sql connector drops a driver's
// quoted values).

// scrubbed is the placeholder for a record's value in an error.
const scrubbed = "[value]"

// minScrubLen is the shortest string value scrubbed, and the fewest digits
// of a scrubbed number: shorter ones ("id", 42, true) say nothing about a
// person and would turn every message into placeholders.
const minScrubLen = 3

// failureError is err's message made safe to store: jq's value previews
// taken out and the records' values replaced.
func failureError(err error, records ...any) string {
	return scrub(jqMessage(err), records...)
}

// scrubError is err with a message scrubbed against records; it still
// unwraps to err, so callers can branch on what it is.
func scrubError(err error, records ...any) error {
	if err == nil {
		return nil
	}
	msg := scrub(err.Error(), records...)
	if msg == err.Error() {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// scrub replaces, in msg, every occurrence of a leaf value of records
// with "[value]", longest values first so a value inside another is not
// left half replaced. A message that ends (before an optional "…") with
// the start of a value, as a bounded excerpt does, has that start
// replaced too.
func scrub(msg string, records ...any) string {
	if msg == "" {
		return msg
	}
	var vals []string
	seen := map[string]bool{}
	add := func(s string) {
		if utf8.RuneCountInString(s) >= minScrubLen && !seen[s] {
			seen[s] = true
			vals = append(vals, s)
		}
	}
	for _, r := range records {
		leaves(r, func(s string) {
			add(s)
			if j, err := json.Marshal(s); err == nil {
				add(string(j[1 : len(j)-1])) // as a JSON answer quotes it
			}
		}, add)
	}
	if len(vals) == 0 {
		return msg
	}
	slices.SortFunc(vals, func(a, b string) int { return len(b) - len(a) })
	// The cut value first: a shorter value inside it, replaced first,
	// would hide the start it ends with.
	msg = scrubTail(msg, vals)
	for _, v := range vals {
		if strings.Contains(msg, v) {
			msg = replaceValue(msg, v)
		}
	}
	return msg
}

// wordScrubLen is the length below which a value is replaced only where
// it stands as a word of its own: a record's "obj" or "int" must not
// turn "object" into "[value]ect". Longer values are replaced wherever
// they are, so a value glued to other text ("id" + .code) still goes.
const wordScrubLen = 8

// replaceValue replaces v in msg with the placeholder.
func replaceValue(msg, v string) string {
	if utf8.RuneCountInString(v) >= wordScrubLen {
		return strings.ReplaceAll(msg, v, scrubbed)
	}
	var b strings.Builder
	for {
		i := strings.Index(msg, v)
		if i < 0 {
			b.WriteString(msg)
			return b.String()
		}
		end := i + len(v)
		r0, _ := utf8.DecodeRuneInString(v)
		r1, _ := utf8.DecodeLastRuneInString(v)
		before, _ := utf8.DecodeLastRuneInString(msg[:i])
		after, _ := utf8.DecodeRuneInString(msg[end:])
		glued := (i > 0 && wordRune(r0) && wordRune(before)) || (end < len(msg) && wordRune(r1) && wordRune(after))
		b.WriteString(msg[:i])
		if glued {
			b.WriteString(v)
		} else {
			b.WriteString(scrubbed)
		}
		msg = msg[end:]
	}
}

func wordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// scrubTail replaces a value's start at the end of msg when msg was cut
// (it ends in "…" or "..."), as an excerpt is.
func scrubTail(msg string, vals []string) string {
	body, tail := msg, ""
	for _, t := range []string{"…", "..."} {
		if strings.HasSuffix(body, t) {
			body, tail = strings.TrimSuffix(body, t), t
			break
		}
	}
	if tail == "" {
		return msg // not cut: "total over 100" keeps its 100 beside a 1000
	}
	for _, v := range vals {
		// The longest start of v that body ends with, of at least
		// minScrubLen characters (v itself was replaced already).
		for n := len(v) - 1; n > 0; n-- {
			if !utf8.RuneStart(v[n]) || utf8.RuneCountInString(v[:n]) < minScrubLen {
				continue
			}
			if strings.HasSuffix(body, v[:n]) {
				return strings.TrimSuffix(body, v[:n]) + scrubbed + tail
			}
		}
	}
	return msg
}

// leaves calls str for each string in v (object keys are field names, not
// values, and are kept) and num for each number of at least minScrubLen
// digits, in its usual spellings.
func leaves(v any, str, num func(string)) {
	switch x := v.(type) {
	case string:
		str(x)
	case map[string]any:
		for _, e := range x {
			leaves(e, str, num)
		}
	case []any:
		for _, e := range x {
			leaves(e, str, num)
		}
	case json.Number:
		number(x.String(), num)
	case int:
		number(strconv.Itoa(x), num)
	case int64:
		number(strconv.FormatInt(x, 10), num)
	case *big.Int:
		number(x.String(), num)
	case float64:
		number(strconv.FormatFloat(x, 'f', -1, 64), num)
		number(strconv.FormatFloat(x, 'g', -1, 64), num)
		if j, err := json.Marshal(x); err == nil {
			number(string(j), num)
		}
	}
}

func number(s string, num func(string)) {
	digits := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			digits++
		}
	}
	if digits >= minScrubLen {
		num(s)
	}
}

// jqTyped is where gojq previews a value after its type:
// `string ("secret")`, `object ({"a":1})`, `number (12345)`.
var jqTyped = regexp.MustCompile(`\b(boolean|number|string|array|object) \(`)

// jqArgs are gojq's `name(args) cannot be applied to` (args previewed)
// and `name cannot be applied to value: why`.
var (
	jqArgs    = regexp.MustCompile(`^(\w+)\((.*)\) cannot be applied to`)
	jqApplied = " cannot be applied to "
)

// jqPreviewAfter are gojq messages that end in a bare preview.
var jqPreviewAfter = []string{
	"array index should not be negative: ",
	"array index too large: ",
	"repeat string result too large: ",
	"flatten depth should not be negative: ",
}

// jqMessage is err's message with gojq's value previews replaced by their
// types. An error(...) or halt_error value is the flow author's message:
// it is kept, for scrub to take the record's values out of.
func jqMessage(err error) string {
	msg := err.Error()
	var ve gojq.ValueError
	if errors.As(err, &ve) || !strings.HasPrefix(msg, "jq: ") {
		return msg
	}
	body := strings.TrimPrefix(msg, "jq: ")
	for _, p := range jqPreviewAfter {
		if strings.HasPrefix(body, p) {
			return "jq: " + strings.TrimSuffix(p, ": ")
		}
	}
	if m := jqArgs.FindStringSubmatchIndex(body); m != nil {
		body = body[:m[4]] + "…" + body[m[5]:]
	} else if i := strings.Index(body, jqApplied); i >= 0 && !strings.HasPrefix(body[i+len(jqApplied):], ":") {
		// name cannot be applied to PREVIEW: why
		rest := body[i+len(jqApplied):]
		if n := previewEnd(rest, ':'); n >= 0 {
			body = body[:i] + jqApplied + "a value" + rest[n:]
		} else {
			body = body[:i] + jqApplied + "a value"
		}
	}
	var b strings.Builder
	for {
		m := jqTyped.FindStringSubmatchIndex(body)
		if m == nil {
			b.WriteString(body)
			break
		}
		b.WriteString(body[:m[3]]) // up to and with the type
		rest := body[m[1]:]
		n := previewEnd(rest, ')')
		if n < 0 {
			break // no end found: drop the rest rather than risk a value
		}
		body = rest[n+1:]
	}
	return "jq: " + b.String()
}

// previewEnd is the index in s of the stop byte that ends a gojq preview
// at its start, or -1. A preview is JSON of at most 30 bytes; a cut one
// ends in ` ..."`, ` ...]`, ` ...}` or ` ...`.
func previewEnd(s string, stop byte) int {
	const maxPreview = 30
	depth, inStr, esc := 0, false, false
	for i := 0; i < len(s) && i <= maxPreview+1; i++ {
		for _, t := range []string{` ..."`, ` ...]`, ` ...}`, ` ...`} {
			if strings.HasPrefix(s[i:], t+string(stop)) {
				return i + len(t)
			}
		}
		c := s[i]
		switch {
		case esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == stop && depth <= 0:
			return i
		}
	}
	return -1
}
