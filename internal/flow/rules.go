package flow

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/itchyny/gojq"
)

const maxNameLength = 100 // as the API allows for flow names

func (c *checker) name(name string) {
	switch {
	case name == "":
	case strings.TrimSpace(name) == "":
		c.ps.add("name", "is blank: give the flow a name, e.g. name: orders-to-erp")
	case utf8.RuneCountInString(name) > maxNameLength:
		c.ps.add("name", "is longer than %d characters", maxNameLength)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		c.ps.add("name", "contains a control character (a line break or tab): keep it on one line")
	}
}

const maxSchedules = 20

func (c *checker) trigger(t *Trigger) ([]CompiledSchedule, string) {
	if t == nil {
		return nil, ""
	}
	if t.Schedules != nil && t.Dynamic != nil {
		c.ps.add("trigger", "has both schedules and dynamic: a flow either runs on a schedule or is called; keep one (a scheduled flow can still be run by hand)")
	}
	if t.Schedules != nil && len(t.Schedules) == 0 {
		c.ps.add("trigger.schedules", "is an empty list: give at least one {cron: ..., timezone: ...}, or remove schedules to run the flow only by hand")
	}
	if len(t.Schedules) > maxSchedules {
		c.ps.add("trigger.schedules", "has %d schedules, more than the %d allowed", len(t.Schedules), maxSchedules)
	}
	var out []CompiledSchedule
	for i, s := range t.Schedules {
		path := index("trigger.schedules", i)
		loc, zoneErr := loadZone(s.Timezone)
		if zoneErr != nil {
			c.ps.add(path+".timezone", "%v", zoneErr)
			loc = time.UTC // still check the cron expression
		}
		if s.Cron == "" {
			continue
		}
		sched, err := parseSchedule(s.Cron, loc)
		if err != nil {
			c.ps.add(path+".cron", "%v", err)
			continue
		}
		out = append(out, CompiledSchedule{Cron: s.Cron, Location: loc, schedule: sched})
	}
	mode := ""
	if t.Dynamic != nil {
		mode = t.Dynamic.Mode
	}
	return out, mode
}

func (c *checker) read(r *Read, dynamic bool) *CompiledRead {
	switch {
	case r == nil && dynamic:
		return nil
	case r == nil:
		c.ps.add("read", "is required: where the records come from (connection and request for an HTTP API, connection and sql for a database, file for a file); only a dynamic flow has none")
		return nil
	case dynamic:
		c.ps.add("read", "a dynamic flow has no read: its records are the body of the call; remove read, or remove trigger.dynamic")
		return nil
	}
	out := &CompiledRead{Connection: r.Connection}
	switch {
	case r.File != nil:
		out.Kind, out.File = KindFile, r.File
		if r.Connection != "" {
			c.ps.add("read.connection", "a file read names no connection: remove connection (or file, to read through the connection)")
		}
		c.unused("read", "a file read", map[string]bool{"request": r.Request != nil, "records": r.Records != "",
			"paginate": r.Paginate != nil, "fetch_one": r.FetchOne != nil, "incremental": r.Incremental != nil, "sql": r.SQL != nil})
		c.filePath("read.file.path", r.File.Path)
		return out
	case r.Connection == "":
		c.ps.add("read.connection", "is required: the name of the connection to read from (or give file: {path, format} to read a file)")
	}
	if r.SQL != nil {
		out.Kind = KindSQL
		if r.Request != nil {
			c.ps.add("read.sql", "a read has either request (an HTTP API) or sql (a database), not both")
		}
		c.unused("read", "an sql read", map[string]bool{"records": r.Records != "", "paginate": r.Paginate != nil})
		if r.FetchOne != nil {
			c.ps.add("read.fetch_one", "is not used by an sql read: name the key column in sql.key to fetch rows by entity ID")
		}
		if r.Incremental != nil {
			c.ps.add("read.incremental", "is not used by an sql read: name the column to resume after in sql.cursor_column")
		}
		sql := *r.SQL
		if sql.BatchSize == 0 {
			sql.BatchSize = DefaultSQLBatchSize
		}
		c.identifier("read.sql.cursor_column", sql.CursorColumn, false)
		c.identifier("read.sql.key", sql.Key, false)
		out.SQL = &sql
		return out
	}
	out.Kind = KindHTTP
	if r.Request == nil {
		if r.Connection != "" {
			c.ps.add("read.request", "is required: the request that fetches a page, e.g. request: {method: GET, path: /orders} (or sql: for a database connection)")
		}
	} else {
		out.Request = c.request("read.request", r.Request, requestRead)
	}
	if r.Records == "" {
		c.ps.add("read.records", "is required for an HTTP read: a jq expression picking the records out of each page, e.g. records: .orders[] (or .[] when the page is an array)")
	}
	out.Records = c.expr("read.records", r.Records)
	out.Paginate, out.Next = c.paginate(r.Paginate)
	if r.FetchOne != nil {
		fo := Request{Method: r.FetchOne.Method, Path: r.FetchOne.Path, Query: r.FetchOne.Query, Headers: r.FetchOne.Headers}
		out.FetchOne = c.request("read.fetch_one", &fo, requestFetchOne)
	}
	if r.Incremental != nil {
		out.IncrementalCursor = c.expr("read.incremental.cursor", r.Incremental.Cursor)
		out.IncrementalParam = r.Incremental.Param
	}
	return out
}

