package file

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/sluice-dev/sluice/internal/connector"
)

// readBuffer is the size of the buffer between the file and the decoders.
const readBuffer = 64 << 10

var bom = []byte{0xEF, 0xBB, 0xBF}

// decoder reads one format's records from a positioned reader.
type decoder interface {
	// next returns the next record, io.EOF at the end of the records, or
	// an error after which nothing more can be read.
	next() (connector.Record, error)
	// pos is the offset, line and index just after the last record next
	// returned.
	pos() (offset, line, index int64)
}

// Source reads a file's records. See the package documentation and
// connector.Source for its lifecycle.
type Source struct {
	dir    string
	o      Options
	resume *position

	root   *os.Root
	f      *os.File
	dec    decoder
	opened bool
	closed bool

	// The decoder runs one batch ahead of Read in its own goroutine
	// (readAhead, started by the first Read), so that decoding the next
	// batch overlaps the caller's work on the last one: the steps, or a
	// database's answer. Only that goroutine touches dec, eof and pending.
	ahead   chan batch
	stop    chan struct{}
	done    chan struct{}
	last    error // the io.EOF or fatal error a Read returned, returned again
	eof     bool
	pending error // a fatal error found after the records of the last batch
}

// batch is one Read's answer.
type batch struct {
	recs []connector.Record
	pos  connector.Position
	err  error
}

var (
	_ connector.Source    = (*Source)(nil)
	_ connector.Resumable = (*Source)(nil)
)

// NewSource builds a Source reading o.Path under dir. It does no I/O; a
// path that leaves dir by its text is refused here (a *PathError inside a
// *connector.ValidationError).
func NewSource(dir string, o Options) (*Source, error) {
	if err := o.check(false); err != nil {
		return nil, err
	}
	if o.BatchSize <= 0 {
		o.BatchSize = connector.DefaultBatchSize
	}
	return &Source{dir: dir, o: o}, nil
}

// Resume makes Open start after the record pos was returned with. It
// refuses, wrapping connector.ErrBadPosition, a position taken on another
// path or format; Open checks that the file still fits it.
func (s *Source) Resume(pos connector.Position) error {
	if s.opened || s.closed {
		return errors.New("file: Resume after Open")
	}
	if len(pos) == 0 {
		s.resume = nil
		return nil
	}
	p, err := decodePosition(pos, s.o)
	if err != nil {
		return err
	}
	s.resume = p
	return nil
}

// Open opens the file through an os.Root on the files directory and
// prepares its decoder: the CSV header is read, the JSON array opened,
// and a resume position checked against the file.
func (s *Source) Open(ctx context.Context) error {
	if s.closed {
		return connector.ErrClosed
	}
	if s.opened {
		return errors.New("file: Open called twice")
	}
	s.opened = true
	if err := ctx.Err(); err != nil {
		return err
	}
	root, err := openRoot(s.dir)
	if err != nil {
		return err
	}
	s.root = root
	f, err := root.Open(s.o.Path)
	if err != nil {
		return rootErr("open", s.o.Path, err)
	}
	s.f = f
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("open %q: %w", s.o.Path, bare(err))
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("open %q: not a regular file", s.o.Path)
	}
	start := position{Path: s.o.Path, Format: s.o.Format}
	if s.resume != nil {
		start = *s.resume
		if err := s.checkResume(fi.Size()); err != nil {
			return err
		}
	}
	if _, err := f.Seek(start.Offset, io.SeekStart); err != nil {
		return fmt.Errorf("open %q: %w", s.o.Path, bare(err))
	}
	g := &guard{r: f, pulled: start.Offset, mark: start.Offset, limit: MaxRecordBytes + 2*readBuffer}
	if s.o.Format == NDJSON {
		g.limit = math.MaxInt64 // the NDJSON decoder bounds each line itself, and recovers
	}
	br := bufio.NewReaderSize(g, readBuffer)
	if start.Offset == 0 {
		if b, _ := br.Peek(len(bom)); bytes.Equal(b, bom) {
			_, _ = br.Discard(len(bom))
			start.Offset = int64(len(bom))
		}
	}
	switch s.o.Format {
	case NDJSON:
		s.dec = newNDJSONDecoder(br, start)
	case CSV:
		s.dec, err = newCSVDecoder(s.f, br, g, s.o, start)
	case JSON:
		s.dec, err = newJSONDecoder(br, g, s.o.Path, start, s.resume != nil)
	}
	return err
}

