package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// flowDef is a small valid flow document named name, in its canonical
// form: it reads records from an NDJSON file, each identified by its
// "id". The fields of more are set on it, replacing the defaults.
func flowDef(name string, more ...map[string]any) map[string]any {
	def := map[string]any{"name": name,
		"read":      map[string]any{"file": map[string]any{"path": "in/orders.ndjson", "format": "ndjson"}},
		"entity_id": ".id"}
	for _, m := range more {
		maps.Copy(def, m)
	}
	return def
}

func pipePath(pid string, rest ...string) string {
	return "/api/v1/projects/" + pid + "/pipes" + strings.Join(rest, "")
}

func flowPath(pid, pipe string, rest ...string) string {
	return pipePath(pid, "/", pipe, "/flows") + strings.Join(rest, "")
}

// mustPipe has c create a pipe and returns its ID.
func mustPipe(t *testing.T, c *apptest.Client, pid, name string) string {
	t.Helper()
	r := c.Do(t, "POST", pipePath(pid), map[string]any{"name": name})
	wantStatus(t, r, http.StatusCreated, "create pipe "+name)
	return r.String("id")
}

// mustFlow has c create a flow from def and returns its ID.
func mustFlow(t *testing.T, c *apptest.Client, pid, pipe string, def any) string {
	t.Helper()
	r := c.Do(t, "POST", flowPath(pid, pipe), map[string]any{"definition": def})
	wantStatus(t, r, http.StatusCreated, "create flow")
	return r.String("id")
}

// canon is a document as the API answers it: canonical JSON, decoded.
func canon(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// pipelineState is every pipe, flow and flow version row and the number
// of audit events, read from the store directly: what a refused request
// must leave as it was.
func pipelineState(t *testing.T, inst *apptest.Instance) string {
	t.Helper()
	ctx := context.Background()
	db := inst.App.Store.WriteDB()
	var b strings.Builder
	for _, q := range []string{
		`SELECT id || '|' || project_id || '|' || name || '|' || description || '|' || console_log FROM pipes ORDER BY id`,
		`SELECT id || '|' || pipe_id || '|' || name || '|' || CASE WHEN enabled THEN 'on' ELSE 'off' END || '|' || version || '|' || definition FROM flows ORDER BY id`,
		`SELECT flow_id || '|' || version || '|' || definition FROM flow_versions ORDER BY flow_id, version`,
		`SELECT CAST(COUNT(*) AS TEXT) FROM audit_events`,
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				t.Fatal(err)
			}
			b.WriteString(s + "\n")
		}
		rows.Close()
	}
	return b.String()
}

// samePipelines fails unless the pipeline rows are as before.
func samePipelines(t *testing.T, inst *apptest.Instance, before, what string) {
	t.Helper()
	if after := pipelineState(t, inst); after != before {
		t.Fatalf("%s changed the store:\nbefore %s\nafter  %s", what, before, after)
	}
}

// problemFields are the fields an error answer's details name.
func problemFields(r *apptest.Response) []string {
	var out []string
	d, _ := r.Get("error.details").([]any)
	for _, x := range d {
		m, _ := x.(map[string]any)
		f, _ := m["field"].(string)
		out = append(out, f)
	}
	return out
}

