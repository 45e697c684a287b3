// Package file is the file connector: it reads and writes NDJSON, CSV with
// a header row, and JSON arrays, only under the files directory
// (--files-dir, DESIGN §7).
//
// A flow names a file by a path relative to the files directory
// (read: {file: {path: in/orders.ndjson, format: ndjson}}). Paths are
// confined twice: a path that is absolute or goes up with .. is refused
// when the connector is built, and every open goes through an os.Root on
// the files directory, so a symbolic link that points outside is refused
// by the operating system's own path resolution. Both refusals are a
// *PathError wrapping ErrPathEscapes.
//
// Reading streams: a Read decodes at most Env.BatchSize records through
// buffers of fixed size, so memory does not grow with the file. Every
// batch carries a Position (byte offset, line and record number) from
// which a later run resumes. Damage confined to one record (a malformed
// NDJSON line, a CSV row with the wrong number of fields or a bad quote)
// becomes a Record with Err set, saying which line and why; damage that
// leaves the rest unreadable (a JSON array broken in the middle, a file
// that is not a JSON array) is an error from Read. An empty file has no
// records in every format. A UTF-8 byte order mark is skipped, and CRLF
// line ends are read as LF.
//
// Writing has two modes. replace (the default) writes to a hidden
// temporary file in the same directory and renames it over the path when
// the sink is closed, so readers see the old file or the whole new one,
// never a part; a failed run (Abort) removes the temporary file and
// leaves the old file as it was. append adds records to the end of the
// file (created if missing), writing whole records per write call, and
// makes them durable on every Flush, so the engine can checkpoint; JSON
// arrays cannot be appended to (a closed array would have to be
// rewritten), so append takes ndjson and csv only. Files are created with
// mode 0600 and missing directories with 0700.
//
// Files do not support FetchByID: a file has no index by entity ID, so
// reprocessing a run that read a file is refused by the engine.
package file

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/sluice-dev/sluice/internal/connector"
)

// Format is a file format.
type Format string

// The formats.
const (
	NDJSON Format = "ndjson" // one JSON value per line
	CSV    Format = "csv"    // a header row, then one record per row; values are text
	JSON   Format = "json"   // one top-level array of records
)

// Mode is how a sink writes its file.
type Mode string

// The write modes.
const (
	Replace Mode = "replace" // write a temporary file, rename it into place on Close
	Append  Mode = "append"  // add to the end of the file
)

// MaxRecordBytes bounds one record's encoded size when reading: an NDJSON
// line beyond it fails as a record; a CSV row or JSON element beyond it
// stops the read (the rest of a file whose quote or bracket is left open
// cannot be trusted).
const MaxRecordBytes = 16 << 20

// Options configure a Source or a Sink.
type Options struct {
	// Path is relative to the files directory.
	Path   string
	Format Format
	// Delimiter separates CSV fields: ',' (0 means ','), ';' or '\t'.
	Delimiter rune
	// Mode is the sink's write mode (zero: Replace).
	Mode Mode
	// Columns are the CSV columns a sink writes, in order; empty means
	// the keys of the first record, sorted (or, when appending to a file
	// that has a header, that header).
	Columns []string
	// BatchSize bounds the records one Read returns (0: the default).
	BatchSize int
}

var delimiters = map[string]rune{",": ',', ";": ';', "\t": '\t'}

var commonFields = []connector.Field{
	{Name: "path", Type: connector.TypeString, Required: true, Doc: "the file, relative to the files directory, such as in/orders.ndjson"},
	{Name: "format", Type: connector.TypeEnum, Required: true, Enum: []string{string(NDJSON), string(CSV), string(JSON)},
		Doc: "ndjson (one JSON value per line), csv (a header row, then rows; values are text) or json (one array of records)"},
	{Name: "delimiter", Type: connector.TypeEnum, Enum: []string{",", ";", "\t"}, Default: ",", Doc: "the CSV field delimiter: comma, semicolon or tab"},
}

// ReadFields are the settings of a file read.
var ReadFields = commonFields

