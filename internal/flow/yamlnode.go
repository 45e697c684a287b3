package flow

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/lexer"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Limits on a flow document. Flows are small; these keep a hostile one
// from exhausting memory or stack.
const (
	// MaxDocumentBytes is the largest flow document accepted.
	MaxDocumentBytes = 1 << 20
	maxDepth         = 64
	// maxNodes bounds the document once aliases are expanded, so a
	// "billion laughs" of nested aliases is refused before it is walked.
	maxNodes = 100_000
)

type nodeKind int

const (
	kindNull nodeKind = iota
	kindString
	kindInt
	kindFloat
	kindBool
	kindMap
	kindSeq
)

func (k nodeKind) String() string {
	return [...]string{"null", "a string", "a whole number", "a number", "true or false", "a mapping", "a list"}[k]
}

// node is one YAML value with its place in the source. Aliases share the
// node of their anchor.
type node struct {
	kind      nodeKind
	line, col int // 1-based; col counts characters
	// text is a string's value, or a number's or boolean's source text.
	text  string
	style byte // a string's style: 0 plain, '\'', '"', '|' literal, '>' folded
	num   int64
	numOK bool
	keys  []*node // a mapping's keys, in order, with vals beside them
	vals  []*node
	items []*node // a list's items
	size  int     // nodes in this subtree, aliases expanded
}

// grow adds n to the node's size, stopping just past maxNodes: nested
// aliases multiply sizes, which would otherwise overflow.
func (n *node) grow(by int) {
	n.size = min(n.size+by, maxNodes+1)
}

// source is the document text, for turning places into line and column.
type source struct {
	data       []byte
	lineStarts []int
}

func newSource(data []byte) *source {
	s := &source{data: data, lineStarts: []int{0}}
	for i, b := range data {
		if b == '\n' {
			s.lineStarts = append(s.lineStarts, i+1)
		}
	}
	return s
}

// offset is the byte offset of a 1-based line and character column, or
// -1 when there is no such place.
func (s *source) offset(line, col int) int {
	if line < 1 || line > len(s.lineStarts) || col < 1 {
		return -1
	}
	off := s.lineStarts[line-1]
	for c := 1; c < col; c++ {
		if off >= len(s.data) || s.data[off] == '\n' {
			return -1
		}
		_, n := decodeRune(s.data[off:])
		off += n
	}
	return off
}

// place is the 1-based line and character column of a byte offset.
func (s *source) place(off int) (line, col int) {
	line = 1
	for i, start := range s.lineStarts {
		if start > off {
			break
		}
		line = i + 1
	}
	col = 1
	for i := s.lineStarts[line-1]; i < off && i < len(s.data); {
		_, n := decodeRune(s.data[i:])
		i += n
		col++
	}
	return line, col
}

// parseYAML reads data (YAML, or JSON, which is YAML) into nodes. Syntax
// problems are reported with their place; the result is nil when the
// document cannot be read at all.
func parseYAML(data []byte, src *source, ps *problems) (root *node) {
	if len(data) > MaxDocumentBytes {
		ps.addAt("", 0, 0, "the document is %d bytes, over the limit of %d: split the flow", len(data), MaxDocumentBytes)
		return nil
	}
	defer func() {
		// The YAML parser is third-party code fed untrusted text: a bug in
		// it must be a refused document, not a crashed server.
		if r := recover(); r != nil {
			ps.addAt("", 0, 0, "YAML syntax error: the document could not be read (%v)", r)
			root = nil
		}
	}()
	tokens := lexer.Tokenize(string(data))
	if tk := tooDeep(tokens); tk != nil {
		line, col := place(tk)
		ps.addAt("", line, col, "the document nests deeper than %d levels", maxDepth)
		return nil
	}
	f, err := parser.Parse(tokens, 0, parser.AllowDuplicateMapKey())
	if err != nil {
		var ye yaml.Error
		line, col := 0, 0
		msg := err.Error()
		if errors.As(err, &ye) {
			msg = ye.GetMessage()
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				line, col = tk.Position.Line, tk.Position.Column
			}
		}
		ps.addAt("", line, col, "YAML syntax error: %s%s", msg, syntaxHint(src, line, msg))
		return nil
	}
	var docs []*ast.DocumentNode
	for _, d := range f.Docs {
		if d != nil && d.Body != nil && !isComment(d.Body) {
			docs = append(docs, d)
		}
	}
	switch {
	case len(docs) == 0:
		ps.addAt("", 0, 0, "the document is empty: a flow needs at least name, read (or trigger.dynamic), entity_id and steps or write")
		return nil
	case len(docs) > 1:
		tk := docs[1].Body.GetToken()
		ps.addAt("", tk.Position.Line, tk.Position.Column, "the text holds %d YAML documents (separated by ---): a flow is one document; put each flow in its own file", len(docs))
		return nil
	}
	c := &converter{src: src, ps: ps, anchors: map[string]*node{}}
	root = c.convert(docs[0].Body, 0)
	if root == nil {
		return nil
	}
	if root.size > maxNodes {
		ps.addAt("", root.line, root.col, "the document has more than %d values, counting each use of an alias (*name) in full: write it out plainly, or split the flow", maxNodes)
		return nil
	}
	return root
}