// TestPipesCRUD: a pipe is created with the project's console-log
// defaults, listed, read, renamed and deleted with its flows; a name is
// unique in its project.
func TestPipesCRUD(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		pid := mustProject(t, bob.C, "Shop")
		mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
		wantStatus(t, bob.C.Do(t, "PATCH", "/api/v1/projects/"+pid, map[string]any{"settings": map[string]any{
			"console_log_defaults": map[string]any{"enabled": false, "capture": []string{"method_url", "response"}, "auto_off_hours": 12}}}), 200, "set console-log defaults")

		// A standard user builds pipes.
		r := cyd.C.Do(t, "POST", pipePath(pid), map[string]any{"name": " Shop ↔ ERP ", "description": "orders and stock"})
		wantStatus(t, r, http.StatusCreated, "create pipe")
		id := r.String("id")
		want := map[string]any{"enabled": false, "capture": []any{"method_url", "response"}, "sensitive": []any{}, "auto_off_hours": float64(12)}
		if r.String("name") != "Shop ↔ ERP" || r.String("description") != "orders and stock" || !reflect.DeepEqual(r.Get("console_log"), want) ||
			r.String("created_at") == "" || r.String("updated_at") == "" {
			t.Fatalf("created pipe: %s", r.Body)
		}
		got := bob.C.Do(t, "GET", pipePath(pid, "/", id), nil)
		wantStatus(t, got, 200, "read pipe")
		if !reflect.DeepEqual(got.JSON, r.JSON) {
			t.Fatalf("read %s\nwant the create answer %s", got.Body, r.Body)
		}
		wantError(t, cyd.C.Do(t, "POST", pipePath(pid), map[string]any{"name": "Shop ↔ ERP"}), http.StatusConflict, "conflict", "a second pipe of the same name")
		other := mustProject(t, bob.C, "Other")
		mustPipe(t, bob.C, other, "Shop ↔ ERP") // the same name in another project
		second := mustPipe(t, cyd.C, pid, "Another")

		l := cyd.C.Do(t, "GET", pipePath(pid), nil)
		wantStatus(t, l, 200, "list pipes")
		pipes, _ := l.Get("pipes").([]any)
		if len(pipes) != 2 || dig(pipes[0], "id") != second || dig(pipes[1], "id") != id {
			t.Fatalf("list: %s", l.Body)
		}

		inst.Clock.Advance(60e9)
		r = cyd.C.Do(t, "PATCH", pipePath(pid, "/", id), map[string]any{"name": "Shop to ERP", "description": ""})
		wantStatus(t, r, 200, "rename pipe")
		if r.String("name") != "Shop to ERP" || r.String("description") != "" || r.String("updated_at") == got.String("updated_at") ||
			!reflect.DeepEqual(r.Get("console_log"), want) {
			t.Fatalf("after rename: %s", r.Body)
		}
		wantError(t, cyd.C.Do(t, "PATCH", pipePath(pid, "/", id), map[string]any{"name": "Another"}), http.StatusConflict, "conflict", "rename onto a taken name")
		wantError(t, cyd.C.Do(t, "PATCH", pipePath(pid, "/", id), map[string]any{}), http.StatusUnprocessableEntity, "invalid_field", "a change of nothing")

		f := mustFlow(t, cyd.C, pid, id, flowDef("orders"))
		wantStatus(t, cyd.C.Do(t, "DELETE", pipePath(pid, "/", id), nil), http.StatusNoContent, "delete pipe")
		wantError(t, cyd.C.Do(t, "GET", pipePath(pid, "/", id), nil), http.StatusNotFound, "not_found", "a deleted pipe")
		wantError(t, cyd.C.Do(t, "GET", flowPath(pid, id, "/", f), nil), http.StatusNotFound, "not_found", "a flow of a deleted pipe")
		wantError(t, cyd.C.Do(t, "GET", flowPath(pid, id), nil), http.StatusNotFound, "not_found", "the flows of a deleted pipe")
		wantError(t, cyd.C.Do(t, "DELETE", pipePath(pid, "/", id), nil), http.StatusNotFound, "not_found", "a second delete")
		var n int
		if err := inst.App.Store.WriteDB().QueryRow(`SELECT COUNT(*) FROM flow_versions`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%d flow versions outlive their pipe (%v)", n, err)
		}
	})
}

// TestPipeProblemsAreListed: every problem of a pipe, with its path; nothing
// is saved.
func TestPipeProblemsAreListed(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		id := mustPipe(t, bob.C, pid, "Shop ↔ ERP")
		before := pipelineState(t, inst)
		bad := map[string]any{"name": "  ", "description": strings.Repeat("x", 2001),
			"console_log": map[string]any{"enabled": true, "capture": []string{"bodies", "headers", "headers"},
				"sensitive": []string{"customer.email", "a..b"}, "auto_off_hours": 0}}
		wantFields := []string{"console_log.capture[0]", "console_log.capture[2]", "console_log.sensitive[1]", "console_log.auto_off_hours", "name", "description"}
		for _, req := range []struct{ method, path string }{{"POST", pipePath(pid)}, {"PATCH", pipePath(pid, "/", id)}} {
			r := bob.C.Do(t, req.method, req.path, bad)
			wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", req.method+" an invalid pipe")
			if got := problemFields(r); !slices.Equal(got, wantFields) {
				t.Errorf("%s: problems at %q, want %q; body %s", req.method, got, wantFields, r.Body)
			}
		}
		r := bob.C.Do(t, "POST", pipePath(pid), map[string]any{"description": "no name"})
		wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", "a pipe without a name")
		if got := problemFields(r); !slices.Equal(got, []string{"name"}) {
			t.Errorf("problems at %q, want name", got)
		}
		wantError(t, bob.C.Do(t, "POST", pipePath(pid), map[string]any{"name": "x", "console_log": map[string]any{"capture": "headers"}}),
			http.StatusBadRequest, "invalid_field", "capture of the wrong JSON type")
		samePipelines(t, inst, before, "invalid pipes")
	})
}

