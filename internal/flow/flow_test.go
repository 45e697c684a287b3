package flow

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/itchyny/gojq"
)

// validDocs lists the documents that must parse without a problem: the
// example of DESIGN §5 and testdata/valid.
func validDocs(t *testing.T) []string {
	t.Helper()
	docs, err := filepath.Glob("testdata/valid/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 5 {
		t.Fatalf("found %d valid documents", len(docs))
	}
	return append(docs, "testdata/example.yaml")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestValidDocumentsParse(t *testing.T) {
	for _, path := range validDocs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			if _, err := Parse(mustRead(t, path)); err != nil {
				t.Fatalf("Parse: %v", err)
			}
		})
	}
}

// TestCanonicalRoundTrip: the stored JSON gives the same flow back, and
// is the same bytes every time (so an unchanged flow saves unchanged).
func TestCanonicalRoundTrip(t *testing.T) {
	for _, path := range validDocs(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, err := Parse(mustRead(t, path))
			if err != nil {
				t.Fatal(err)
			}
			canon, err := Canonical(f)
			if err != nil {
				t.Fatal(err)
			}
			again, err := Parse(canon)
			if err != nil {
				t.Fatalf("the canonical JSON does not parse: %v\n%s", err, canon)
			}
			if !reflect.DeepEqual(f, again) {
				t.Fatalf("round trip changed the flow\nbefore %+v\nafter  %+v", f, again)
			}
			canon2, _ := Canonical(again)
			if string(canon) != string(canon2) {
				t.Fatalf("canonical JSON is not stable:\n%s\n%s", canon, canon2)
			}
			if !json.Valid(canon) {
				t.Fatalf("not JSON: %s", canon)
			}
		})
	}
}

