// Package w4 holds the order records of the W4 benchmark (issue 5,
// Measure): the pages of orders of about 400 bytes that bench/w4/api
// serves. bench/w4/bare is the bare loop Sluice is compared with,
// bench/w4/flow.yaml the flow `sluice run` runs, and bench/w4/run.sh
// runs them side by side.
package w4

import (
	"strconv"
)

var (
	statuses   = []string{"processing", "completed", "on-hold", "pending"}
	currencies = []string{"EUR", "USD", "GBP", "CHF"}
	first      = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald", "Frances", "Niklaus"}
	last       = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Knuth", "Allen", "Wirth"}
	cities     = []string{"Berlin", "Chicago", "Leeds", "Zurich", "Lyon", "Austin", "Porto", "Graz"}
	countries  = []string{"DE", "US", "GB", "CH", "FR", "US", "PT", "AT"}
)

// AppendOrder appends order id (1-based) as a JSON object of about 400
// bytes. The same id gives the same bytes; no randomness, so the API
// costs the same for the bare loop and for Sluice.
func AppendOrder(b []byte, id int64) []byte {
	h := uint64(id) * 0x9E3779B97F4A7C15
	pick := func(n int) int { h = h*6364136223846793005 + 1442695040888963407; return int((h >> 33) % uint64(n)) }
	b = append(b, `{"id":`...)
	b = strconv.AppendInt(b, id, 10)
	b = append(b, `,"order_no":"SO-`...)
	b = strconv.AppendInt(b, 100000000+id, 10)
	b = append(b, `","status":"`...)
	b = append(b, statuses[pick(len(statuses))]...)
	b = append(b, `","created_at":"2026-11-`...)
	day := 10 + pick(18)
	b = strconv.AppendInt(b, int64(day), 10)
	b = append(b, `T08:15:30Z","updated_at":"2026-11-`...)
	b = strconv.AppendInt(b, int64(day+1), 10)
	b = append(b, `T09:45:00Z","currency":"`...)
	b = append(b, currencies[pick(len(currencies))]...)
	b = append(b, `","total":`...)
	b = strconv.AppendInt(b, int64(10+pick(990)), 10)
	b = append(b, '.')
	b = strconv.AppendInt(b, int64(10+pick(90)), 10)
	f, l := first[pick(len(first))], last[pick(len(last))]
	b = append(b, `,"customer":{"id":`...)
	b = strconv.AppendInt(b, int64(1000+pick(50000)), 10)
	b = append(b, `,"email":"`...)
	b = append(b, f...)
	b = append(b, '.')
	b = append(b, l...)
	b = append(b, `@example.com","name":"`...)
	b = append(b, f...)
	b = append(b, ' ')
	b = append(b, l...)
	b = append(b, `"},"items":[`...)
	for i, n := 0, 1+pick(3); i < n; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"sku":"SKU-`...)
		b = strconv.AppendInt(b, int64(10000+pick(90000)), 10)
		b = append(b, `","qty":`...)
		b = strconv.AppendInt(b, int64(1+pick(5)), 10)
		b = append(b, `,"price":`...)
		b = strconv.AppendInt(b, int64(1+pick(300)), 10)
		b = append(b, `.99}`...)
	}
	c := pick(len(cities))
	b = append(b, `],"shipping":{"city":"`...)
	b = append(b, cities[c]...)
	b = append(b, `","zip":"`...)
	b = strconv.AppendInt(b, int64(10000+pick(89999)), 10)
	b = append(b, `","country":"`...)
	b = append(b, countries[c]...)
	b = append(b, `"}}`...)
	return b
}

// AppendPage appends page p (1-based) of size records out of n as
// {"orders":[...]}: records (p-1)*size+1 onwards; a page past the end is
// empty.
func AppendPage(b []byte, p, size int, n int64) []byte {
	b = append(b, `{"orders":[`...)
	from := int64(p-1)*int64(size) + 1
	for id := from; id < from+int64(size) && id <= n; id++ {
		if id > from {
			b = append(b, ',')
		}
		b = AppendOrder(b, id)
	}
	return append(b, "]}"...)
}