// TestFlowVersions: every save keeps the previous version; a version can
// be listed, read and restored, and a restore adds a version rather than
// rewriting history.
func TestFlowVersions(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		pid := mustProject(t, bob.C, "Shop")
		mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
		pipe := mustPipe(t, bob.C, pid, "Shop ↔ ERP")
		// Valid documents in their canonical form, so that each is stored
		// as sent.
		defs := []map[string]any{
			flowDef("orders", map[string]any{"steps": []any{map[string]any{"map": "{id, total}"}}}),
			flowDef("orders", map[string]any{"steps": []any{map[string]any{"filter": ".total > 0"}, map[string]any{"map": "{id, total}"}}}),
			flowDef("orders to erp", map[string]any{"entity_id": ".order_no",
				"write": map[string]any{"file": map[string]any{"path": "out/orders.csv", "format": "csv"}}}),
		}

		r := bob.C.Do(t, "POST", flowPath(pid, pipe), map[string]any{"definition": defs[0]})
		wantStatus(t, r, http.StatusCreated, "create flow")
		id := r.String("id")
		if r.String("pipe_id") != pipe || r.String("name") != "orders" || r.Get("enabled") != false || r.Get("version") != float64(1) ||
			!reflect.DeepEqual(r.Get("definition"), canon(t, defs[0])) || r.String("created_by") != bob.ID {
			t.Fatalf("created flow: %s", r.Body)
		}
		for i, c := range []*apptest.Client{cyd.C, bob.C} {
			inst.Clock.Advance(60e9)
			r = c.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": defs[i+1]})
			wantStatus(t, r, 200, fmt.Sprintf("save version %d", i+2))
			if r.Get("version") != float64(i+2) || !reflect.DeepEqual(r.Get("definition"), canon(t, defs[i+1])) {
				t.Fatalf("after save %d: %s", i+2, r.Body)
			}
		}
		if r.String("name") != "orders to erp" {
			t.Fatalf("the name follows the definition: %s", r.Body)
		}

		l := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions"), nil)
		wantStatus(t, l, 200, "list versions")
		vs, _ := l.Get("versions").([]any)
		if len(vs) != 3 {
			t.Fatalf("three saves, %d versions: %s", len(vs), l.Body)
		}
		for i, v := range vs {
			by := map[int]*person{0: bob, 1: cyd, 2: bob}[i]
			if dig(v, "version") != float64(3-i) || dig(v, "saved_by") != by.ID || dig(v, "saved_by_email") != by.Email ||
				dig(v, "saved_at") == nil || dig(v, "definition") != nil || dig(v, "restored_from") != nil {
				t.Errorf("version entry %d: %v", i, v)
			}
		}
		v1 := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions/1"), nil)
		wantStatus(t, v1, 200, "read version 1")
		if v1.Get("version") != float64(1) || !reflect.DeepEqual(v1.Get("definition"), canon(t, defs[0])) || v1.String("saved_by") != bob.ID {
			t.Fatalf("version 1: %s", v1.Body)
		}
		for _, v := range []string{"0", "4", "-1", "01", "one"} {
			wantError(t, cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions/", v), nil), http.StatusNotFound, "not_found", "version "+v)
		}

		// Restore version 1: a new version 4 equal to it.
		r = cyd.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/1/restore"), nil)
		wantStatus(t, r, 200, "restore version 1")
		if r.Get("version") != float64(4) || r.String("name") != "orders" || !reflect.DeepEqual(r.Get("definition"), canon(t, defs[0])) {
			t.Fatalf("after restoring version 1: %s", r.Body)
		}
		v4 := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions/4"), nil)
		if v4.Get("restored_from") != float64(1) || !reflect.DeepEqual(v4.Get("definition"), v1.Get("definition")) || v4.String("saved_by") != cyd.ID {
			t.Fatalf("version 4: %s", v4.Body)
		}
		if again := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions/1"), nil); !reflect.DeepEqual(again.JSON, v1.JSON) {
			t.Fatalf("the restore rewrote version 1: %s", again.Body)
		}
		wantError(t, cyd.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/9/restore"), nil), http.StatusNotFound, "not_found", "restore a missing version")

		// Saving or restoring what the flow already holds adds nothing,
		// nor does the same document written as YAML: what is compared is
		// the canonical JSON.
		before := pipelineState(t, inst)
		r = cyd.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": defs[0]})
		wantStatus(t, r, 200, "save the current definition again")
		if r.Get("version") != float64(4) {
			t.Fatalf("an unchanged save made a version: %s", r.Body)
		}
		r = cyd.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": "name: orders\n" +
			"read: {file: {format: ndjson, path: in/orders.ndjson}}\n" +
			"entity_id: .id\n" +
			"steps:\n  - map: '{id, total}'   # the same step\n"})
		wantStatus(t, r, 200, "save the current definition again, as YAML")
		wantStatus(t, cyd.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/4/restore"), nil), 200, "restore the current version")
		if r.Get("version") != float64(4) {
			t.Fatalf("an unchanged save made a version: %s", r.Body)
		}
		samePipelines(t, inst, before, "unchanged saves")

		// YAML text: handed to the validator as sent, stored canonical
		// (no comments, no empty list of steps).
		r = cyd.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": "# orders, from a file\n" +
			"name: orders-yaml\n" +
			"read:\n  file: {path: in/orders.ndjson, format: ndjson}   # one record a line\n" +
			"entity_id: .id\n" +
			"steps: []\n"})
		wantStatus(t, r, 200, "save YAML text")
		if r.Get("version") != float64(5) || r.String("name") != "orders-yaml" ||
			!reflect.DeepEqual(r.Get("definition"), canon(t, flowDef("orders-yaml"))) {
			t.Fatalf("after saving YAML: %s", r.Body)
		}
		g := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id), nil)
		wantStatus(t, g, 200, "read flow")
		if !reflect.DeepEqual(g.JSON, r.JSON) {
			t.Fatalf("read %s\nwant the save's answer %s", g.Body, r.Body)
		}
		l = cyd.C.Do(t, "GET", flowPath(pid, pipe), nil)
		flows, _ := l.Get("flows").([]any)
		if len(flows) != 1 || dig(flows[0], "id") != id || dig(flows[0], "version") != float64(5) || dig(flows[0], "definition") != nil {
			t.Fatalf("list flows (without definitions): %s", l.Body)
		}

		// A name is unique in its pipe, for a create and for a save.
		other := mustFlow(t, cyd.C, pid, pipe, flowDef("stock"))
		wantError(t, cyd.C.Do(t, "POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("stock")}), http.StatusConflict, "conflict", "a second flow named stock")
		wantError(t, cyd.C.Do(t, "PUT", flowPath(pid, pipe, "/", other), map[string]any{"definition": flowDef("orders-yaml")}), http.StatusConflict, "conflict", "a save onto a taken name")

		wantStatus(t, cyd.C.Do(t, "DELETE", flowPath(pid, pipe, "/", id), nil), http.StatusNoContent, "delete flow")
		wantError(t, cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id), nil), http.StatusNotFound, "not_found", "a deleted flow")
		wantError(t, cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions"), nil), http.StatusNotFound, "not_found", "versions of a deleted flow")
	})
}