// tooDeep finds the token where the document nests deeper than maxDepth,
// or nil. It runs on the tokens, before the parser, whose time grows with
// the square of the depth: a megabyte of "[" would take minutes.
// Block nesting is read from indentation (each "- " or key further right
// than the one it belongs to opens a level), flow nesting from brackets.
func tooDeep(tokens token.Tokens) *token.Token {
	flow := 0
	var block []int // the columns of the open block levels
	for _, tk := range tokens {
		if tk == nil || tk.Position == nil {
			continue
		}
		col := 0
		switch tk.Type {
		case token.SequenceStartType, token.MappingStartType:
			flow++
		case token.SequenceEndType, token.MappingEndType:
			flow = max(0, flow-1)
		case token.SequenceEntryType, token.MappingKeyType:
			col = tk.Position.Column
		case token.MappingValueType:
			if tk.Prev != nil && tk.Prev.Position != nil && tk.Prev.Position.Line == tk.Position.Line {
				col = tk.Prev.Position.Column
			}
		}
		if col > 0 && flow == 0 {
			for len(block) > 0 && block[len(block)-1] >= col {
				block = block[:len(block)-1]
			}
			block = append(block, col)
		}
		if flow+len(block) > maxDepth {
			return tk
		}
	}
	return nil
}

// syntaxHint adds the likely cause of a YAML syntax error on a line
// holding a template or a { } mapping: an unquoted value.
func syntaxHint(src *source, line int, msg string) string {
	if line < 1 || line > len(src.lineStarts) {
		return ""
	}
	end := len(src.data)
	if line < len(src.lineStarts) {
		end = src.lineStarts[line]
	}
	text := string(src.data[src.lineStarts[line-1]:end])
	switch {
	case strings.Contains(text, "{{"):
		return ` (a value holding {{...}} must be quoted, e.g. path: "/orders/{{.id}}")`
	case strings.Contains(text, "{") && (strings.Contains(msg, "flow map") || strings.Contains(msg, "'}'")):
		return " (inside { } quote values that hold { } [ ] , or :, e.g. records: '.[]')"
	}
	return ""
}

func isComment(n ast.Node) bool {
	switch n.(type) {
	case *ast.CommentGroupNode, *ast.CommentNode:
		return true
	}
	return false
}

// converter turns the YAML library's syntax tree into nodes.
type converter struct {
	src     *source
	ps      *problems
	anchors map[string]*node
}

func (c *converter) fail(tk *token.Token, format string, args ...any) *node {
	line, col := 0, 0
	if tk != nil && tk.Position != nil {
		line, col = tk.Position.Line, tk.Position.Column
	}
	c.ps.addAt("", line, col, format, args...)
	return nil
}

func place(tk *token.Token) (int, int) {
	if tk == nil || tk.Position == nil {
		return 0, 0
	}
	return tk.Position.Line, tk.Position.Column
}

