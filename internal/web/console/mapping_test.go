package console

import (
	"reflect"
	"testing"
)

func TestMappingOf(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		fields []mapField
		whole  string
	}{
		{`{id, total}`, []mapField{{Target: "id", Expr: ".id"}, {Target: "total", Expr: ".total"}}, ""},
		{`{order_no, qty: (.lines | map(.qty) | add), "ship to": .address.city}`, []mapField{
			{Target: "order_no", Expr: ".order_no"}, {Target: "qty", Expr: "(.lines | map(.qty) | add)"}, {Target: "ship to", Expr: ".address.city"}}, ""},
		{`{$__loc__}`, []mapField{{Target: "__loc__", Expr: "$__loc__"}}, ""},
		{`. + {checked: true}`, nil, `. + {checked: true}`},
		{`{a: 1} | .b = 2`, nil, `{a: 1} | .b = 2`},
		{`not jq (`, nil, `not jq (`},
	} {
		fields, whole := mappingOf(tc.expr)
		if !reflect.DeepEqual(fields, tc.fields) || whole != tc.whole {
			t.Errorf("mappingOf(%q) = %+v, %q; want %+v, %q", tc.expr, fields, whole, tc.fields, tc.whole)
		}
	}
}