// TestFlowEnableDisable: flows start off unless created on; enabling and
// disabling are their own routes, change no version, and repeating one
// changes nothing.
func TestFlowEnableDisable(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		pid := mustProject(t, bob.C, "Shop")
		mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
		pipe := mustPipe(t, bob.C, pid, "P")
		id := mustFlow(t, bob.C, pid, pipe, flowDef("orders"))
		r := bob.C.Do(t, "POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("stock"), "enabled": true})
		wantStatus(t, r, http.StatusCreated, "create an enabled flow")
		if r.Get("enabled") != true {
			t.Fatalf("created enabled: %s", r.Body)
		}

		for _, step := range []struct {
			route   string
			enabled bool
			events  int
		}{{"enable", true, 1}, {"enable", true, 0}, {"disable", false, 1}, {"disable", false, 0}, {"enable", true, 1}} {
			before := len(eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)))
			r := cyd.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/", step.route), nil)
			wantStatus(t, r, 200, step.route)
			if r.Get("enabled") != step.enabled || r.Get("version") != float64(1) || r.Get("definition") == nil {
				t.Fatalf("after %s: %s", step.route, r.Body)
			}
			if g := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id), nil); g.Get("enabled") != step.enabled {
				t.Fatalf("read after %s: %s", step.route, g.Body)
			}
			if after := len(eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil))); after-before != step.events {
				t.Errorf("%s recorded %d events, want %d", step.route, after-before, step.events)
			}
		}
		vs := cyd.C.Do(t, "GET", flowPath(pid, pipe, "/", id, "/versions"), nil)
		if l, _ := vs.Get("versions").([]any); len(l) != 1 {
			t.Fatalf("enabling made versions: %s", vs.Body)
		}
	})
}