func TestExample(t *testing.T) {
	c, err := Load(mustRead(t, "testdata/example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	f := c.Flow
	if f.Name != "orders-to-erp" || f.Read.Paginate.Style != "cursor" || f.Read.Request.Query["status"] != "processing" {
		t.Fatalf("fields not read: %+v", f)
	}
	kinds := []StepKind{}
	for _, s := range c.Steps {
		kinds = append(kinds, s.Kind)
	}
	want := []StepKind{StepFilter, StepMap, StepCall, StepSwitch, StepFail, StepWrite, StepLog, StepRespond}
	if !reflect.DeepEqual(kinds, want) {
		t.Fatalf("step kinds %v, want %v", kinds, want)
	}
	if c.Steps[2].Call.As != "customer" || c.Steps[5].Write.As != DefaultAs || c.Steps[5].Write.Batch != 1 {
		t.Fatalf("call/write defaults wrong: %+v %+v", c.Steps[2].Call, c.Steps[5].Write)
	}
	if len(c.Steps[3].Cases) != 1 || c.Steps[3].Cases[0].Steps[0].Write.Request.Method != "POST" {
		t.Fatalf("switch not compiled: %+v", c.Steps[3])
	}
	if c.Retry != (RetryPolicy{Retries: 3, Backoff: 2 * time.Second, MaxBackoff: time.Minute}) {
		t.Fatalf("retry policy %+v", c.Retry)
	}
	if c.Read.Kind != KindHTTP || c.Read.Next == nil || c.Read.IncrementalCursor == nil || c.Read.IncrementalParam != "updated_since" {
		t.Fatalf("read not compiled: %+v", c.Read)
	}

	// The compiled expressions run.
	out := run(t, c.Steps[1].Expr, map[string]any{"id": 7, "total": 12.5, "items": []any{map[string]any{"sku": "A", "qty": 2, "x": 1}}})
	wantMap := map[string]any{"order_no": "7", "amount": 12.5, "lines": []any{map[string]any{"sku": "A", "qty": 2}}}
	if !reflect.DeepEqual(out, []any{wantMap}) {
		t.Fatalf("map gave %v", out)
	}
	if got := run(t, c.Steps[4].Expr, map[string]any{"lines": []any{}}); !reflect.DeepEqual(got, []any{"order has no lines"}) {
		t.Fatalf("fail gave %v", got)
	}
	if got := run(t, c.Steps[4].Expr, map[string]any{"lines": []any{1}}); len(got) != 0 {
		t.Fatalf("fail on a good record gave %v", got)
	}

	// fetch_one's {{entity_id}} is the ID being fetched, path-escaped.
	p, err := c.Read.FetchOne.Path.Render(context.Background(), nil, url.PathEscape, "A/1 b")
	if err != nil || p != "/orders/A%2F1%20b" {
		t.Fatalf("fetch_one path %q, %v", p, err)
	}
	// The call's template reads the record.
	p, err = c.Steps[2].Call.Request.Path.Render(context.Background(), map[string]any{"email": "a@b.c"}, url.PathEscape)
	if err != nil || p != "/customers/a@b.c" {
		t.Fatalf("call path %q, %v", p, err)
	}

	// The schedule fires in its own zone, whatever zone it is asked in.
	s := c.Schedules[0]
	if s.Location.String() != "America/Chicago" {
		t.Fatalf("zone %v", s.Location)
	}
	after := time.Date(2025, 1, 1, 0, 1, 0, 0, time.UTC) // 18:01 in Chicago
	if next := s.Next(after); !next.Equal(time.Date(2025, 1, 1, 0, 15, 0, 0, time.UTC)) {
		t.Fatalf("next after %v is %v", after, next)
	}
}

func run(t *testing.T, code *gojq.Code, input any) []any {
	t.Helper()
	if code == nil {
		t.Fatal("expression not compiled")
	}
	var out []any
	iter := code.Run(input)
	for {
		v, ok := iter.Next()
		if !ok {
			return out
		}
		if err, isErr := v.(error); isErr {
			t.Fatalf("run: %v", err)
		}
		out = append(out, v)
	}
}

func TestScheduleZones(t *testing.T) {
	c, err := Load([]byte(`
name: zones
trigger:
  schedules:
    - {cron: "0 6 * * *", timezone: America/Chicago}
    - {cron: "30 2 * * 1-5"}
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
write: {file: {path: out.ndjson, format: ndjson}}
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		sched int
		after time.Time
		want  time.Time
	}{
		{"winter: 06:00 CST is 12:00 UTC", 0, time.Date(2025, 1, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)},
		{"summer: 06:00 CDT is 11:00 UTC", 0, time.Date(2025, 7, 10, 0, 0, 0, 0, time.UTC), time.Date(2025, 7, 10, 11, 0, 0, 0, time.UTC)},
		{"asked in another zone", 0, time.Date(2025, 1, 10, 9, 0, 0, 0, time.FixedZone("X", 9*3600)), time.Date(2025, 1, 10, 12, 0, 0, 0, time.UTC)},
		{"UTC by default, weekdays only", 1, time.Date(2025, 1, 10, 3, 0, 0, 0, time.UTC), time.Date(2025, 1, 13, 2, 30, 0, 0, time.UTC)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Schedules[tc.sched].Next(tc.after); !got.Equal(tc.want) {
				t.Fatalf("Next(%v) = %v, want %v", tc.after, got.UTC(), tc.want)
			}
		})
	}
}

func TestParseDefinition(t *testing.T) {
	yamlText := string(mustRead(t, "testdata/valid/files.yaml"))
	asString, _ := json.Marshal(yamlText)
	f, err := Parse([]byte(yamlText))
	if err != nil {
		t.Fatal(err)
	}
	object, _ := Canonical(f)
	for _, tc := range []struct {
		name    string
		raw     string
		problem string // "" when valid
	}{
		{"YAML text in a string", string(asString), ""},
		{"a JSON object", string(object), ""},
		{"JSON text in a string", mustJSON(t, string(object)), ""},
		{"an invalid object", `{"name": "x", "entity_id": ".id", "read": {"file": {"path": "../x", "format": "csv"}}}`, "read.file.path"},
		{"invalid YAML text", mustJSON(t, "name: x\nsteps: [\n"), "YAML syntax error"},
		{"an array", `[1, 2]`, "must be the flow document"},
		{"a number", `42`, "must be the flow document"},
		{"null", `null`, "definition is required"},
		{"nothing", ``, "definition is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, canon, err := ParseDefinition(json.RawMessage(tc.raw))
			if tc.problem == "" {
				if err != nil {
					t.Fatal(err)
				}
				if f.Name != "files" || string(canon) != string(object) {
					t.Fatalf("got %+v, canonical %s", f, canon)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), tc.problem) {
				t.Fatalf("error %v, want a ValidationError saying %q", err, tc.problem)
			}
			if f != nil || canon != nil {
				t.Fatal("an invalid definition returned a flow")
			}
		})
	}
}

func mustJSON(t *testing.T, s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCompileGoFlow: a flow built in Go gets the same checks, with paths
// and no places.
func TestCompileGoFlow(t *testing.T) {
	f := &Flow{
		Name:  "go",
		Read:  &Read{Connection: "shop", Request: &Request{Method: "GET", Path: "/x"}, Records: ".[]"},
		Steps: []Step{{Map: ".a", Filter: ".b"}, {Call: &Call{Connection: "erp"}}},
		Write: &Write{File: &File{Path: "/abs", Format: "csv"}},
	}
	_, err := Compile(f)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Compile = %v", err)
	}
	var paths []string
	for _, p := range ve.Problems {
		if p.Line != 0 || p.Column != 0 {
			t.Errorf("a Go flow has no places: %+v", p)
		}
		paths = append(paths, p.Path)
	}
	want := []string{"entity_id", "steps[0]", "steps[1].call.request", "write.file.path"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("problems at %v, want %v\n%v", paths, want, ve)
	}
	f.EntityID, f.Steps, f.Write.File.Path = ".id", []Step{{Map: ".a"}}, "out.csv"
	c, err := Compile(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Steps) != 2 || c.Steps[1].Path != "write" || c.Steps[1].Write.Kind != KindFile {
		t.Fatalf("the top-level write is not the last step: %+v", c.Steps)
	}
}

// TestJQCannotReadEnvironment: $ENV and env are empty, so a flow cannot
// read the server's environment (its master key, say).
func TestJQCannotReadEnvironment(t *testing.T) {
	t.Setenv("SLUICE_FLOW_TEST_SECRET", "hunter2")
	c, err := Load([]byte(`
name: env
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: '[$ENV.SLUICE_FLOW_TEST_SECRET, env.SLUICE_FLOW_TEST_SECRET, ($ENV | length)]'
write: {file: {path: out.ndjson, format: ndjson}}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, c.Steps[0].Expr, nil)
	if !reflect.DeepEqual(got, []any{[]any{nil, nil, 0}}) {
		t.Fatalf("jq saw the environment: %v", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(mustRead(t, "testdata/valid/page.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Read.Paginate; p.Param != "page" || p.Start == nil || *p.Start != 1 {
		t.Fatalf("page defaults: %+v", p)
	}
	if c.Flow.Read.Paginate.Param != "" || c.Flow.Read.Paginate.Start != nil {
		t.Fatal("Compile wrote its defaults into the document")
	}
	if c.Retry != (RetryPolicy{DefaultRetries, DefaultBackoff, DefaultMaxBackoff}) {
		t.Fatalf("retry defaults %+v", c.Retry)
	}
	c, err = Load(mustRead(t, "testdata/valid/sql.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Read.Kind != KindSQL || c.Read.SQL.BatchSize != 500 || c.Steps[0].Write.SQL.BatchSize != 200 || c.Steps[0].Write.Kind != KindSQL {
		t.Fatalf("sql: %+v %+v", c.Read.SQL, c.Steps[0].Write)
	}
	c, err = Load(mustRead(t, "testdata/valid/dynamic_sync.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Mode != "sync" || c.Read != nil || c.Retry.Retries != 0 {
		t.Fatalf("dynamic: mode %q read %v retry %+v", c.Mode, c.Read, c.Retry)
	}
	if c.Steps[3].Call.As != "erp" || c.Steps[3].Call.Request.Body == nil {
		t.Fatalf("call: %+v", c.Steps[3].Call)
	}
}

func TestStepKinds(t *testing.T) {
	// StepKinds follows Step's fields, which Kinds relies on.
	fields := fieldsOf(reflect.TypeFor[Step]())
	if len(fields) != len(StepKinds) {
		t.Fatalf("%d step fields, %d kinds", len(fields), len(StepKinds))
	}
	for i, f := range fields {
		if string(StepKinds[i]) != f.name {
			t.Fatalf("kind %d is %s, field %s", i, StepKinds[i], f.name)
		}
		s := &Step{}
		v := reflect.ValueOf(s).Elem().Field(f.index)
		switch v.Kind() {
		case reflect.String:
			v.SetString(".")
		case reflect.Pointer:
			v.Set(reflect.New(v.Type().Elem()))
		case reflect.Slice:
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		if s.Kind() != StepKinds[i] {
			t.Fatalf("a step with only %s set is of kind %q", f.name, s.Kind())
		}
	}
}

func TestLimits(t *testing.T) {
	big := []byte("name: x\n# " + strings.Repeat("a", MaxDocumentBytes) + "\n")
	// The YAML parser's time grows with the square of the nesting: these
	// must be refused before it runs (a megabyte of "[" took minutes).
	deepFlow := []byte("name: " + strings.Repeat("[", 500_000) + "\n")
	deepBlock := []byte(strings.Repeat("- ", 500_000) + "x\n")
	var stairs strings.Builder
	for i := range 1000 {
		stairs.WriteString(strings.Repeat(" ", i) + "a:\n")
	}
	for name, tc := range map[string]struct {
		doc  []byte
		says string
	}{
		"too large":         {big, "over the limit"},
		"too deep, flow":    {deepFlow, "nests deeper than 64 levels"},
		"too deep, block":   {deepBlock, "nests deeper than 64 levels"},
		"too deep, indents": {[]byte(stairs.String()), "nests deeper than 64 levels"},
		"deep but allowed":  {[]byte("name: " + strings.Repeat("[", 60) + strings.Repeat("]", 60) + "\n"), "name: must be a string"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(tc.doc)
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(ve.Error(), tc.says) {
				t.Fatalf("Parse = %.300v, want a problem saying %q", err, tc.says)
			}
		})
	}
}

// FuzzParse: no document makes Parse panic, and whatever it accepts
// survives the canonical round trip.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/*")
	seeds = append(seeds, "testdata/example.yaml")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fl, err := Parse(data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("Parse error %T %v", err, err)
			}
			return
		}
		canon, err := Canonical(fl)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(canon); err != nil {
			t.Fatalf("canonical JSON of a valid flow is invalid: %v\n%s", err, canon)
		}
	})
}

func TestConnections(t *testing.T) {
	f, err := Parse(mustRead(t, "testdata/example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []ConnectionRef{
		{"read.connection", "shop", KindHTTP},
		{"steps[2].call.connection", "erp", KindHTTP},
		{"steps[3].switch[0].steps[0].write.connection", "erp", KindHTTP},
		{"steps[5].write.connection", "erp", KindHTTP},
	}
	if got := f.Connections(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Connections() = %v\nwant %v", got, want)
	}
	f, err = Parse(mustRead(t, "testdata/valid/sql.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want = []ConnectionRef{{"read.connection", "pg", KindSQL}, {"write.connection", "maria", KindSQL}}
	if got := f.Connections(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Connections() = %v\nwant %v", got, want)
	}
	f, _ = Parse(mustRead(t, "testdata/valid/files.yaml"))
	if got := f.Connections(); len(got) != 0 {
		t.Fatalf("a file flow names connections: %v", got)
	}
}
