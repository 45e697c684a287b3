package w4

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestIDs(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []int64
		ok   bool
	}{
		{"empty", ` [ ] `, nil, true},
		{"two", `[{"id":1,"a":"x"},{"b":{"id":9,"c":[1,{"d":"]}"}]},"id":2}]`, []int64{1, 2}, true},
		{"escapes", `[{"s":"a\"b\\","id":7}]`, []int64{7}, true},
		{"no id", `[{"x":1}]`, []int64{-1}, true},
		{"spaces", "[ {\n\"id\" : 3 , \"n\" : null } ]", []int64{3}, true},
		{"not an array", `{"id":1}`, nil, false},
		{"cut", `[{"id":1}`, nil, false},
		{"trailing", `[{"id":1}] x`, nil, false},
		{"id not a number", `[{"id":"1"}]`, nil, false},
		{"missing comma", `[{"id":1} {"id":2}]`, nil, false},
		{"a number", `[1]`, nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IDs([]byte(tc.in), nil)
			if (err == nil) != tc.ok || (tc.ok && !reflect.DeepEqual(got, tc.want)) {
				t.Fatalf("IDs(%s) = %v, %v", tc.in, got, err)
			}
		})
	}
}

// TestIDsOfPages reads the ids of a page the API serves, as the flow's
// map leaves them (every field kept here), and checks them against
// encoding/json.
func TestIDsOfPages(t *testing.T) {
	page := AppendPage(nil, 3, 500, 1800)
	var p struct {
		Orders []json.RawMessage `json:"orders"`
	}
	if err := json.Unmarshal(page, &p); err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(p.Orders)
	got, err := IDs(body, nil)
	if err != nil || len(got) != 500 || got[0] != 1001 || got[499] != 1500 {
		t.Fatalf("%d ids (%v...), %v", len(got), got[:min(3, len(got))], err)
	}
	if short := AppendPage(nil, 4, 500, 1800); !json.Valid(short) {
		t.Fatal("the last page is not JSON")
	} else if err := json.Unmarshal(short, &p); err != nil || len(p.Orders) != 300 {
		t.Fatalf("last page: %d orders, %v", len(p.Orders), err)
	}
}