// TestFlowProblemsSaveNothing: an invalid definition is refused with every
// problem and its path in the document, and nothing is saved.
func TestFlowProblemsSaveNothing(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		pipe := mustPipe(t, bob.C, pid, "P")
		id := mustFlow(t, bob.C, pid, pipe, flowDef("orders"))
		before := pipelineState(t, inst)
		for _, tc := range []struct {
			name   string
			body   map[string]any
			fields []string
			texts  []string
		}{
			{"no definition", map[string]any{}, []string{"definition"}, []string{"is required"}},
			{"a null definition", map[string]any{"definition": nil}, []string{"definition"}, []string{"is required"}},
			{"an array", map[string]any{"definition": []any{1}}, []string{"definition"}, []string{"JSON object, or YAML text"}},
			{"a number", map[string]any{"definition": 7}, []string{"definition"}, []string{"JSON object, or YAML text"}},
			{"problems in the document", map[string]any{"definition": map[string]any{"name": "orders",
				"read":     map[string]any{"file": map[string]any{"path": "../orders.ndjson", "format": "xml"}},
				"steps":    []any{map[string]any{"map": "{id,"}, map[string]any{"filter": ".total > 0", "map": "."}},
				"on_error": map[string]any{"backoff": 2}}},
				// In the order of the document as sent: the client sends
				// object keys sorted; a missing field is placed at its start.
				[]string{"definition.entity_id", "definition.on_error.backoff", "definition.read.file.format", "definition.read.file.path",
					"definition.steps[0].map", "definition.steps[1]"},
				[]string{"is required: a jq expression giving each record's ID", "leaves the files directory", "jq syntax error", "a step does exactly one thing"}},
			{"a document that is not a mapping", map[string]any{"definition": "- name: orders\n"}, []string{"definition"}, []string{"line 1, column 1: a flow document is a mapping"}},
			{"an unknown field", map[string]any{"definition": flowDef("orders", map[string]any{"conection": "shop"})},
				[]string{"definition.conection"}, []string{`unknown field \"conection\"`}},
			{"a name too long", map[string]any{"definition": flowDef(strings.Repeat("n", 101))}, []string{"definition.name"}, []string{"longer than 100 characters"}},
			{"a blank name", map[string]any{"definition": flowDef(" ")}, []string{"definition.name"}, []string{"is blank"}},
			{"bad YAML", map[string]any{"definition": "name: x\n  indented: no\n"}, []string{"definition"}, []string{"line 1, column 7: YAML syntax error"}},
			{"problems in YAML text", map[string]any{"definition": "name: orders\n" +
				"read:\n  file: {path: in/orders.ndjson, format: xml}\n" +
				"entity_id: .id\n" +
				"steps:\n  - filter: .total > 0\n  - map: '{id,'\n"},
				[]string{"definition.read.file.format", "definition.steps[1].map"},
				[]string{"line 3, column 42: \\\"xml\\\" is not allowed here", "line 7, column 15: jq syntax error"}},
		} {
			for _, req := range []struct{ method, path string }{{"POST", flowPath(pid, pipe)}, {"PUT", flowPath(pid, pipe, "/", id)}} {
				r := bob.C.Do(t, req.method, req.path, tc.body)
				wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", req.method+" "+tc.name)
				got := problemFields(r)
				if !slices.Equal(got, tc.fields) {
					t.Errorf("%s %s: problems at %q, want %q; body %s", req.method, tc.name, got, tc.fields, r.Body)
				}
				for _, text := range tc.texts {
					if !strings.Contains(string(r.Body), text) {
						t.Errorf("%s %s: the answer does not mention %q; body %s", req.method, tc.name, text, r.Body)
					}
				}
			}
		}
		samePipelines(t, inst, before, "invalid definitions")
		if g := bob.C.Do(t, "GET", flowPath(pid, pipe, "/", id), nil); g.Get("version") != float64(1) {
			t.Fatalf("the flow moved on: %s", g.Body)
		}
	})
}

