package http

import (
	"context"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
)

// cursorValue is an incremental cursor value: its text (as sent in the
// query) and whether it is a number, which decides how two compare.
type cursorValue struct {
	Text   string `json:"text"`
	Number bool   `json:"number,omitempty"`
}

// newCursorValue reads a kept value: a number when it reads as one.
func newCursorValue(text string) cursorValue {
	_, ok := new(big.Float).SetString(text)
	return cursorValue{Text: text, Number: ok}
}

// less orders cursor values: numerically when both are numbers, else as
// text (ISO 8601 times in one zone and format order correctly as text).
func (a cursorValue) less(b cursorValue) bool {
	if a.Number && b.Number {
		x, okx := new(big.Float).SetString(a.Text)
		y, oky := new(big.Float).SetString(b.Text)
		if okx && oky {
			return x.Cmp(y) < 0
		}
	}
	return a.Text < b.Text
}

// observe runs the incremental cursor expression on a record read and
// keeps the largest value. A record whose cursor cannot be read fails
// alone (its Err is set): it is not silently left behind the cursor.
func (s *Source) observe(ctx context.Context, rec *connector.Record) {
	if s.read.IncrementalCursor == nil {
		return
	}
	vs, err := runJQ(ctx, s.read.IncrementalCursor, rec.Data, 1)
	if err != nil {
		rec.Err = fmt.Errorf("incremental.cursor: %v", err)
		return
	}
	if len(vs) == 0 || vs[0] == nil {
		return // a record without a cursor value does not move it
	}
	text, ok := scalarText(vs[0])
	if !ok {
		rec.Err = fmt.Errorf("incremental.cursor gave %s: a cursor value must be text or a number", describe(vs[0]))
		return
	}
	_, isString := vs[0].(string)
	v := cursorValue{Text: text, Number: !isString}
	if s.max.Text == "" || s.max.less(v) {
		s.max = v
	}
}

// bigText is a *big.Int (gojq's large integers) as text.
func bigText(v any) (string, bool) {
	if b, ok := v.(*big.Int); ok {
		return b.String(), true
	}
	return "", false
}

// nextLink finds the target of rel="next" in Link header values (RFC
// 8288): comma-separated <URI-reference>; param=value links, where rel
// may hold several space-separated relation types.
func nextLink(values []string) (string, bool) {
	for _, v := range values {
		for _, l := range splitLinks(v) {
			target, params, err := parseLink(l)
			if err != nil {
				continue
			}
			for _, rel := range strings.Fields(params["rel"]) {
				if strings.EqualFold(rel, "next") {
					return target, true
				}
			}
		}
	}
	return "", false
}

// splitLinks splits a Link header value at the commas between links
// (not those inside <...> or quotes).
func splitLinks(v string) []string {
	var out []string
	depth, quoted, start := false, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case quoted:
			quoted = c != '"'
		case c == '"':
			quoted = true
		case c == '<':
			depth = true
		case c == '>':
			depth = false
		case c == ',' && !depth:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// parseLink reads one <target>; name=value; name="value" link.
func parseLink(l string) (string, map[string]string, error) {
	l = strings.TrimSpace(l)
	if !strings.HasPrefix(l, "<") {
		return "", nil, errors.New("no <target>")
	}
	end := strings.IndexByte(l, '>')
	if end < 0 {
		return "", nil, errors.New("<target> not closed")
	}
	target := l[1:end]
	params := map[string]string{}
	for _, p := range strings.Split(l[end+1:], ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = strings.ReplaceAll(val[1:len(val)-1], `\"`, `"`)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if _, seen := params[name]; !seen { // RFC 8288: the first rel wins
			params[name] = val
		}
	}
	return target, params, nil
}
