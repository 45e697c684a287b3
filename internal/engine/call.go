package engine

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/flow"
)

// call asks the step's Caller about each item and keeps the answer under
// the call's As. Calls run concurrently; the items keep their order.
func (b *batch) call(ctx context.Context, s *flow.CompiledStep, stage string, in []item) []item {
	as := s.Call.As
	if as == "" {
		as = flow.DefaultAs
	}
	if dry := b.e.opts.DryRun; dry != nil && !dry.Calls {
		return b.callNotMade(s, stage, as, in)
	}
	if dry := b.e.opts.DryRun; dry != nil && dry.Broken[s.Path] != nil {
		for i := range in {
			b.fail(&in[i], stage, dry.Broken[s.Path])
		}
		return in[:0]
	}
	res := make([]result, len(in))
	pending := make([]int, 0, len(in))
	for i := range in {
		if _, ok := in[i].data.(map[string]any); !ok {
			res[i] = result{err: notObject(in[i].data, as), attempts: 1}
			continue
		}
		pending = append(pending, i)
	}
	caller := b.e.opts.Callers[s.Path]
	for try := 1; len(pending) > 0; try++ {
		b.callAll(ctx, caller, in, pending, res)
		var retry []int
		var after time.Duration
		for _, i := range pending {
			res[i].attempts = try
			if res[i].err == nil {
				continue
			}
			if d, ok := b.retryable(res[i].err, try); ok && b.e.opts.DryRun == nil {
				retry = append(retry, i)
				after = max(after, d)
			}
		}
		if len(retry) == 0 || ctx.Err() != nil {
			break
		}
		wait, werr := b.retryWait(try, after)
		if werr != nil {
			for _, i := range retry {
				res[i].err = fmt.Errorf("%w; %w", res[i].err, werr)
			}
			break
		}
		if b.e.opts.Sleep(ctx, wait) != nil {
			break // ctx ended: the batch is dropped anyway
		}
		pending = retry
	}
	out := in[:0] // filtered in place: out never grows past the item read
	for i, it := range in {
		r := res[i]
		if r.err != nil {
			b.failN(&it, stage, retried(r.err, r.attempts), r.attempts)
			continue
		}
		it.data = withField(it.data.(map[string]any), as, r.answer)
		out = append(out, it)
		if b.tr != nil {
			b.tr.step(&it, s, StepOK, it.data, nil)
		}
	}
	return out
}

// callAll makes the calls of the items at idx, at most
// Options.CallConcurrency at once, and puts each answer or error in res.
func (b *batch) callAll(ctx context.Context, caller connector.Caller, in []item, idx []int, res []result) {
	one := func(i int) {
		it := &in[i]
		res[i].err = contained("the call", func() error {
			answer, err := caller.Call(ctx, connector.Record{Data: it.data, Meta: it.u.meta})
			res[i].answer = answer
			return err
		})
	}
	workers := min(b.e.opts.CallConcurrency, len(idx))
	if workers <= 1 {
		for _, i := range idx {
			one(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= len(idx) {
					return
				}
				one(idx[k])
			}
		})
	}
	wg.Wait()
}

// callNotMade is a dry run's call step when it makes no calls: each
// record goes on with null under as.
func (b *batch) callNotMade(s *flow.CompiledStep, stage, as string, in []item) []item {
	out := in[:0]
	for _, it := range in {
		m, ok := it.data.(map[string]any)
		if !ok {
			b.fail(&it, stage, notObject(it.data, as))
			continue
		}
		it.data = withField(m, as, nil)
		out = append(out, it)
		b.tr.step(&it, s, StepNotMade, it.data, nil)
		if err := b.e.opts.DryRun.Broken[s.Path]; err != nil {
			b.tr.note(&it, err)
		}
	}
	return out
}

func notObject(data any, as string) error {
	return fmt.Errorf("the record is %s, not an object, so the call's answer cannot be kept under %q: map it to an object first, e.g. - map: '{value: .}'", kindOf(data), as)
}