// TestPipesIDOR: an ID of another project's (or another pipe's) pipe or
// flow under a path the caller may use answers 404 and changes nothing.
func TestPipesIDOR(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		dan := addPerson(t, inst, ann, "dan")
		a := mustProject(t, bob.C, "A")
		b := mustProject(t, dan.C, "B")
		pa, pa2 := mustPipe(t, bob.C, a, "PA"), mustPipe(t, bob.C, a, "PA2")
		fa := mustFlow(t, bob.C, a, pa, flowDef("fa"))
		pb := mustPipe(t, dan.C, b, "PB")
		fb := mustFlow(t, dan.C, b, pb, flowDef("fb"))
		wantStatus(t, dan.C.Do(t, "PUT", flowPath(b, pb, "/", fb), map[string]any{"definition": flowDef("fb", map[string]any{"entity_id": ".order_no"})}), 200, "B's flow version 2")
		before := pipelineState(t, inst)

		def := map[string]any{"definition": flowDef("stolen")}
		type probe struct {
			method, path string
			body         any
		}
		var probes []probe
		// B's pipe under A's path.
		probes = append(probes,
			probe{"GET", pipePath(a, "/", pb), nil},
			probe{"PATCH", pipePath(a, "/", pb), map[string]any{"name": "stolen"}},
			probe{"DELETE", pipePath(a, "/", pb), nil},
			probe{"GET", flowPath(a, pb), nil},
			probe{"POST", flowPath(a, pb), def})
		// B's flow under A's path, through B's pipe ID and through A's own
		// pipe; A's flow under A's other pipe.
		for _, at := range [][2]string{{pb, fb}, {pa, fb}, {pa2, fa}} {
			probes = append(probes,
				probe{"GET", flowPath(a, at[0], "/", at[1]), nil},
				probe{"PUT", flowPath(a, at[0], "/", at[1]), def},
				probe{"DELETE", flowPath(a, at[0], "/", at[1]), nil},
				probe{"POST", flowPath(a, at[0], "/", at[1], "/enable"), nil},
				probe{"POST", flowPath(a, at[0], "/", at[1], "/disable"), nil},
				probe{"GET", flowPath(a, at[0], "/", at[1], "/versions"), nil},
				probe{"GET", flowPath(a, at[0], "/", at[1], "/versions/1"), nil},
				probe{"POST", flowPath(a, at[0], "/", at[1], "/versions/1/restore"), nil})
		}
		for _, p := range probes {
			wantError(t, bob.C.Do(t, p.method, p.path, p.body), http.StatusNotFound, "not_found", p.method+" "+p.path)
		}
		samePipelines(t, inst, before, "cross-project probes")
	})
}

// TestPipesMassAssignment: fields a route does not take are refused
// whole (400 unknown_field), at any depth; nothing changes.
func TestPipesMassAssignment(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		other := mustProject(t, bob.C, "Other")
		pipe := mustPipe(t, bob.C, pid, "P")
		id := mustFlow(t, bob.C, pid, pipe, flowDef("orders"))
		before := pipelineState(t, inst)
		for _, tc := range []struct {
			method, path string
			body         map[string]any
			field        string
		}{
			{"POST", pipePath(pid), map[string]any{"name": "x", "id": "chosen-id"}, "id"},
			{"POST", pipePath(pid), map[string]any{"name": "x", "project_id": other}, "project_id"},
			{"POST", pipePath(pid), map[string]any{"name": "x", "console_log": map[string]any{"enabled": false, "expires_at": "never"}}, "expires_at"},
			{"PATCH", pipePath(pid, "/", pipe), map[string]any{"name": "x", "created_at": "2020-01-01T00:00:00Z"}, "created_at"},
			{"POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("y"), "version": 9}, "version"},
			{"POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("y"), "pipe_id": "elsewhere"}, "pipe_id"},
			{"POST", flowPath(pid, pipe), map[string]any{"definition": flowDef("y"), "created_by": "someone"}, "created_by"},
			{"PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": flowDef("y"), "enabled": true}, "enabled"},
			{"PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": flowDef("y"), "version": 1}, "version"},
		} {
			r := bob.C.Do(t, tc.method, tc.path, tc.body)
			wantError(t, r, http.StatusBadRequest, "unknown_field", fmt.Sprintf("%s with %s", tc.method, tc.field))
			if errorField(r) != tc.field {
				t.Errorf("%s with %s: the error names %q", tc.method, tc.field, errorField(r))
			}
		}
		samePipelines(t, inst, before, "mass assignment")
	})
}

