package engine

import (
	"context"
	"testing"

	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/jsonx"
)

// BenchmarkRespondW2 is the engine's part of a W2 call: a new engine for
// the compiled flow, then one record through map and respond, as
// runs.CallSync does for every call (bench/README.md, W2).
func BenchmarkRespondW2(b *testing.B) {
	c, err := flow.Load([]byte(`name: create-order
trigger: {dynamic: {mode: sync}}
entity_id: .order_no
steps:
  - map: '{order_no, qty: (.lines | map(.qty) | add)}'
  - respond: '{status: "accepted", order_no, qty}'
`))
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"order_no":"SO-1001","customer":"C-77","lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":4}]}`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		rec, err := jsonx.Decode(body)
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(c, nil, Options{})
		if err != nil {
			b.Fatal(err)
		}
		res, out, err := e.RunRecords(ctx, []any{rec})
		if err != nil || res.Succeeded != 1 || !out[0].Responded {
			b.Fatalf("%+v %+v %v", res, out, err)
		}
	}
}
