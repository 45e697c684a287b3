package flow

import (
	"sort"
	"strings"

	"github.com/itchyny/gojq"
)

// requestUse is where a request appears, which decides what its templates
// may use.
type requestUse int

const (
	requestRead requestUse = iota
	requestFetchOne
	requestCall
	requestWrite
)

// managedHeaders are set by Sluice or the HTTP client; a flow cannot
// override them.
var managedHeaders = map[string]bool{
	"host": true, "content-length": true, "transfer-encoding": true, "connection": true,
	"te": true, "trailer": true, "upgrade": true, "keep-alive": true, "proxy-connection": true,
}

func (c *checker) request(path string, r *Request, use requestUse) *CompiledRequest {
	out := &CompiledRequest{Method: r.Method}
	var vars []string
	if use == requestFetchOne {
		vars = []string{EntityIDVar}
	}
	if r.Path != "" {
		out.Path = c.template(path+".path", r.Path, vars, use)
		c.requestPath(path+".path", out.Path)
	}
	if len(r.Query) > 0 {
		out.Query = map[string]*CompiledTemplate{}
		for _, k := range sortedKeys(r.Query) {
			kp := child(path+".query", k)
			if strings.TrimSpace(k) == "" {
				c.ps.add(kp, "a query parameter needs a name")
				continue
			}
			out.Query[k] = c.template(kp, r.Query[k], vars, use)
		}
	}
	if len(r.Headers) > 0 {
		out.Headers = map[string]*CompiledTemplate{}
		for _, k := range sortedKeys(r.Headers) {
			kp := child(path+".headers", k)
			t := c.template(kp, r.Headers[k], vars, use)
			c.header(kp, k, t)
			out.Headers[k] = t
		}
	}
	if r.Body != "" {
		if r.Method == "GET" {
			c.ps.add(path+".body", "a GET request sends no body: remove body, or use POST")
		}
		out.Body = c.expr(path+".body", r.Body)
	}
	if use == requestFetchOne && !usesEntityID(out) {
		c.ps.add(path+".path", "never uses {{entity_id}}: every fetch would read the same record; put the ID in the path or query, e.g. path: /orders/{{entity_id}}")
	}
	return out
}

func sortedKeys(m map[string]Template) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// requestPath holds a path to the connection's host: it starts with /,
// and its literal text can neither name another host nor smuggle a query.
func (c *checker) requestPath(path string, t *CompiledTemplate) {
	if t == nil || len(t.parts) == 0 {
		return
	}
	first := t.parts[0]
	var literal strings.Builder
	for _, p := range t.parts {
		if p.code == nil && p.expr == "" {
			literal.WriteString(p.literal)
		}
	}
	lit := literal.String()
	switch {
	case first.literal == "" || !strings.HasPrefix(first.literal, "/"):
		c.ps.add(path, "must start with /: it is a path on the connection's base URL, which gives the host")
	case strings.HasPrefix(first.literal, "//") || strings.Contains(lit, "://"):
		c.ps.add(path, "must not name a host: give only the path; the host comes from the connection")
	case strings.ContainsAny(lit, "?#"):
		c.ps.add(path, "must not contain ? or #: give query parameters under query:, e.g. query: {status: open}")
	case strings.ContainsFunc(lit, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		c.ps.add(path, "contains a space or control character: escape it, e.g. %%20 for a space")
	}
}

func (c *checker) header(path, name string, t *CompiledTemplate) {
	switch {
	case !isToken(name):
		c.ps.add(path, "%s is not a valid header name: use letters, digits and -", quoteJSONish(name))
	case managedHeaders[strings.ToLower(name)]:
		c.ps.add(path, "is set by Sluice and cannot be given in a flow: remove it")
	case t != nil && t.IsLiteral() && looksSecretHeader(name):
		// Same rule as a connection's plain settings: a constant
		// credential in a flow is plain text every member can read.
		c.ps.add(path, "looks like a credential, and a flow is plain text every project member can read: put it in the connection's auth (type api_key with in: header, bearer or basic), which is encrypted")
	}
}

// looksSecretHeader reports header names that carry credentials. It
// matches internal/connection's rule for plain settings.
func looksSecretHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	for _, w := range []string{"key", "token", "secret", "password", "passwd", "signature", "auth", "session"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// isToken says whether s is an HTTP token (RFC 9110 §5.6.2).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!#$%&'*+-.^_`|~", r)) {
			return false
		}
	}
	return true
}

// template compiles the placeholders of a template at path.
func (c *checker) template(path string, t Template, vars []string, use requestUse) *CompiledTemplate {
	parts, terr := splitTemplate(string(t))
	if terr != nil {
		c.problemIn(path, terr.offset, "%s (at character %d)", terr.msg, len([]rune(string(t)[:terr.offset]))+1)
		return nil
	}
	out := &CompiledTemplate{Source: t, parts: parts}
	ok := true
	for i := range out.parts {
		p := &out.parts[i]
		if p.expr == "" {
			continue
		}
		expr := p.expr
		if strings.TrimSpace(expr) == "entity_id" {
			if use != requestFetchOne {
				c.problemIn(path, p.offset, "{{entity_id}} is only known in read.fetch_one: here, use a field of the record, e.g. {{.id}}")
				ok = false
				continue
			}
			expr = EntityIDVar
		}
		var code *gojq.Code
		if code = c.compileJQ(path, expr, p.offset, vars); code == nil {
			ok = false
		}
		p.code = code
	}
	if !ok {
		return nil
	}
	return out
}

// usesEntityID says whether a compiled fetch_one request uses the ID.
func usesEntityID(r *CompiledRequest) bool {
	uses := func(t *CompiledTemplate) bool {
		if t == nil {
			return true // already reported as broken
		}
		for _, p := range t.parts {
			if strings.TrimSpace(p.expr) == "entity_id" || strings.Contains(p.expr, EntityIDVar) {
				return true
			}
		}
		return false
	}
	if r.Path == nil || uses(r.Path) {
		return true
	}
	for _, m := range []map[string]*CompiledTemplate{r.Query, r.Headers} {
		for _, t := range m {
			if t != nil && uses(t) {
				return true
			}
		}
	}
	return false
}