// checkResume refuses a position that does not fit the file: beyond its
// end, or not at the end of a line (NDJSON, CSV). JSON positions are
// checked by the decoder, which must find a comma or the closing bracket.
// These checks catch a file replaced by a shorter or different one; a
// file rewritten with the same line ends in the same places is not
// detected (files carry no identity a checkpoint could hold).
func (s *Source) checkResume(size int64) error {
	p := s.resume
	if p.Offset > size {
		return fmt.Errorf("%w: %q is shorter than the checkpoint (offset %d, size %d): was it replaced?", connector.ErrBadPosition, s.o.Path, p.Offset, size)
	}
	if s.o.Format == JSON || p.Offset <= int64(len(bom)) || p.Offset == size {
		return nil // JSON is checked by its decoder; the end of a file without a final newline is a line end
	}
	var b [1]byte
	if _, err := s.f.ReadAt(b[:], p.Offset-1); err != nil {
		return fmt.Errorf("open %q: %w", s.o.Path, bare(err))
	}
	if b[0] != '\n' {
		return fmt.Errorf("%w: offset %d of %q is not the end of a line: was the file replaced?", connector.ErrBadPosition, p.Offset, s.o.Path)
	}
	return nil
}

// Read returns up to BatchSize records and the position after the last.
func (s *Source) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	switch {
	case s.closed:
		return nil, nil, connector.ErrClosed
	case !s.opened || s.dec == nil:
		return nil, nil, errors.New("file: Read before a successful Open")
	case s.last != nil:
		return nil, nil, s.last
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("read %q: %w", s.o.Path, err)
	}
	if s.ahead == nil {
		s.ahead, s.stop, s.done = make(chan batch), make(chan struct{}), make(chan struct{})
		go s.readAhead()
	}
	select {
	case b := <-s.ahead:
		if b.err != nil {
			s.last = b.err
			return nil, nil, b.err
		}
		return b.recs, b.pos, nil
	case <-ctx.Done():
		// The batch is not lost: the next Read gets it.
		return nil, nil, fmt.Errorf("read %q: %w", s.o.Path, ctx.Err())
	}
}

// readAhead decodes batch after batch, handing each to Read, until the
// end of the records, a fatal error, or Close.
func (s *Source) readAhead() {
	defer close(s.done)
	for {
		b := s.decodeBatch()
		select {
		case s.ahead <- b:
		case <-s.stop:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// decodeBatch decodes up to BatchSize records.
func (s *Source) decodeBatch() batch {
	switch {
	case s.pending != nil:
		return batch{err: s.pending}
	case s.eof:
		return batch{err: io.EOF}
	}
	recs := make([]connector.Record, 0, s.o.BatchSize)
	for len(recs) < s.o.BatchSize {
		rec, err := s.dec.next()
		if err == io.EOF {
			s.eof = true
			break
		}
		if err != nil {
			// Deliver what was read before the damage; the error comes
			// with the next Read.
			s.pending = err
			break
		}
		recs = append(recs, rec)
	}
	if len(recs) == 0 {
		if s.pending != nil {
			return batch{err: s.pending}
		}
		return batch{err: io.EOF}
	}
	off, line, idx := s.dec.pos()
	p := position{Path: s.o.Path, Format: s.o.Format, Offset: off, Line: line, Index: idx}
	return batch{recs: recs, pos: p.encode()}
}

// Close closes the file and the files directory. It may be called at any
// time, more than once.
func (s *Source) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.stop != nil {
		close(s.stop)
		<-s.done // the decoder is done with the file
	}
	var errs []error
	if s.f != nil {
		errs = append(errs, s.f.Close())
	}
	if s.root != nil {
		errs = append(errs, s.root.Close())
	}
	return errors.Join(errs...)
}

// guard counts the bytes pulled from the file and stops a record that
// grows beyond its limit (an unclosed CSV quote or JSON bracket would
// otherwise be buffered to the end of the file). Decoders move mark to
// the offset where each record starts.
type guard struct {
	r      io.Reader
	pulled int64
	mark   int64
	limit  int64
}

var errTooLong = errors.New("record too long")

func (g *guard) Read(p []byte) (int, error) {
	if g.pulled-g.mark > g.limit {
		return 0, errTooLong
	}
	n, err := g.r.Read(p)
	g.pulled += int64(n)
	return n, err
}
