package web_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestFlowConnections: saving a flow (create, change, restore) checks
// that every connection it names is a connection of the project, of a
// kind that serves the use; otherwise the save is refused with 422 at the
// name's path and nothing changes.
func TestFlowConnections(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		bob := addPerson(t, inst, ann, "bob")
		pid := mustProject(t, bob.C, "Shop")
		other := mustProject(t, bob.C, "Other")
		pipe := mustPipe(t, bob.C, pid, "Shop ↔ ERP")
		conn := func(project, name, kind string, settings map[string]any) string {
			t.Helper()
			r := bob.C.Do(t, "POST", "/api/v1/projects/"+project+"/connections", map[string]any{"name": name, "kind": kind, "settings": settings})
			wantStatus(t, r, http.StatusCreated, "create connection "+name)
			return r.String("id")
		}
		conn(pid, "shop", "http", map[string]any{"base_url": "https://shop.example.com"})
		dbID := conn(pid, "db", "postgres", map[string]any{"host": "db.example.com", "database": "erp", "user": "sluice"})
		// Another project's connection is no connection of this one.
		conn(other, "erp", "http", map[string]any{"base_url": "https://erp.example.com"})

		httpRead := map[string]any{"connection": "shop", "request": map[string]any{"method": "GET", "path": "/orders"}, "records": ".orders[]"}
		sqlWrite := func(name string) map[string]any {
			return map[string]any{"connection": name, "sql": map[string]any{"table": "orders", "mode": "insert"}}
		}
		good := flowDef("orders", map[string]any{"read": httpRead, "write": sqlWrite("db")})
		id := mustFlow(t, bob.C, pid, pipe, good)
		// Version 2, which will name a connection that is then deleted.
		v2 := flowDef("orders", map[string]any{"read": httpRead, "steps": []any{map[string]any{"map": "{id}"}}, "write": sqlWrite("db")})
		wantStatus(t, bob.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": v2}), http.StatusOK, "save version 2")
		v3 := flowDef("orders", map[string]any{"read": httpRead})
		wantStatus(t, bob.C.Do(t, "PUT", flowPath(pid, pipe, "/", id), map[string]any{"definition": v3}), http.StatusOK, "save version 3")

		before := pipelineState(t, inst)
		for _, tc := range []struct {
			name     string
			def      any
			fields   []string
			messages []string
		}{
			{"a connection the project lacks", flowDef("orders", map[string]any{"read": map[string]any{"connection": "erp",
				"request": map[string]any{"method": "GET", "path": "/orders"}, "records": ".[]"}}),
				[]string{"definition.read.connection"}, []string{`the project has no connection \"erp\"; create it first or fix the name`}},
			{"an http connection for sql", flowDef("orders", map[string]any{"read": httpRead, "write": sqlWrite("shop")}),
				[]string{"definition.write.connection"}, []string{`connection \"shop\" is an http connection, and an sql read or write needs a postgres or mysql connection`}},
			{"a database for a request, deep in the steps", flowDef("orders", map[string]any{"steps": []any{
				map[string]any{"switch": []any{map[string]any{"when": ".a", "steps": []any{
					map[string]any{"write": map[string]any{"connection": "db", "request": map[string]any{"method": "POST", "path": "/x"}}}}}}},
				map[string]any{"call": map[string]any{"connection": "nope", "request": map[string]any{"method": "GET", "path": "/y"}, "as": "y"}}}}),
				[]string{"definition.steps[0].switch[0].steps[0].write.connection", "definition.steps[1].call.connection"},
				[]string{`connection \"db\" is a postgres connection, and an http request needs an http connection`, `no connection \"nope\"`}},
			{"YAML text", "name: orders\nread: {file: {path: in/o.ndjson, format: ndjson}}\nentity_id: .id\nwrite: {connection: missing, sql: {table: t, mode: insert}}\n",
				[]string{"definition.write.connection"}, []string{`no connection \"missing\"`}},
		} {
			for _, req := range []struct{ method, path string }{{"POST", flowPath(pid, pipe)}, {"PUT", flowPath(pid, pipe, "/", id)}} {
				r := bob.C.Do(t, req.method, req.path, map[string]any{"definition": tc.def})
				wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", req.method+" "+tc.name)
				if got := problemFields(r); !slices.Equal(got, tc.fields) {
					t.Errorf("%s %s: problems at %q, want %q; body %s", req.method, tc.name, got, tc.fields, r.Body)
				}
				for _, m := range tc.messages {
					if !strings.Contains(string(r.Body), m) {
						t.Errorf("%s %s: the answer does not say %q; body %s", req.method, tc.name, m, r.Body)
					}
				}
			}
		}
		samePipelines(t, inst, before, "flows naming connections that do not fit")

		// A version naming a connection deleted since cannot be restored.
		wantStatus(t, bob.C.Do(t, "DELETE", "/api/v1/projects/"+pid+"/connections/"+dbID, nil), http.StatusNoContent, "delete connection db")
		before = pipelineState(t, inst)
		r := bob.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/2/restore"), nil)
		wantError(t, r, http.StatusUnprocessableEntity, "invalid_field", "restore a version naming a deleted connection")
		if got := problemFields(r); !slices.Equal(got, []string{"definition.write.connection"}) || !strings.Contains(string(r.Body), `no connection \"db\"`) {
			t.Errorf("restore: %s", r.Body)
		}
		samePipelines(t, inst, before, "a refused restore")
		// Once the connection is back, it can.
		conn(pid, "db", "mysql", map[string]any{"host": "db.example.com", "database": "erp", "user": "sluice"})
		wantStatus(t, bob.C.Do(t, "POST", flowPath(pid, pipe, "/", id, "/versions/2/restore"), nil), http.StatusOK, "restore version 2")
	})
}