// unused reports fields that the kind of read or write ignores.
func (c *checker) unused(path, kind string, set map[string]bool) {
	for _, name := range []string{"connection", "request", "records", "paginate", "fetch_one", "incremental", "sql", "batch", "as"} {
		if set[name] {
			c.ps.add(path+"."+name, "is not used by %s: remove it", kind)
		}
	}
}

func (c *checker) paginate(p *Paginate) (Paginate, *gojq.Code) {
	if p == nil {
		return Paginate{Style: "none"}, nil
	}
	out := *p
	set := map[string]bool{"next": p.Next != "", "param": p.Param != "", "size": p.Size != 0 || c.pos.written("read.paginate.size"),
		"size_param": p.SizeParam != "", "start": p.Start != nil}
	allowed := map[string][]string{
		"none":        {},
		"page":        {"param", "size", "size_param", "start"},
		"offset":      {"param", "size", "size_param", "start"},
		"cursor":      {"next", "param", "size", "size_param"},
		"link_header": {"size", "size_param"},
	}
	ok, known := allowed[p.Style]
	if !known {
		return out, nil // the style itself is reported by its tag
	}
	for _, f := range []string{"next", "param", "size", "size_param", "start"} {
		if set[f] && !slices.Contains(ok, f) {
			c.ps.add("read.paginate."+f, "is not used with style %s: remove it%s", p.Style, paginateHint(f))
		}
	}
	if p.SizeParam != "" && p.Size == 0 {
		c.ps.add("read.paginate.size", "is required with size_param: the page size to ask for, e.g. size: 100")
	}
	var next *gojq.Code
	switch p.Style {
	case "page":
		out.Param = defaultString(p.Param, "page")
		if p.Start == nil {
			one := 1
			out.Start = &one
		}
	case "offset":
		out.Param = defaultString(p.Param, "offset")
		if p.Start == nil {
			zero := 0
			out.Start = &zero
		}
	case "cursor":
		if p.Next == "" {
			c.ps.add("read.paginate.next", "is required with style cursor: jq on each page giving the next cursor, e.g. next: .next_cursor (null or empty ends the read)")
		}
		if p.Param == "" {
			c.ps.add("read.paginate.param", "is required with style cursor: the query parameter that sends the cursor, e.g. param: cursor")
		}
		next = c.expr("read.paginate.next", p.Next)
	}
	return out, next
}

func paginateHint(field string) string {
	switch field {
	case "next":
		return " (next is for style cursor)"
	case "start":
		return " (start is for styles page and offset)"
	}
	return ""
}