// TestPipeConsoleLogNeedsConfigure: a standard user builds pipes but may
// not change their console-log settings; a request that also changes them
// is refused whole (DESIGN §4), before its other problems are looked at.
// Sending the settings unchanged is no change.
func TestPipeConsoleLogNeedsConfigure(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		cyd := addPerson(t, inst, ann, "cyd")
		eve := addPerson(t, inst, ann, "eve")
		pid := mustProject(t, bob.C, "Shop")
		mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "standard"})
		mustMember(t, bob.C, pid, map[string]any{"user_id": eve.ID, "role": "admin"})
		cydKey, _ := inst.APIKey(t, cyd.C, 1)
		pipe := mustPipe(t, bob.C, pid, "P")
		current := bob.C.Do(t, "GET", pipePath(pid, "/", pipe), nil).Get("console_log")

		before := pipelineState(t, inst)
		for _, c := range []*apptest.Client{cyd.C, cydKey} {
			for _, tc := range []struct {
				name, method, path string
				body               map[string]any
			}{
				{"rename and turn the log on", "PATCH", pipePath(pid, "/", pipe), map[string]any{"name": "Renamed", "console_log": map[string]any{"enabled": true}}},
				{"capture more", "PATCH", pipePath(pid, "/", pipe), map[string]any{"console_log": map[string]any{"capture": []string{"headers"}}}},
				{"an invalid change", "PATCH", pipePath(pid, "/", pipe), map[string]any{"name": " ", "console_log": map[string]any{"auto_off_hours": 0}}},
				{"create with the log on", "POST", pipePath(pid), map[string]any{"name": "Debug", "console_log": map[string]any{"enabled": true}}},
			} {
				r := c.Do(t, tc.method, tc.path, tc.body)
				wantError(t, r, http.StatusForbidden, "forbidden", "standard: "+tc.name)
				if errorField(r) != "console_log" {
					t.Errorf("%s: the refusal names %q, not console_log", tc.name, errorField(r))
				}
			}
		}
		samePipelines(t, inst, before, "refused console-log changes")

		r := cyd.C.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"name": "Renamed", "console_log": current})
		wantStatus(t, r, 200, "standard sends the settings unchanged")
		if r.String("name") != "Renamed" || !reflect.DeepEqual(r.Get("console_log"), current) {
			t.Fatalf("after the standard user's change: %s", r.Body)
		}
		wantStatus(t, cyd.C.Do(t, "POST", pipePath(pid), map[string]any{"name": "Debug", "console_log": map[string]any{"enabled": false}}), http.StatusCreated, "standard creates with the default settings")

		on := map[string]any{"enabled": true, "capture": []any{"method_url", "records"}, "sensitive": []any{"customer.email"}, "auto_off_hours": float64(4)}
		r = eve.C.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"console_log": on})
		wantStatus(t, r, 200, "admin turns the log on")
		// Turning it on sets when it switches itself off: 4 hours on.
		got, _ := r.Get("console_log").(map[string]any)
		until, err := time.Parse(time.RFC3339, fmt.Sprint(got["until"]))
		if err != nil || until.Sub(inst.Clock.Now()) < 4*time.Hour-time.Minute || until.Sub(inst.Clock.Now()) > 4*time.Hour {
			t.Fatalf("switch-off time of the admin's change: %s", r.Body)
		}
		on["until"] = got["until"]
		if !reflect.DeepEqual(got, on) {
			t.Fatalf("after the admin's change: %s", r.Body)
		}
		ev := eventsOf(t, bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit?action=pipe.update", nil))[0]
		if dig(ev, "actor_email") != eve.Email || !reflect.DeepEqual(dig(ev, "detail", "console_log", "after"), on) ||
			!reflect.DeepEqual(dig(ev, "detail", "console_log", "before"), current) {
			t.Fatalf("the audit event of the change: %v", ev)
		}
		// A standard user may still rename it, sending the settings back
		// as read.
		wantStatus(t, cyd.C.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"name": "Renamed again", "console_log": on}), 200, "standard renames, settings as read")
	})
}

