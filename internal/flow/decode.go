package flow

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

var (
	exprType     = reflect.TypeFor[Expr]()
	templateType = reflect.TypeFor[Template]()
	durationType = reflect.TypeFor[Duration]()
)

// decoder fills the Go types from nodes by their `json` names, reporting
// what does not fit: unknown fields (with the closest valid name), values
// of the wrong type, duplicate keys. What a value must be beyond its type
// (required, enums, ranges, rules between fields) is checked afterwards on
// the typed flow, so a flow built in Go gets the same checks.
type decoder struct {
	ps  *problems
	pos *positions
}

func (d *decoder) decode(n *node, v reflect.Value, path string) {
	d.pos.vals[path] = n
	t := v.Type()
	switch {
	case t == exprType || t == templateType || t == durationType || t.Kind() == reflect.String:
		d.text(n, v, path)
	case t.Kind() == reflect.Int:
		d.integer(n, v, path)
	case t.Kind() == reflect.Pointer:
		if n.kind == kindNull {
			return
		}
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), path)
		v.Set(p)
	case t.Kind() == reflect.Struct:
		d.structure(n, v, path)
	case t.Kind() == reflect.Slice:
		d.list(n, v, path)
	case t.Kind() == reflect.Map:
		d.dict(n, v, path)
	default:
		panic(fmt.Sprintf("flow: no decoder for %s", t))
	}
}

func (d *decoder) wrongType(n *node, path, want, hint string) {
	msg := fmt.Sprintf("must be %s, not %s", want, describe(n))
	if hint != "" {
		msg += ": " + hint
	}
	d.ps.unusableAt(path, n.line, n.col, "%s", msg)
}

func (d *decoder) text(n *node, v reflect.Value, path string) {
	t := v.Type()
	switch n.kind {
	case kindNull:
		return
	case kindString:
		v.SetString(n.text)
		return
	case kindInt, kindFloat, kindBool:
		// A jq expression or a query value may well be written as a bare
		// number or true: its text is what was meant.
		if t == exprType || t == templateType {
			v.SetString(strings.TrimSpace(n.text))
			return
		}
	}
	name := lastName(path)
	switch {
	case t == exprType:
		hint := "a jq expression is text"
		if n.kind == kindMap || n.kind == kindSeq {
			hint = fmt.Sprintf("YAML read the expression as %s; a jq expression is text, so quote it, e.g. %s: '{id: .id}'", n.kind, name)
		}
		d.wrongType(n, path, "a jq expression (a string)", hint)
	case t == templateType:
		d.wrongType(n, path, "a string", "quote it: YAML reads a value starting with { or [ as a mapping or a list")
	case t == durationType:
		d.wrongType(n, path, "a duration", "give a number with a unit, e.g. 2s, 500ms or 1m")
	default:
		hint := ""
		if n.kind != kindMap && n.kind != kindSeq {
			hint = "quote it"
		}
		d.wrongType(n, path, "a string", hint)
	}
}

func (d *decoder) integer(n *node, v reflect.Value, path string) {
	switch n.kind {
	case kindNull:
		return
	case kindInt:
		if n.numOK && n.num >= -1<<31 && n.num <= 1<<31-1 {
			v.SetInt(n.num)
			return
		}
		d.wrongType(n, path, "a whole number", "this one is too large")
		return
	case kindString:
		if _, err := strconv.Atoi(n.text); err == nil {
			d.wrongType(n, path, "a whole number", "remove the quotes")
			return
		}
	case kindFloat:
		d.wrongType(n, path, "a whole number", "")
		return
	}
	d.wrongType(n, path, "a whole number", "")
}

// fieldInfo is one field of a struct as the document names it.
type fieldInfo struct {
	name  string
	index int
	tags  tagSpec
}

func fieldsOf(t reflect.Type) []fieldInfo {
	var out []fieldInfo
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		out = append(out, fieldInfo{name: name, index: i, tags: parseTags(f.Tag.Get("flow"))})
	}
	return out
}

func fieldNames(fs []fieldInfo) []string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.name
	}
	return names
}

