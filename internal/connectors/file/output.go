package file

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/internal/connector"
)

// writeBuffer is how many encoded bytes gather before they are written in
// one write call. Only whole records are written, so in append mode two
// runs appending to one file never tear each other's records.
const writeBuffer = 64 << 10

// encoder turns records into one format's bytes.
type encoder interface {
	// begin is written once, at Open (the "[" of a JSON array).
	begin()
	// encode appends one record to the pending bytes, or appends nothing
	// and says why the record cannot be written in this format.
	encode(v any) error
	// end is written once, at a successful Close (the "]").
	end()
}

// ReplaceSink writes a new file under a temporary name and renames it over
// the path on Close; Abort, or a failing Close, removes the temporary file
// and leaves the path as it was. It is a connector.Committer: the engine
// does not checkpoint a run that writes to it before Close succeeds.
type ReplaceSink struct{ *output }

// AppendSink appends whole records to the end of the file and makes them
// durable on every Flush, after which the engine may checkpoint.
type AppendSink struct{ *output }

var (
	_ connector.Committer = (*ReplaceSink)(nil)
	_ connector.Sink      = (*AppendSink)(nil)
)

// NewReplaceSink builds a sink that replaces o.Path under dir atomically.
// It does no I/O; o.Mode is ignored.
func NewReplaceSink(dir string, o Options) (*ReplaceSink, error) {
	o.Mode = Replace
	out, err := newOutput(dir, o)
	if err != nil {
		return nil, err
	}
	return &ReplaceSink{out}, nil
}

// NewAppendSink builds a sink that appends to o.Path under dir. It does no
// I/O; o.Mode is ignored. JSON arrays cannot be appended to.
func NewAppendSink(dir string, o Options) (*AppendSink, error) {
	o.Mode = Append
	out, err := newOutput(dir, o)
	if err != nil {
		return nil, err
	}
	return &AppendSink{out}, nil
}

// Abort removes the temporary file and releases the sink, leaving the
// path as it was. Close after Abort, and Abort after Close, do nothing.
func (s *ReplaceSink) Abort() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.release(true)
}

// output is what both sinks share.
type output struct {
	dir    string
	o      Options
	root   *os.Root
	f      *os.File
	tmp    string // the temporary file of a ReplaceSink, once created
	enc    encoder
	buf    bytes.Buffer
	opened bool
	closed bool
	err    error // a failed write: the sink writes nothing more
}

func newOutput(dir string, o Options) (*output, error) {
	if err := o.check(true); err != nil {
		return nil, err
	}
	return &output{dir: dir, o: o}, nil
}

// Open creates the missing directories of the path, then the temporary
// file (replace) or opens the file for appending (append).
func (s *output) Open(ctx context.Context) error {
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
	if d := filepath.Dir(s.o.Path); d != "." {
		if err := root.MkdirAll(d, 0o700); err != nil {
			return rootErr("create the directory of", s.o.Path, err)
		}
	}
	var existing *csvHeader
	if s.o.Mode == Append {
		existing, err = s.openAppend()
	} else {
		err = s.openReplace()
	}
	if err != nil {
		return err
	}
	enc, err := newEncoder(&s.buf, s.o, existing)
	if err != nil {
		return err
	}
	s.enc = enc
	s.enc.begin()
	return nil
}

