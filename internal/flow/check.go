package flow

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// tagSpec is what a `flow` struct tag says a value must be.
type tagSpec struct {
	required bool
	enum     []string
	min, max *int
}

func parseTags(s string) tagSpec {
	var t tagSpec
	for part := range strings.SplitSeq(s, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "":
		case "required":
			t.required = true
		case "enum":
			t.enum = strings.Split(v, "|")
		case "min", "max":
			n, err := strconv.Atoi(v)
			if err != nil {
				panic("flow: bad tag " + s)
			}
			if k == "min" {
				t.min = &n
			} else {
				t.max = &n
			}
		default:
			panic("flow: unknown tag " + s)
		}
	}
	return t
}

// requiredHints say what a required field is for, keyed by "Type.field".
var requiredHints = map[string]string{
	"Flow.name":          "a name for the flow, e.g. name: orders-to-erp",
	"Flow.entity_id":     "a jq expression giving each record's ID, e.g. entity_id: .id; failed records are kept and fetched again by it",
	"Schedule.cron":      `a 5-field cron expression (minute hour day-of-month month day-of-week), e.g. cron: "*/15 * * * *"`,
	"Dynamic.timeout":    "how long a sync caller waits, e.g. timeout: 10s (default 30s, at most 5m)",
	"Dynamic.mode":       "sync (the caller waits for the respond step's answer) or async (the caller gets 202 and the run ID)",
	"Request.method":     "GET, POST, PUT, PATCH or DELETE",
	"Request.path":       "the path on the connection's base URL, e.g. path: /orders",
	"FetchOne.method":    "GET, POST, PUT, PATCH or DELETE",
	"FetchOne.path":      "the path that reads one record, e.g. path: /orders/{{entity_id}}",
	"Paginate.style":     "none, page, offset, cursor or link_header",
	"Incremental.cursor": "jq on each record giving the value to resume after, e.g. cursor: .updated_at",
	"Incremental.param":  "the query parameter that sends the last cursor, e.g. param: updated_since",
	"File.path":          "a path inside the files directory, e.g. path: out/orders.ndjson",
	"File.format":        "ndjson, csv or json",
	"SQLRead.query":      "the SELECT that reads the rows",
	"Call.connection":    "the name of the connection to call",
	"Call.request":       "the request to send, e.g. request: {method: GET, path: \"/customers/{{.email}}\"}",
	"Case.when":          "a jq expression; the first case whose when is true runs its steps",
	"Case.steps":         "the steps of this case (steps: [] for none)",
	"SQLWrite.table":     "the table to write to, e.g. table: orders",
	"SQLWrite.mode":      "insert or upsert",
}

// checkTags walks the typed flow and reports what its `flow` tags say:
// missing required fields, values outside an enum, numbers out of range.
func checkTags(ps *problems, v reflect.Value, path string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			checkTags(ps, v.Elem(), path)
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkTags(ps, v.Index(i), index(path, i))
		}
	case reflect.Struct:
		t := v.Type()
		for _, f := range fieldsOf(t) {
			fv := v.Field(f.index)
			fpath := child(path, f.name)
			checkField(ps, t.Name()+"."+f.name, fv, fpath, f.tags)
			checkTags(ps, fv, fpath)
		}
	}
}

func checkField(ps *problems, key string, v reflect.Value, path string, tags tagSpec) {
	// A number written as 0 is zero but not missing: check its range.
	written := v.Kind() == reflect.Int && ps.pos.written(path)
	if v.IsZero() && !written {
		if tags.required {
			msg := "is required"
			if h := requiredHints[key]; h != "" {
				msg += ": " + h
			}
			ps.add(path, "%s", msg)
		}
		return
	}
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if len(tags.enum) > 0 && v.Kind() == reflect.String {
		s := v.String()
		if !slices.Contains(tags.enum, s) {
			ps.add(path, "%s", badEnum(s, tags.enum))
		}
	}
	if v.Kind() == reflect.Int {
		n := int(v.Int())
		if tags.min != nil && n < *tags.min {
			ps.add(path, "is %d, below the least allowed, %d", n, *tags.min)
		}
		if tags.max != nil && n > *tags.max {
			ps.add(path, "is %d, above the most allowed, %d", n, *tags.max)
		}
	}
}

// badEnum says a value is not one of the allowed ones.
func badEnum(s string, allowed []string) string {
	msg := fmt.Sprintf("%s is not allowed here: use one of %s", quoteJSONish(s), strings.Join(allowed, ", "))
	if c := closest(s, allowed); c != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", c)
	}
	return msg
}