// TestPipelineAudit: every change is an audit event with its actor, IP,
// target and before/after; definitions themselves are never recorded.
func TestPipelineAudit(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		const marker = "Planted-Definition-Text-5521"
		pipe := mustPipe(t, bob.C, pid, "P")
		wantStatus(t, bob.C.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"name": "Q"}), 200, "rename pipe")
		planted := func(name, text string) map[string]any {
			return flowDef(name, map[string]any{"steps": []any{map[string]any{"filter": `.note != "` + text + `"`}}})
		}
		id := mustFlow(t, bob.C, pid, pipe, planted("orders", marker))
		if g := bob.C.Do(t, "GET", flowPath(pid, pipe, "/", id), nil); !strings.Contains(string(g.Body), marker) {
			t.Fatalf("the definition does not hold the marker: %s", g.Body)
		}
		wantStatus(t, bob.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": planted("orders2", marker+"b")}), 200, "save")
		wantStatus(t, bob.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/enable"), nil), 200, "enable")
		wantStatus(t, bob.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/disable"), nil), 200, "disable")
		wantStatus(t, bob.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/1/restore"), nil), 200, "restore")
		wantStatus(t, bob.C.Do(t, "DELETE", flowPath(pid, pipe, "/", id), nil), 204, "delete flow")
		wantStatus(t, bob.C.Do(t, "DELETE", pipePath(pid, "/", pipe), nil), 204, "delete pipe")

		r := bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)
		if strings.Contains(string(r.Body), marker) {
			t.Fatalf("the audit log holds a definition: %s", r.Body)
		}
		events := eventsOf(t, r)
		slices.Reverse(events)
		events = events[1:] // project.create
		want := []struct {
			action, target string
			detail         map[string]any
		}{
			{"pipe.create", "pipe:" + pipe, map[string]any{"name": "P"}},
			{"pipe.update", "pipe:" + pipe, map[string]any{"name": map[string]any{"before": "P", "after": "Q"}}},
			{"flow.create", "flow:" + id, map[string]any{"name": "orders", "pipe_id": pipe, "version": float64(1), "enabled": false}},
			{"flow.save", "flow:" + id, map[string]any{"version": map[string]any{"before": float64(1), "after": float64(2)},
				"name": map[string]any{"before": "orders", "after": "orders2"}}},
			{"flow.enable", "flow:" + id, map[string]any{"enabled": map[string]any{"before": false, "after": true}, "version": float64(2)}},
			{"flow.disable", "flow:" + id, map[string]any{"enabled": map[string]any{"before": true, "after": false}}},
			{"flow.restore", "flow:" + id, map[string]any{"restored_from": float64(1), "version": map[string]any{"before": float64(2), "after": float64(3)},
				"name": map[string]any{"before": "orders2", "after": "orders"}}},
			{"flow.delete", "flow:" + id, map[string]any{"name": "orders", "version": float64(3)}},
			{"pipe.delete", "pipe:" + pipe, map[string]any{"name": "Q", "flows_deleted": float64(0)}},
		}
		if len(events) != len(want) {
			t.Fatalf("%d events, want %d: %s", len(events), len(want), r.Body)
		}
		for i, w := range want {
			e := events[i]
			if e["action"] != w.action || e["target"] != w.target || e["actor_id"] != bob.ID || e["actor_email"] != bob.Email ||
				e["ip"] != "127.0.0.1" || e["outcome"] != "success" || e["project_id"] != pid {
				t.Errorf("event %d: %v, want %s on %s by bob from 127.0.0.1", i, e, w.action, w.target)
			}
			for k, v := range w.detail {
				if got := dig(e, "detail", k); !reflect.DeepEqual(got, v) {
					t.Errorf("event %s: detail.%s = %v, want %v", w.action, k, got, v)
				}
			}
		}
	})
}
