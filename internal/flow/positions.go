package flow

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// positions maps paths in the document to their nodes, so problems found
// on the typed flow can point into the source. A nil *positions knows no
// places (a flow built in Go).
type positions struct {
	src  *source
	vals map[string]*node // the value at a path
}

func newPositions(src *source) *positions {
	return &positions{src: src, vals: map[string]*node{}}
}

// written says whether the document gives path a (non-null) value.
func (p *positions) written(path string) bool {
	if p == nil {
		return false
	}
	n, ok := p.vals[path]
	return ok && n.kind != kindNull
}

// at is where path's value is, or else its nearest ancestor's.
func (p *positions) at(path string) (line, col int) {
	if p == nil {
		return 0, 0
	}
	for {
		if n, ok := p.vals[path]; ok && n.line > 0 {
			return n.line, n.col
		}
		if path == "" {
			return 0, 0
		}
		path = parentPath(path)
	}
}

// within is the place of byte off of the string at path: exact where the
// source spells the string so that it can be followed (plain, quoted on
// one line, literal blocks), else the string's start with exact false.
func (p *positions) within(path string, off int) (line, col int, exact bool) {
	if p == nil {
		return 0, 0, false
	}
	n, ok := p.vals[path]
	if !ok || n.kind != kindString {
		line, col = p.at(path)
		return line, col, false
	}
	if so := sourceOffset(p.src, n, off); so >= 0 {
		line, col = p.src.place(so)
		return line, col, true
	}
	return n.line, n.col, false
}

// sourceOffset maps byte off of n's value to its byte offset in the
// source, or -1.
func sourceOffset(src *source, n *node, off int) int {
	if off < 0 || off > len(n.text) {
		return -1
	}
	start := src.offset(n.line, n.col)
	if start < 0 {
		return -1
	}
	switch n.style {
	case 0:
		if start+len(n.text) <= len(src.data) && string(src.data[start:start+len(n.text)]) == n.text {
			return start + off
		}
	case '\'', '"':
		if m := quotedMap(src.data, start, n.style); m != nil && len(m) == len(n.text)+1 {
			return m[off]
		}
	case '|':
		return literalOffset(src, n, off)
	}
	return -1
}

// quotedMap maps each byte of a one-line quoted string's value to its
// source offset (one entry past the end for the closing quote). It gives
// up (nil) on anything it cannot follow exactly, such as a line break.
func quotedMap(data []byte, start int, quote byte) []int {
	if start >= len(data) || data[start] != quote {
		return nil
	}
	var m []int
	i := start + 1
	for i < len(data) {
		b := data[i]
		switch {
		case b == '\n' || b == '\r':
			return nil
		case b == quote && quote == '\'' && i+1 < len(data) && data[i+1] == '\'':
			m = append(m, i)
			i += 2
		case b == quote:
			return append(m, i)
		case b == '\\' && quote == '"':
			r, n := unescape(data[i:])
			if n == 0 {
				return nil
			}
			for range utf8.RuneLen(r) {
				m = append(m, i)
			}
			i += n
		default:
			m = append(m, i)
			i++
		}
	}
	return nil
}

// simpleEscapes are YAML's one-character escapes (YAML 1.2 §5.7).
var simpleEscapes = map[byte]rune{'0': 0, 'a': 7, 'b': 8, 't': 9, '\t': 9, 'n': 10, 'v': 11, 'f': 12, 'r': 13, 'e': 27,
	' ': ' ', '"': '"', '/': '/', '\\': '\\', 'N': 0x85, '_': 0xa0, 'L': 0x2028, 'P': 0x2029}

// unescape decodes one YAML double-quoted escape at the start of b,
// returning the rune and the bytes it took (0 when unknown).
func unescape(b []byte) (rune, int) {
	if len(b) < 2 {
		return 0, 0
	}
	if r, ok := simpleEscapes[b[1]]; ok {
		return r, 2
	}
	digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[b[1]]
	if digits == 0 || len(b) < 2+digits {
		return 0, 0
	}
	v, err := strconv.ParseUint(string(b[2:2+digits]), 16, 32)
	if err != nil {
		return 0, 0
	}
	r, n := rune(v), 2+digits
	if utf16.IsSurrogate(r) && len(b) >= n+6 && b[n] == '\\' && b[n+1] == 'u' {
		if lo, err := strconv.ParseUint(string(b[n+2:n+6]), 16, 32); err == nil {
			if pair := utf16.DecodeRune(r, rune(lo)); pair != utf8.RuneError {
				return pair, n + 6
			}
		}
	}
	if !utf8.ValidRune(r) {
		r = utf8.RuneError
	}
	return r, n
}

// literalOffset maps an offset in a literal block (|) to the source: the
// block's lines follow its header line one for one, indented.
func literalOffset(src *source, n *node, off int) int {
	lineIdx := strings.Count(n.text[:off], "\n")
	lineStart := strings.LastIndexByte(n.text[:off], '\n') + 1
	lineEnd := strings.IndexByte(n.text[lineStart:], '\n')
	if lineEnd < 0 {
		lineEnd = len(n.text)
	} else {
		lineEnd += lineStart
	}
	want := n.text[lineStart:lineEnd]
	srcLine := n.line + 1 + lineIdx
	if srcLine > len(src.lineStarts) {
		return -1
	}
	from := src.lineStarts[srcLine-1]
	to := len(src.data)
	if srcLine < len(src.lineStarts) {
		to = src.lineStarts[srcLine] - 1
	}
	text := strings.TrimSuffix(string(src.data[from:to]), "\r")
	if !strings.HasSuffix(text, want) || strings.TrimSpace(text[:len(text)-len(want)]) != "" {
		return -1
	}
	return from + len(text) - len(want) + (off - lineStart)
}

// parentPath drops the last step of a path: "a.b[2]" → "a.b" → "a" → "".
func parentPath(path string) string {
	if strings.HasSuffix(path, "]") {
		if i := strings.LastIndex(path, "["); i >= 0 {
			return path[:i]
		}
	}
	if i := strings.LastIndexAny(path, ".["); i >= 0 {
		return path[:i]
	}
	return ""
}

// child is path.name, or path["name"] for a name that is not a plain word.
func child(path, name string) string {
	plain := name != ""
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + strconv.Quote(name) + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

// index is path[i].
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func decodeRune(b []byte) (rune, int) {
	r, n := utf8.DecodeRune(b)
	if n == 0 {
		n = 1
	}
	return r, n
}