func (d *decoder) structure(n *node, v reflect.Value, path string) {
	fields := fieldsOf(v.Type())
	if n.kind != kindMap {
		hint := "with the fields " + strings.Join(fieldNames(fields), ", ")
		if n.kind == kindSeq && len(n.items) == 1 && n.items[0].kind == kindMap {
			hint = "remove the list around it (the - or [ ])"
		}
		d.wrongType(n, path, "a mapping", hint)
		return
	}
	seen := map[string]*node{}
	for i, k := range n.keys {
		name := keyText(k)
		fpath := child(path, name)
		if first, dup := seen[name]; dup {
			d.ps.addAt(fpath, k.line, k.col, "%s is given twice (first on line %d): keep one", quoteJSONish(name), first.line)
			continue
		}
		seen[name] = k
		fi := slices.IndexFunc(fields, func(f fieldInfo) bool { return f.name == name })
		if fi < 0 {
			d.ps.unusableAt(fpath, k.line, k.col, "%s", unknownField(name, fields, v.Type()))
			if s := closest(name, fieldNames(fields)); s != "" && seen[s] == nil {
				// The typo stands for that field: do not also call it missing.
				d.ps.unusable = append(d.ps.unusable, child(path, s))
			}
			continue
		}
		d.decode(n.vals[i], v.Field(fields[fi].index), fpath)
	}
}

// unknownField says a field is not known here, suggesting the closest
// valid name and listing the valid ones.
func unknownField(name string, fields []fieldInfo, t reflect.Type) string {
	names := fieldNames(fields)
	msg := fmt.Sprintf("unknown field %s", quoteJSONish(name))
	if s := closest(name, names); s != "" {
		msg += fmt.Sprintf(": did you mean %q?", s)
	} else {
		msg += ":"
	}
	if t == reflect.TypeFor[Step]() {
		return msg + " a step is exactly one of " + strings.Join(names, ", ")
	}
	return msg + " valid fields here are " + strings.Join(names, ", ")
}

func (d *decoder) list(n *node, v reflect.Value, path string) {
	switch n.kind {
	case kindNull:
		return
	case kindSeq:
	default:
		hint := "write its items with - or inside [ ]"
		if n.kind == kindMap && v.Type().Elem().Kind() == reflect.Struct {
			hint = "put the mapping in a list: start it with - or wrap it in [ ]"
		}
		d.wrongType(n, path, "a list", hint)
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.items), len(n.items))
	for i, item := range n.items {
		d.decode(item, s.Index(i), index(path, i))
	}
	v.Set(s)
}

func (d *decoder) dict(n *node, v reflect.Value, path string) {
	switch n.kind {
	case kindNull:
		return
	case kindMap:
	default:
		d.wrongType(n, path, "a mapping of names to values", "e.g. {status: open}")
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.keys))
	for i, k := range n.keys {
		name := keyText(k)
		kpath := child(path, name)
		if m.MapIndex(reflect.ValueOf(name)).IsValid() {
			d.ps.addAt(kpath, k.line, k.col, "%s is given twice: keep one", quoteJSONish(name))
			continue
		}
		val := reflect.New(v.Type().Elem()).Elem()
		if n.vals[i].kind == kindNull {
			d.pos.vals[kpath] = n.vals[i]
			d.ps.unusableAt(kpath, k.line, k.col, "has no value: give one, or remove %s", quoteJSONish(name))
			continue
		}
		d.decode(n.vals[i], val, kpath)
		m.SetMapIndex(reflect.ValueOf(name).Convert(v.Type().Key()), val)
	}
	v.Set(m)
}

// lastName is the last field name in a path ("steps[1].map" → "map").
func lastName(path string) string {
	for strings.HasSuffix(path, "]") {
		path = parentPath(path)
	}
	if i := strings.LastIndexAny(path, ".]"); i >= 0 {
		return path[i+1:]
	}
	return path
}

// closest is the candidate nearest to s (ignoring case), if near enough to
// be a likely typo.
func closest(s string, candidates []string) string {
	best, bestDist := "", 1<<30
	ls := strings.ToLower(s)
	for _, c := range candidates {
		dist := levenshtein(ls, strings.ToLower(c))
		if dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := max(2, len(s)/3)
	if bestDist <= limit && bestDist < len(s) {
		return best
	}
	return ""
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