func (s *output) openReplace() error {
	if fi, err := s.root.Lstat(s.o.Path); err == nil && fi.IsDir() {
		return fmt.Errorf("write %q: it is a directory", s.o.Path)
	} else if err != nil && escapes(err) {
		return rootErr("write", s.o.Path, err)
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := filepath.Join(filepath.Dir(s.o.Path), "."+filepath.Base(s.o.Path)+".sluice-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := s.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return rootErr("create a temporary file for", s.o.Path, err)
	}
	s.f, s.tmp = f, tmp
	return nil
}

// openAppend opens the file for appending and reports what is already in
// it: whether its last line is unfinished and, for CSV, its header.
func (s *output) openAppend() (*csvHeader, error) {
	f, err := s.root.OpenFile(s.o.Path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, rootErr("open for appending", s.o.Path, err)
	}
	s.f = f
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("open %q for appending: %w", s.o.Path, bare(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("open %q for appending: not a regular file", s.o.Path)
	}
	if fi.Size() == 0 {
		return nil, nil
	}
	r, err := s.root.Open(s.o.Path)
	if err != nil {
		return nil, rootErr("open", s.o.Path, err)
	}
	defer r.Close()
	var last [1]byte
	if _, err := r.ReadAt(last[:], fi.Size()-1); err != nil {
		return nil, fmt.Errorf("read %q: %w", s.o.Path, bare(err))
	}
	if last[0] != '\n' {
		s.buf.WriteByte('\n') // finish the last line before the first new record
	}
	if s.o.Format != CSV {
		return nil, nil
	}
	return readCSVHeader(r, s.o)
}

// Write encodes the records; one that cannot be written in the format
// fails alone. The bytes reach the file in whole records once enough have
// gathered, and at the latest on Flush or Close.
func (s *output) Write(ctx context.Context, recs []connector.Record) ([]connector.Outcome, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	out := make([]connector.Outcome, len(recs))
	for i, r := range recs {
		if r.Err != nil {
			out[i].Err = fmt.Errorf("the record had failed before this write: %w", r.Err)
			continue
		}
		if err := s.enc.encode(r.Data); err != nil {
			out[i].Err = fmt.Errorf("write to %q: %w", s.o.Path, err)
			continue
		}
		if s.buf.Len() >= writeBuffer {
			if err := s.writeOut(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Flush writes out the pending records; in append mode it also syncs the
// file, so flushed records survive a crash. A ReplaceSink's records are
// synced once, on Close, because nobody sees them before the rename.
func (s *output) Flush(ctx context.Context) error {
	if err := s.usable(ctx); err != nil {
		return err
	}
	if err := s.writeOut(); err != nil {
		return err
	}
	if s.o.Mode == Append {
		if err := s.f.Sync(); err != nil {
			s.err = fmt.Errorf("sync %q: %w", s.o.Path, bare(err))
			return s.err
		}
	}
	return nil
}

func (s *output) usable(ctx context.Context) error {
	switch {
	case s.closed:
		return connector.ErrClosed
	case s.enc == nil:
		return errors.New("file: write before a successful Open")
	case s.err != nil:
		return s.err
	}
	return ctx.Err()
}

func (s *output) writeOut() error {
	if s.err != nil {
		return s.err
	}
	if s.buf.Len() == 0 {
		return nil
	}
	_, err := s.f.Write(s.buf.Bytes())
	s.buf.Reset()
	if s.buf.Cap() > 4*writeBuffer {
		s.buf = bytes.Buffer{} // a huge record's buffer is not kept
	}
	if err != nil {
		s.err = fmt.Errorf("write %q: %w", s.o.Path, bare(err))
	}
	return s.err
}

// Close finishes the file: the closing bracket of a JSON array, the
// pending records, a sync; then a ReplaceSink renames its temporary file
// over the path. If any step fails, a ReplaceSink removes its temporary
// file and the path keeps its old content.
func (s *output) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.enc == nil || s.err != nil { // never opened, or broken
		return errors.Join(s.err, s.release(true))
	}
	s.enc.end()
	err := s.writeOut()
	if err == nil {
		if err = s.f.Sync(); err != nil {
			err = fmt.Errorf("sync %q: %w", s.o.Path, bare(err))
		}
	}
	if err != nil {
		return errors.Join(err, s.release(true))
	}
	if err := s.f.Close(); err != nil {
		s.f = nil
		return errors.Join(fmt.Errorf("close %q: %w", s.o.Path, bare(err)), s.release(true))
	}
	s.f = nil
	if s.tmp != "" {
		if err := s.root.Rename(s.tmp, s.o.Path); err != nil {
			return errors.Join(rootErr("rename the temporary file onto", s.o.Path, err), s.release(true))
		}
		s.tmp = ""
		s.syncDir()
	}
	return s.release(false)
}

// release closes what is open and, when discard is set, removes the
// temporary file.
func (s *output) release(discard bool) error {
	var errs []error
	if s.f != nil {
		errs = append(errs, s.f.Close())
		s.f = nil
	}
	if discard && s.tmp != "" && s.root != nil {
		if err := s.root.Remove(s.tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, rootErr("remove the temporary file of", s.o.Path, err))
		}
		s.tmp = ""
	}
	if s.root != nil {
		errs = append(errs, s.root.Close())
		s.root = nil
	}
	return errors.Join(errs...)
}

// syncDir makes the rename durable. Some file systems cannot sync a
// directory; the rename has happened either way, so that is not an error.
func (s *output) syncDir() {
	d, err := s.root.Open(filepath.Dir(s.o.Path))
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}

// readCSVHeader reads the header row of a CSV file being appended to.
func readCSVHeader(r io.Reader, o Options) (*csvHeader, error) {
	cr := newCSVReader(skipBOM(r), o.Delimiter)
	h, err := cr.Read()
	if err == io.EOF {
		return nil, nil
	}
	if err != nil {
		return nil, headerErr(o.Path, err)
	}
	return &csvHeader{columns: append([]string(nil), h...)}, nil
}
