package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	valid := write("valid.yaml", `name: copy
read: {file: {path: in/orders.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: '{id, total}'
write: {file: {path: out/orders.ndjson, format: ndjson}}
`)
	invalid := write("invalid.yaml", `name: broken
read:
  conection: shop
  request: {method: GET, path: /orders}
  records: .orders[]
entity_id: .id
steps:
  - map: '{id: .id'
trigger: {schedules: [{cron: "61 * * * *", timezone: Mars/Base}]}
write: {connection: erp, request: {method: POST, path: /orders}}
`)
	noPlace := write("empty.yaml", "# nothing here\n")
	example, err := filepath.Abs("../../internal/flow/testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stdout []string // the first lines, in order
		all    bool     // stdout is every line
		stderr string
	}{
		{"valid", "", []string{"validate", valid}, 0, []string{valid + ": valid"}, true, ""},
		{"the DESIGN example", "", []string{"validate", example}, 0, []string{example + ": valid"}, true, ""},
		{"every problem, with its place", "", []string{"validate", invalid}, 1, []string{
			invalid + `:3:3: read.conection: unknown field "conection": did you mean "connection"?`,
			invalid + ":8:19: steps[0].map: jq syntax error at character 9 of the expression: unexpected end of the expression",
			invalid + `:9:30: trigger.schedules[0].cron: invalid cron expression "61 * * * *"`,
			invalid + `:9:54: trigger.schedules[0].timezone: unknown time zone "Mars/Base"`,
		}, true, "1 of 1 flow file(s) invalid"},
		{"a problem without a place", "", []string{"validate", noPlace}, 1, []string{noPlace + ": the document is empty"}, true, "invalid"},
		{"several files", "", []string{"validate", valid, invalid}, 1, []string{valid + ": valid", invalid + ":3:3: "}, false, "1 of 2"},
		{"standard input", "name: x\n", []string{"validate", "-"}, 1, []string{"-:1:1: entity_id: is required", "-:1:1: read: is required"}, true, ""},
		{"missing file", "", []string{"validate", filepath.Join(dir, "nope.yaml")}, 2, nil, false, "no such file"},
		{"no file", "", []string{"validate"}, 2, nil, false, "usage: sluice validate FILE"},
		{"help", "", []string{"validate", "-h"}, 0, nil, false, "Usage: sluice validate"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := runCmd(t, tc.stdin, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) {
				t.Fatalf("exit %d (want %d)\nstdout: %s\nstderr: %s\nwant stderr containing %q", code, tc.code, out, errOut, tc.stderr)
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if tc.all && len(lines) != len(tc.stdout) || len(lines) < len(tc.stdout) {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), len(tc.stdout), out)
			}
			for i, want := range tc.stdout {
				if !strings.HasPrefix(lines[i], want) {
					t.Fatalf("line %d:\n got %s\nwant %s...", i+1, lines[i], want)
				}
			}
		})
	}
}
