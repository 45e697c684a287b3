// Package w1 holds what the W1 benchmark (issue 5, Measure) needs in more
// than one place: the generator of its order records, the flow that maps
// them, the baseline loop that Sluice is compared with, and the
// passthrough through the file connector alone (no engine), which tells
// the connector's share of the cost.
package w1

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// Flow is the W1 flow: every order mapped to a smaller object (seven
// fields and the item lines), NDJSON in, NDJSON out, under the files
// directory. bench/w1/flowrun runs it as a real run; the engine's
// BenchmarkW1 runs it in process.
const Flow = `name: w1
read: {file: {path: in.ndjson, format: ndjson}}
entity_id: .id
steps:
  - map: '{order_no, status, amount: .total, currency, email: .customer.email, lines: [.items[] | {sku, qty}], city: .shipping.city}'
write: {file: {path: out.ndjson, format: ndjson}}
`

// order is one W1 record: a shop order of about 400 bytes as NDJSON.
type order struct {
	ID        int64    `json:"id"`
	OrderNo   string   `json:"order_no"`
	Status    string   `json:"status"`
	CreatedAt string   `json:"created_at"`
	UpdatedAt string   `json:"updated_at"`
	Currency  string   `json:"currency"`
	Total     float64  `json:"total"`
	Customer  customer `json:"customer"`
	Items     []item   `json:"items"`
	Shipping  address  `json:"shipping"`
}

type customer struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

type item struct {
	SKU   string  `json:"sku"`
	Qty   int     `json:"qty"`
	Price float64 `json:"price"`
}

type address struct {
	City    string `json:"city"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

var (
	statuses   = []string{"processing", "completed", "on-hold", "pending"}
	currencies = []string{"EUR", "USD", "GBP", "CHF"}
	first      = []string{"Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Radia", "Donald", "Frances", "Niklaus"}
	last       = []string{"Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Perlman", "Knuth", "Allen", "Wirth"}
	cities     = []string{"Berlin", "Chicago", "Leeds", "Zurich", "Lyon", "Austin", "Porto", "Graz"}
	countries  = []string{"DE", "US", "GB", "CH", "FR", "US", "PT", "AT"}
)

// Generate writes n order records as NDJSON to w. The same n and seed give
// the same bytes on every machine.
func Generate(w io.Writer, n int, seed uint64) error {
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		fn, ln := first[rng.IntN(len(first))], last[rng.IntN(len(last))]
		created := start.Add(time.Duration(i) * 7 * time.Second)
		o := order{
			ID:        100000000 + int64(i),
			OrderNo:   "SO-" + fmt.Sprintf("%09d", i),
			Status:    statuses[rng.IntN(len(statuses))],
			CreatedAt: created.Format(time.RFC3339),
			UpdatedAt: created.Add(time.Duration(rng.IntN(86400)) * time.Second).Format(time.RFC3339),
			Currency:  currencies[rng.IntN(len(currencies))],
			Customer: customer{
				ID:    int64(rng.IntN(1_000_000)),
				Email: fn + "." + ln + strconv.Itoa(rng.IntN(1000)) + "@example.com",
				Name:  fn + " " + ln,
			},
		}
		c := rng.IntN(len(cities))
		o.Shipping = address{
			City:    cities[c],
			Zip:     fmt.Sprintf("%05d", rng.IntN(100000)),
			Country: countries[c],
		}
		items := 1 + rng.IntN(3)
		var total float64
		for range items {
			it := item{SKU: fmt.Sprintf("SKU-%06d", rng.IntN(1_000_000)), Qty: 1 + rng.IntN(5), Price: float64(100+rng.IntN(20000)) / 100}
			total += float64(it.Qty) * it.Price
			o.Items = append(o.Items, it)
		}
		o.Total = float64(int64(total*100+0.5)) / 100
		if err := enc.Encode(&o); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// Baseline is the W1 baseline: the minimal Go loop that decodes each NDJSON
// line of r into a map[string]any and encodes it back to w, with bufio and
// encoding/json and nothing else (no transform, no accounting). It returns
// the number of records copied.
func Baseline(r io.Reader, w io.Writer) (int64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<16), 16<<20)
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	var n int64
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			return n, fmt.Errorf("line %d: %w", n+1, err)
		}
		if err := enc.Encode(m); err != nil {
			return n, err
		}
		n++
	}
	if err := sc.Err(); err != nil {
		return n, err
	}
	return n, bw.Flush()
}

// Result is what Passthrough did: its counters, as a run keeps them, and
// how long the sink's Close (fsync and rename) took.
type Result struct {
	Read, Written, Failed int64
	Close                 time.Duration
}

// Passthrough copies every record of an NDJSON file under env.FilesDir to
// another through kind (the file connector), the way the engine drives a
// Source and a Sink: bounded batches, records that failed at the source
// counted and kept from the sink, per-record outcomes, a flush before the
// end, Abort on failure. It takes the kind as an argument so that this
// package does not import the connector it measures (whose tests import
// this package).
func Passthrough(ctx context.Context, kind *connector.Kind, env connector.Env, from, to string) (Result, error) {
	var res Result
	src, err := kind.NewSource(env, map[string]any{"path": from, "format": "ndjson"})
	if err != nil {
		return res, err
	}
	defer src.Close()
	sink, err := kind.NewSink(env, map[string]any{"path": to, "format": "ndjson"})
	if err != nil {
		return res, err
	}
	abort := func(err error) (Result, error) {
		if c, ok := sink.(connector.Committer); ok {
			c.Abort()
		} else {
			sink.Close()
		}
		return res, err
	}
	if err := src.Open(ctx); err != nil {
		return abort(err)
	}
	if err := sink.Open(ctx); err != nil {
		return abort(err)
	}
	good := make([]connector.Record, 0, env.Batch())
	for {
		recs, _, err := src.Read(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return abort(err)
		}
		res.Read += int64(len(recs))
		good = good[:0]
		for _, r := range recs {
			if r.Err != nil {
				res.Failed++
				continue
			}
			good = append(good, r)
		}
		outs, err := sink.Write(ctx, good)
		if err != nil {
			return abort(err)
		}
		for _, o := range outs {
			if o.Err == nil {
				res.Written++
			} else {
				res.Failed++
			}
		}
	}
	if err := sink.Flush(ctx); err != nil {
		return abort(err)
	}
	start := time.Now()
	err = sink.Close()
	res.Close = time.Since(start)
	return res, err
}

// BaselineFiles runs Baseline from the file inPath to a new file outPath.
func BaselineFiles(inPath, outPath string) (int64, error) {
	in, err := os.Open(inPath)
	if err != nil {
		return 0, err
	}
	defer in.Close()
	out, err := os.Create(outPath)
	if err != nil {
		return 0, err
	}
	n, err := Baseline(in, out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	return n, err
}