// WriteFields are the settings of a file write.
var WriteFields = append(append([]connector.Field(nil), commonFields...),
	connector.Field{Name: "mode", Type: connector.TypeEnum, Enum: []string{string(Replace), string(Append)}, Default: string(Replace),
		Doc: "replace: write a temporary file and rename it into place when the run ends, so a failed run leaves the old file; append: add to the end of the file (ndjson and csv)"},
	connector.Field{Name: "columns", Type: connector.TypeList, Min: 1, Max: 1000,
		Doc: "CSV only: the columns to write, in order (default: the keys of the first record, sorted)"},
)

func init() {
	connector.Register(&connector.Kind{
		Name:  "file",
		Doc:   "NDJSON, CSV and JSON array files under the files directory",
		Read:  &connector.SourceSpec{Fields: ReadFields, New: newSource},
		Write: &connector.SinkSpec{Fields: WriteFields, New: newSink},
	})
}

func newSource(env connector.Env, s map[string]any) (connector.Source, error) {
	o := optionsFrom(s)
	o.BatchSize = env.Batch()
	return NewSource(env.FilesDir, o)
}

func newSink(env connector.Env, s map[string]any) (connector.Sink, error) {
	o := optionsFrom(s)
	if o.Mode == Append {
		return NewAppendSink(env.FilesDir, o)
	}
	return NewReplaceSink(env.FilesDir, o)
}

// optionsFrom reads settings that connector.Check has normalised.
func optionsFrom(s map[string]any) Options {
	o := Options{}
	o.Path, _ = s["path"].(string)
	f, _ := s["format"].(string)
	o.Format = Format(f)
	d, _ := s["delimiter"].(string)
	o.Delimiter = delimiters[d]
	m, _ := s["mode"].(string)
	o.Mode = Mode(m)
	o.Columns, _ = s["columns"].([]string)
	return o
}

// check validates options (and cleans the path) without I/O, listing every
// problem.
func (o *Options) check(sink bool) error {
	var ps []connector.Problem
	add := func(field, msg string, err error) {
		ps = append(ps, connector.Problem{Field: field, Message: msg, Err: err})
	}
	clean, err := cleanPath(o.Path)
	if err != nil {
		add("path", err.Error(), err)
	}
	o.Path = clean
	switch o.Format {
	case NDJSON, CSV, JSON:
	default:
		add("format", fmt.Sprintf("%q is not a format: use ndjson, csv or json", o.Format), nil)
	}
	switch o.Delimiter {
	case 0:
		o.Delimiter = ','
	case ',', ';', '\t':
	default:
		add("delimiter", "must be a comma, a semicolon or a tab", nil)
	}
	if sink {
		switch o.Mode {
		case "":
			o.Mode = Replace
		case Replace, Append:
		default:
			add("mode", fmt.Sprintf("%q is not a mode: use replace or append", o.Mode), nil)
		}
		if o.Mode == Append && o.Format == JSON {
			add("mode", "a JSON array cannot be appended to without rewriting it: use mode replace, or format ndjson", nil)
		}
		if len(o.Columns) > 0 && o.Format != CSV {
			add("columns", "is for csv only", nil)
		}
		seen := map[string]bool{}
		for i, c := range o.Columns {
			if c == "" {
				add(fmt.Sprintf("columns[%d]", i), "must not be empty", nil)
			} else if seen[c] {
				add(fmt.Sprintf("columns[%d]", i), fmt.Sprintf("%q is listed twice", c), nil)
			}
			seen[c] = true
		}
	}
	if len(ps) > 0 {
		return &connector.ValidationError{Problems: ps}
	}
	return nil
}

// cleanPath refuses, without I/O, a path that leaves the files directory
// by its own text, and returns it cleaned. Symbolic links are os.Root's
// business, at open.
func cleanPath(p string) (string, error) {
	switch {
	case strings.TrimSpace(p) == "":
		return "", fmt.Errorf("is required: the file, relative to the files directory, such as in/orders.ndjson")
	case strings.ContainsRune(p, 0):
		return "", fmt.Errorf("path %q has a NUL byte in it", p)
	case filepath.IsAbs(p):
		return "", &PathError{Path: p, Why: "it is absolute"}
	case !filepath.IsLocal(p):
		return "", &PathError{Path: p, Why: "it goes up with .."}
	}
	c := filepath.Clean(p)
	if c == "." || strings.HasSuffix(p, "/") {
		return "", fmt.Errorf("path %q names a directory, not a file", p)
	}
	return c, nil
}
