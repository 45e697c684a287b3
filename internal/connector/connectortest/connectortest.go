// Package connectortest is the contract suite every connector kind passes:
// the lifecycle rules that connector.Source and connector.Sink state in
// their doc comments, checked the same way for each kind, as River runs
// one suite on every driver.
package connectortest

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

// RunSource checks a kind's Source lifecycle. newSource builds a fresh
// Source over an input holding want records (at least one); it is called
// several times.
func RunSource(t *testing.T, newSource func(t *testing.T) connector.Source, want int) {
	t.Helper()
	ctx := context.Background()

	t.Run("close before open", func(t *testing.T) {
		s := newSource(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close before Open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, _, err := s.Read(ctx); !errors.Is(err, connector.ErrClosed) {
			t.Fatalf("Read after Close: %v, want ErrClosed", err)
		}
	})

	t.Run("read before open", func(t *testing.T) {
		s := newSource(t)
		defer s.Close()
		if _, _, err := s.Read(ctx); err == nil {
			t.Fatal("Read before Open succeeded")
		}
	})

	t.Run("read to the end", func(t *testing.T) {
		s := newSource(t)
		if err := s.Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		got := 0
		for i := 0; ; i++ {
			recs, _, err := s.Read(ctx)
			if errors.Is(err, io.EOF) {
				if len(recs) != 0 {
					t.Fatalf("io.EOF came with %d records", len(recs))
				}
				break
			}
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if len(recs) == 0 {
				t.Fatal("Read returned no records and no error")
			}
			got += len(recs)
			if i > want+1 {
				t.Fatal("Read does not end")
			}
		}
		if got != want {
			t.Fatalf("read %d records, want %d", got, want)
		}
		if _, _, err := s.Read(ctx); !errors.Is(err, io.EOF) {
			t.Fatalf("Read after io.EOF: %v, want io.EOF again", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, _, err := s.Read(ctx); !errors.Is(err, connector.ErrClosed) {
			t.Fatalf("Read after Close: %v, want ErrClosed", err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		s := newSource(t)
		defer s.Close()
		if err := s.Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, _, err := s.Read(cctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Read with a cancelled context: %v, want context.Canceled", err)
		}
	})
}

// RunSink checks a kind's Sink lifecycle. newSink builds a fresh Sink;
// records are records it accepts.
func RunSink(t *testing.T, newSink func(t *testing.T) connector.Sink, records []connector.Record) {
	t.Helper()
	ctx := context.Background()

	t.Run("close before open", func(t *testing.T) {
		s := newSink(t)
		if err := s.Close(); err != nil {
			t.Fatalf("Close before Open: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := s.Write(ctx, records); !errors.Is(err, connector.ErrClosed) {
			t.Fatalf("Write after Close: %v, want ErrClosed", err)
		}
	})

	t.Run("write flush close", func(t *testing.T) {
		s := newSink(t)
		if err := s.Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		out, err := s.Write(ctx, nil)
		if err != nil || len(out) != 0 {
			t.Fatalf("Write of no records: %v, %d outcomes", err, len(out))
		}
		out, err = s.Write(ctx, records)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if len(out) != len(records) {
			t.Fatalf("Write gave %d outcomes for %d records", len(out), len(records))
		}
		for i, o := range out {
			if o.Err != nil {
				t.Fatalf("record %d refused: %v", i, o.Err)
			}
		}
		if err := s.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := s.Write(ctx, records); !errors.Is(err, connector.ErrClosed) {
			t.Fatalf("Write after Close: %v, want ErrClosed", err)
		}
		if err := s.Flush(ctx); !errors.Is(err, connector.ErrClosed) {
			t.Fatalf("Flush after Close: %v, want ErrClosed", err)
		}
		if c, ok := s.(connector.Committer); ok {
			if err := c.Abort(); err != nil {
				t.Fatalf("Abort after Close: %v", err)
			}
		}
	})

	t.Run("a failed record fails alone", func(t *testing.T) {
		s := newSink(t)
		defer s.Close()
		if err := s.Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		batch := append([]connector.Record{{Err: errors.New("broken at the source")}}, records...)
		out, err := s.Write(ctx, batch)
		if err != nil {
			t.Fatalf("Write: %v", err)
		}
		if len(out) != len(batch) || out[0].Err == nil {
			t.Fatalf("a record with Err set was accepted: %+v", out)
		}
		for i, o := range out[1:] {
			if o.Err != nil {
				t.Fatalf("record %d refused beside a failed one: %v", i, o.Err)
			}
		}
	})

	t.Run("abort", func(t *testing.T) {
		s := newSink(t)
		c, ok := s.(connector.Committer)
		if !ok {
			s.Close()
			t.Skip("not a Committer")
		}
		if err := c.Open(ctx); err != nil {
			t.Fatalf("Open: %v", err)
		}
		if _, err := c.Write(ctx, records); err != nil {
			t.Fatalf("Write: %v", err)
		}
		if err := c.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		if err := c.Abort(); err != nil {
			t.Fatalf("second Abort: %v", err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("Close after Abort: %v", err)
		}
	})
}