func (c *converter) convert(n ast.Node, depth int) *node {
	if depth > maxDepth {
		return c.fail(n.GetToken(), "the document nests deeper than %d levels", maxDepth)
	}
	switch n := n.(type) {
	case nil:
		return &node{kind: kindNull, size: 1}
	case *ast.NullNode:
		return c.scalar(n.Token, kindNull, "")
	case *ast.StringNode:
		out := c.scalar(n.Token, kindString, n.Value)
		switch n.Token.Type {
		case token.SingleQuoteType:
			out.style = '\''
		case token.DoubleQuoteType:
			out.style = '"'
		}
		return out
	case *ast.LiteralNode:
		out := c.scalar(n.Start, kindString, "")
		if n.Value != nil {
			out.text = n.Value.Value
		}
		out.style = '|'
		if n.Start.Type == token.FoldedType {
			out.style = '>'
		}
		return out
	case *ast.IntegerNode:
		out := c.scalar(n.Token, kindInt, n.Token.Value)
		switch v := n.Value.(type) {
		case int64:
			out.num, out.numOK = v, true
		case uint64:
			if v <= 1<<62 {
				out.num, out.numOK = int64(v), true
			}
		}
		return out
	case *ast.FloatNode:
		return c.scalar(n.Token, kindFloat, n.Token.Value)
	case *ast.InfinityNode:
		return c.scalar(n.Token, kindFloat, n.Token.Value)
	case *ast.NanNode:
		return c.scalar(n.Token, kindFloat, n.Token.Value)
	case *ast.BoolNode:
		return c.scalar(n.Token, kindBool, n.Token.Value)
	case *ast.MappingNode:
		out := &node{kind: kindMap, size: 1}
		out.line, out.col = c.mapPlace(n)
		for _, mv := range n.Values {
			if !c.pair(out, mv, depth) {
				return nil
			}
		}
		return out
	case *ast.MappingValueNode:
		out := &node{kind: kindMap, size: 1}
		out.line, out.col = place(n.Key.GetToken())
		if !c.pair(out, n, depth) {
			return nil
		}
		return out
	case *ast.SequenceNode:
		out := &node{kind: kindSeq, size: 1}
		out.line, out.col = place(n.Start)
		for _, v := range n.Values {
			item := c.convert(v, depth+1)
			if item == nil {
				return nil
			}
			out.items = append(out.items, item)
			out.grow(item.size)
		}
		return out
	case *ast.AnchorNode:
		v := c.convert(n.Value, depth+1)
		if v != nil && n.Name != nil {
			c.anchors[n.Name.GetToken().Value] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.GetToken().Value
		}
		v, ok := c.anchors[name]
		if !ok {
			return c.fail(n.Start, "alias *%s names no anchor (&%s) above it", name, name)
		}
		return v
	case *ast.TagNode:
		return c.tagged(n, depth)
	case *ast.MergeKeyNode:
		return c.fail(n.Token, "merge keys (<<) are not supported in flows: write the fields out")
	}
	return c.fail(n.GetToken(), "unsupported YAML construct %s", n.Type())
}

func (c *converter) scalar(tk *token.Token, kind nodeKind, text string) *node {
	line, col := place(tk)
	return &node{kind: kind, line: line, col: col, text: text, size: 1}
}

// mapPlace is where a mapping starts: its first key for a block mapping
// (the library places those at the first colon), its brace for a flow
// mapping.
func (c *converter) mapPlace(n *ast.MappingNode) (int, int) {
	if !n.IsFlowStyle && len(n.Values) > 0 && n.Values[0].Key != nil {
		return place(n.Values[0].Key.GetToken())
	}
	return place(n.Start)
}

func (c *converter) pair(m *node, mv *ast.MappingValueNode, depth int) bool {
	if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
		c.fail(mv.Key.GetToken(), "merge keys (<<) are not supported in flows: write the fields out")
		return false
	}
	k := c.convert(mv.Key, depth+1)
	if k == nil {
		return false
	}
	switch k.kind {
	case kindMap, kindSeq:
		c.fail(mv.Key.GetToken(), "a mapping key must be a plain name, not %s", k.kind)
		return false
	}
	v := c.convert(mv.Value, depth+1)
	if v == nil {
		return false
	}
	if mv.Value == nil || isImplicitNull(mv.Value) {
		// The library places an empty value at the colon; the key is the
		// better place to point at.
		v = &node{kind: kindNull, line: k.line, col: k.col, size: 1}
	}
	m.keys = append(m.keys, k)
	m.vals = append(m.vals, v)
	m.grow(k.size + v.size)
	return true
}

func isImplicitNull(n ast.Node) bool {
	nn, ok := n.(*ast.NullNode)
	return ok && nn.Token != nil && nn.Token.Type == token.ImplicitNullType
}

// tagged reads a value with an explicit tag. Only the standard scalar
// tags mean anything in a flow; !!str turns any scalar into text.
func (c *converter) tagged(n *ast.TagNode, depth int) *node {
	tag := n.Start.Value
	v := c.convert(n.Value, depth+1)
	if v == nil {
		return nil
	}
	switch tag {
	case "!!str", "tag:yaml.org,2002:str":
		if v.kind == kindMap || v.kind == kindSeq {
			return c.fail(n.Start, "!!str tags only plain values, not %s", v.kind)
		}
		if v.kind != kindString {
			cp := *v
			cp.kind, cp.style = kindString, 0
			return &cp
		}
		return v
	case "!!int", "!!float", "!!bool", "!!null", "!!map", "!!seq":
		return v
	}
	return c.fail(n.Start, "YAML tag %s is not supported in flows: remove it", tag)
}

// keyText is a mapping key as text.
func keyText(k *node) string {
	if k.kind == kindNull {
		return "null"
	}
	return k.text
}

// quoteJSONish quotes a key or value for a message.
func quoteJSONish(s string) string {
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return strconv.Quote(s)
}

// describe says what a node is, for "must be X, not Y" messages.
func describe(n *node) string {
	switch n.kind {
	case kindString:
		return fmt.Sprintf("the string %s", quoteJSONish(n.text))
	case kindNull:
		return "empty"
	case kindMap, kindSeq:
		return n.kind.String()
	}
	return strings.TrimSpace(n.text)
}
