package file

import (
	"context"
	"errors"
	"io"
	"testing"

	"github.com/sluice-dev/sluice/internal/connector"
)

// TestReadAhead checks the decoder that runs one batch ahead of Read: a
// Read whose context ended loses no batch, every batch comes in order
// with its own position, the end is reported again after it was reached,
// and Close stops the decoder while it waits to hand over a batch.
func TestReadAhead(t *testing.T) {
	dir := filesDir(t)
	writeFile(t, dir, "in.ndjson", "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":4}\n{\"n\":5}\n")
	open := func() *Source {
		s, err := NewSource(dir, Options{Path: "in.ndjson", Format: NDJSON, BatchSize: 2})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		return s
	}

	s := open()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := s.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Read with an ended context: %v", err)
	}
	var offsets []int64
	var indexes []int64
	for {
		recs, pos, err := s.Read(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p, err := decodePosition(pos, s.o)
		if err != nil {
			t.Fatal(err)
		}
		offsets = append(offsets, p.Offset)
		for _, r := range recs {
			indexes = append(indexes, r.Meta.Index)
		}
	}
	if len(indexes) != 5 || indexes[0] != 1 || indexes[4] != 5 || len(offsets) != 3 || offsets[0] != 16 || offsets[2] != 40 {
		t.Fatalf("indexes %v, offsets %v", indexes, offsets)
	}
	if _, _, err := s.Read(context.Background()); err != io.EOF {
		t.Fatalf("Read after the end: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open()
	if recs, _, err := s.Read(context.Background()); err != nil || len(recs) != 2 {
		t.Fatalf("first batch: %d records, %v", len(recs), err)
	}
	// The decoder has the second batch ready and waits to hand it over.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("Close returned before the decoder stopped")
	}
	if _, _, err := s.Read(context.Background()); !errors.Is(err, connector.ErrClosed) {
		t.Fatalf("Read after Close: %v", err)
	}
}
