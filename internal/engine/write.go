package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// write sends the items to the step's sink in chunks of WriteBatch.
func (b *batch) write(ctx context.Context, s *flow.CompiledStep, stage string, in []item) []item {
	sink := b.e.sinks[s.Path]
	as := s.Write.As
	if as == "" {
		as = flow.DefaultAs
	}
	// The answer goes under as for the steps after the write; after the
	// flow's last step nothing reads it, and copying every record to add
	// it was a tenth of a batched HTTP write's allocations.
	steps := b.e.c.Steps
	keep := len(steps) == 0 || s != &steps[len(steps)-1]
	// Items are filtered in place: out never grows past the item read.
	out := in[:0]
	for start := 0; start < len(in); start += b.e.opts.WriteBatch {
		chunk := in[start:min(len(in), start+b.e.opts.WriteBatch)]
		res := b.writeChunk(ctx, sink, chunk)
		for k, it := range chunk {
			r := res[k]
			if r.err != nil {
				b.failN(&it, stage, retried(r.err, r.attempts), r.attempts)
				continue
			}
			if r.answer != nil && keep {
				if m, ok := it.data.(map[string]any); ok {
					it.data = withField(m, as, r.answer)
				}
			}
			out = append(out, it)
		}
	}
	return out
}

// writeChunk writes the chunk's records and tries again those that failed
// for a transient reason, or all of them when the Write failed as a
// whole, under the flow's on_error policy. It returns one result per
// item.
func (b *batch) writeChunk(ctx context.Context, sink connector.Sink, chunk []item) []result {
	res := b.wres[:0]
	for range chunk {
		res = append(res, result{})
	}
	b.wres = res
	pending := make([]int, len(chunk))
	for i := range pending {
		pending[i] = i
	}
	for try := 1; ; try++ {
		recs := b.wrec[:0]
		for _, i := range pending {
			it := &chunk[i]
			recs = append(recs, connector.Record{Data: it.data, Meta: it.u.meta})
		}
		b.wrec = recs
		outs, err := sink.Write(ctx, recs)
		clear(recs) // the sink keeps no record: neither do we
		final := false
		if err == nil && len(outs) != len(recs) {
			err, final = fmt.Errorf("the sink answered %d outcomes for %d records", len(outs), len(recs)), true
		}
		var retry []int
		var after time.Duration
		if err != nil {
			// Any whole-Write failure is worth a retry (the sink
			// contract); a TransientError only says how long to wait.
			d, _ := connector.Transient(err)
			// A failed Write may quote any of its records (an API's 400
			// echoing the batch): each record's failure is scrubbed only
			// of its own values, so take them all out here.
			err = scrubError(err, chunkData(chunk, pending)...)
			ok := try <= b.e.c.Retry.Retries
			for _, i := range pending {
				res[i] = result{err: err, attempts: try}
			}
			if final || !ok || ctx.Err() != nil {
				return res
			}
			retry, after = pending, d
		} else {
			for k, i := range pending {
				o := outs[k]
				res[i] = result{answer: o.Response, err: o.Err, attempts: try}
				if o.Err == nil {
					continue
				}
				if d, ok := b.retryable(o.Err, try); ok {
					retry = append(retry, i)
					after = max(after, d)
				}
			}
		}
		if len(retry) == 0 || ctx.Err() != nil {
			return res
		}
		wait, werr := b.retryWait(try, after)
		if werr != nil {
			for _, i := range retry {
				res[i].err = fmt.Errorf("%w; %w", res[i].err, werr)
			}
			return res
		}
		if b.e.opts.Sleep(ctx, wait) != nil {
			return res // ctx ended: the batch is dropped anyway
		}
		pending = retry
	}
}

// withField is a copy of m with key set to v: records are not changed in
// place, since a foreach may have made several out of one value.
func withField(m map[string]any, key string, v any) map[string]any {
	n := make(map[string]any, len(m)+1)
	for k, x := range m {
		n[k] = x
	}
	n[key] = v
	return n
}

// chunkData is the data of the chunk's pending items.
func chunkData(chunk []item, pending []int) []any {
	out := make([]any, len(pending))
	for k, i := range pending {
		out[k] = chunk[i].data
	}
	return out
}