func (c *checker) write(path string, w *Write) *CompiledWrite {
	out := &CompiledWrite{Connection: w.Connection, Batch: max(w.Batch, 1), As: defaultString(w.As, DefaultAs)}
	c.as(path+".as", w.As)
	switch {
	case w.File != nil:
		out.Kind, out.File = KindFile, w.File
		if w.Connection != "" {
			c.ps.add(path+".connection", "a file write names no connection: remove connection (or file, to write through the connection)")
		}
		c.unused(path, "a file write", map[string]bool{"request": w.Request != nil, "sql": w.SQL != nil,
			"batch": w.Batch != 0, "as": w.As != ""})
		c.filePath(path+".file.path", w.File.Path)
		return out
	case w.Connection == "":
		c.ps.add(path+".connection", "is required: the name of the connection to write to (or give file: {path, format} to write a file)")
	}
	if w.SQL != nil {
		out.Kind = KindSQL
		if w.Request != nil {
			c.ps.add(path+".sql", "a write has either request (an HTTP API) or sql (a database), not both")
		}
		if w.Batch != 0 {
			c.ps.add(path+".batch", "is not used by an sql write: set sql.batch_size")
		}
		sql := *w.SQL
		if sql.BatchSize == 0 {
			sql.BatchSize = DefaultSQLBatchSize
		}
		c.identifier(path+".sql.table", sql.Table, true)
		switch {
		case sql.Mode == "upsert" && len(sql.Key) == 0:
			c.ps.add(path+".sql.key", "is required with mode upsert: the columns that identify a row, e.g. key: [id]")
		case sql.Mode == "insert" && len(sql.Key) > 0:
			c.ps.add(path+".sql.key", "is only used by mode upsert: remove it, or use mode: upsert")
		}
		seen := map[string]bool{}
		for i, k := range sql.Key {
			kp := index(path+".sql.key", i)
			c.identifier(kp, k, false)
			if seen[k] {
				c.ps.add(kp, "column %s is listed twice", quoteJSONish(k))
			}
			seen[k] = true
		}
		out.SQL = &sql
		return out
	}
	out.Kind = KindHTTP
	if w.Request == nil {
		if w.Connection != "" {
			c.ps.add(path+".request", "is required: the request that sends each record, e.g. request: {method: POST, path: /orders} (or sql: for a database connection)")
		}
		return out
	}
	out.Request = c.request(path+".request", w.Request, requestWrite)
	return out
}

var asPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *checker) as(path, as string) {
	if as != "" && !asPattern.MatchString(as) {
		c.ps.add(path, "%s is not a plain field name: use letters, digits and _, e.g. as: customer", quoteJSONish(as))
	}
}

// identifierPattern is a column or table name, schema-qualified where
// allowed. Quoting is the connector's job; the flow names plain columns.
var identifierPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*$`)

func (c *checker) identifier(path, name string, qualified bool) {
	if name == "" {
		return
	}
	parts := []string{name}
	if qualified {
		parts = strings.Split(name, ".")
	}
	for _, p := range parts {
		if len(parts) > 2 || !identifierPattern.MatchString(p) || len(p) > 63 {
			what := "a column name"
			if qualified {
				what = "a table name (or schema.table)"
			}
			c.ps.add(path, "%s is not %s: use letters, digits and _, starting with a letter", quoteJSONish(name), what)
			return
		}
	}
}

// filePath holds file paths inside the files directory: relative, and
// never climbing out of it.
func (c *checker) filePath(path, p string) {
	switch {
	case p == "":
	case strings.ContainsAny(p, "\\\x00"):
		c.ps.add(path, "must not contain a backslash or NUL: separate folders with /")
	case !filepath.IsLocal(p):
		c.ps.add(path, "%s leaves the files directory: give a relative path inside it, with no leading / and no .., e.g. out/orders.ndjson", quoteJSONish(p))
	case strings.HasSuffix(p, "/"):
		c.ps.add(path, "names a folder: give a file name, e.g. %sorders.ndjson", p)
	}
}
