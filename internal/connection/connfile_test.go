package connection

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestParseFile: a connections file is checked as the API checks a
// connection, every secret comes from the environment, and a literal
// secret is refused without being repeated.
func TestParseFile(t *testing.T) {
	env := map[string]string{"ERP_PASSWORD": "pw-from-env", "SHOP_TOKEN": "tok-from-env", "DYN": `{"user": "u", "secret": "s"}`, "NOT_JSON": "x"}
	getenv := func(k string) string { return env[k] }
	network := NewGuardedNetwork(nil, nil, HTTPAuth)

	good := `
erp:
  kind: postgres
  settings: {host: db.example.com, database: erp, user: sluice}
  secrets: {password: "${ERP_PASSWORD}"}
shop:
  kind: http
  settings: {base_url: "https://shop.example.com/api/", headers: {Accept: application/json}}
  auth: {type: bearer, token: "${SHOP_TOKEN}"}
`
	fs, err := ParseFile([]byte(good), getenv, network)
	if err != nil {
		t.Fatalf("a good file: %v", err)
	}
	if !slices.Equal(fs.Names(), []string{"erp", "shop"}) {
		t.Fatalf("names %v", fs.Names())
	}
	erp, shop := fs.conns["erp"], fs.conns["shop"]
	if erp.sec.get("secrets.password") != "pw-from-env" || erp.v.Settings["port"] != 5432 || erp.v.Settings["sslmode"] != "verify-full" {
		t.Errorf("erp: settings %v, secrets %v", erp.v.Settings, erp.v.SecretKeys)
	}
	if shop.sec.get("auth.token") != "tok-from-env" || shop.v.Auth["type"] != "bearer" || shop.v.Settings["base_url"] != "https://shop.example.com/api" {
		t.Errorf("shop: settings %v, auth %v", shop.v.Settings, shop.v.Auth)
	}
	if s := fmt.Sprint(erp.sec); strings.Contains(s, "pw-from-env") {
		t.Errorf("a printed secret shows its value: %s", s)
	}
	if k, ok := fs.Kind("shop"); !ok || k != "http" {
		t.Errorf("Kind(shop) = %q, %v", k, ok)
	}
	if _, ok := fs.Kind("nope"); ok {
		t.Error("Kind(nope) exists")
	}
	ctx := context.Background()
	if db, err := fs.OpenSQL(ctx, "", "erp"); err != nil || db.Kind != "postgres" {
		t.Errorf("OpenSQL(erp) = %v, %v", db, err)
	}
	if _, err := fs.OpenSQL(ctx, "", "shop"); !errors.Is(err, ErrNotSQL) {
		t.Errorf("OpenSQL(shop): %v, want ErrNotSQL", err)
	}
	if _, err := fs.OpenSQL(ctx, "", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("OpenSQL(nope): %v, want store.ErrNotFound", err)
	}

	json := `{"api": {"kind": "http", "settings": {"base_url": "https://a.example.com"},
	  "auth": {"type": "basic", "username": "me", "password": "${ERP_PASSWORD}"}}}`
	if _, err := ParseFile([]byte(json), getenv, network); err != nil {
		t.Errorf("a JSON file: %v", err)
	}

	cases := []struct {
		name, file string
		problems   []string // "field: message prefix"
	}{
		{"empty", "  \n", []string{": the file is empty"}},
		{"not an object", "- erp\n", []string{": must be an object mapping"}},
		{"bad YAML", "erp: {kind: [\n", []string{": is not valid YAML or JSON"}},
		{"an entry that is not an object", "erp: 3\n", []string{"erp: must be an object"}},
		{"unknown kind and part", "erp: {kind: oracle, sttings: {}}\n", []string{"erp.sttings: is not part of a connection", "erp.kind: must be one of http, mysql, postgres"}},
		{"a literal password", "erp:\n  kind: mysql\n  settings: {host: h, database: d, user: u}\n  secrets: {password: Literal-Secret-1}\n",
			[]string{`erp.secrets.password: is a secret, and secrets are not written in the connections file: put it in an environment variable and write "${ERP_PASSWORD}" here`}},
		{"a reference inside text", "erp:\n  kind: mysql\n  settings: {host: h, database: d, user: u}\n  secrets: {password: \"pre-${ERP_PASSWORD}\"}\n",
			[]string{"erp.secrets.password: is a secret"}},
		{"a number as a secret", "erp:\n  kind: mysql\n  settings: {host: h, database: d, user: u}\n  secrets: {password: 1234}\n",
			[]string{"erp.secrets.password: is a secret"}},
		{"a literal auth secret", "my-api:\n  kind: http\n  settings: {base_url: https://a.example.com}\n  auth: {type: api_key, in: header, name: X-Key, api_key: Literal-Secret-1}\n",
			[]string{`my-api.auth.api_key: is a secret, and secrets are not written in the connections file: put it in an environment variable and write "${MY_API_API_KEY}" here`}},
		{"an unset variable", "erp:\n  kind: postgres\n  settings: {host: h, database: d, user: u}\n  secrets: {password: \"${NOPE}\"}\n",
			[]string{"erp.secrets.password: the environment variable NOPE is not set"}},
		{"an object secret that is not JSON", "a:\n  kind: http\n  settings: {base_url: https://a.example.com}\n  auth: {type: dynamic_token, request: \"${NOT_JSON}\"}\n",
			[]string{"a.auth.request: the environment variable it names must hold a JSON object"}},
		{"the API's checks", "erp:\n  kind: postgres\n  settings: {host: h, port: 0, user: u, headers: {}}\n  secrets: {pasword: \"${ERP_PASSWORD}\"}\n",
			[]string{"erp.settings.database: is required", "erp.settings.port: must be a whole number", "erp.settings.headers: is not a setting here", "erp.secrets.pasword: is not a secret of a postgres connection"}},
		{"a credential in plain headers", "a:\n  kind: http\n  settings: {base_url: https://a.example.com, headers: {Authorization: Bearer x}}\n",
			[]string{"a.settings.headers.Authorization: looks like a credential"}},
		{"auth on a database", "erp:\n  kind: postgres\n  settings: {host: h, database: d, user: u}\n  auth: {type: bearer, token: \"${SHOP_TOKEN}\"}\n",
			[]string{"erp.auth: is only for http connections"}},
		{"a bad auth type", "a:\n  kind: http\n  settings: {base_url: https://a.example.com}\n  auth: {type: magic}\n", []string{"a.auth"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile([]byte(tc.file), getenv, network)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("%v, want a ValidationError", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field+": "+p.Message)
			}
			for _, want := range tc.problems {
				found := false
				for _, g := range got {
					found = found || strings.HasPrefix(g, want)
				}
				if !found {
					t.Errorf("no problem %q in %q", want, got)
				}
			}
			if strings.Contains(err.Error(), "Literal-Secret-1") {
				t.Errorf("a literal secret was repeated: %v", err)
			}
		})
	}
}

// TestCheckUses: each connection a flow names must exist and serve its
// use.
func TestCheckUses(t *testing.T) {
	f, err := flow.Parse([]byte(`name: x
read: {connection: shop, request: {method: GET, path: /orders}, records: ".[]"}
entity_id: .id
steps:
  - call: {connection: db, request: {method: GET, path: /x}, as: x}
  - switch:
      - when: .a
        steps: [{write: {connection: erp, sql: {table: t, mode: insert}}}]
write: {connection: missing, request: {method: POST, path: /orders}}
`))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{"shop": "http", "db": "postgres", "erp": "http"}
	ps := CheckUses(f.Connections(), func(n string) (string, bool) { k, ok := kinds[n]; return k, ok }, func(n string) string { return "none called " + n })
	want := []Problem{
		{Field: "steps[0].call.connection", Message: `connection "db" is a postgres connection, and an http request needs an http connection: name one of that kind, or change this part of the flow`},
		{Field: "steps[1].switch[0].steps[0].write.connection", Message: `connection "erp" is an http connection, and an sql read or write needs a postgres or mysql connection: name one of that kind, or change this part of the flow`},
		{Field: "write.connection", Message: "none called missing"},
	}
	if !slices.Equal(ps, want) {
		t.Errorf("problems:\n%q\nwant\n%q", ps, want)
	}
}
