package file

import (
	"encoding/json"
	"fmt"

	"github.com/sluice-dev/sluice/internal/connector"
)

// position is a file source's checkpoint: where the next record starts.
// Path and Format tie it to the read it came from, so a flow whose file
// changed does not resume in the middle of another file.
type position struct {
	Path   string `json:"path"`
	Format Format `json:"format"`
	// Offset is the byte offset in the file just after the last record
	// read (a byte order mark included).
	Offset int64 `json:"offset"`
	// Line is the number of lines before Offset (NDJSON, CSV).
	Line int64 `json:"line,omitempty"`
	// Index is the number of records before Offset.
	Index int64 `json:"index"`
}

func (p position) encode() connector.Position {
	b, err := json.Marshal(p)
	if err != nil { // cannot happen: strings and integers only
		panic(err)
	}
	return connector.Position(b)
}

func decodePosition(raw connector.Position, o Options) (*position, error) {
	var p position
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%w: not a file position: %v", connector.ErrBadPosition, err)
	}
	if p.Path != o.Path || p.Format != o.Format {
		return nil, fmt.Errorf("%w: it was taken reading %q as %s, and this read is %q as %s", connector.ErrBadPosition, p.Path, p.Format, o.Path, o.Format)
	}
	if p.Offset < 0 || p.Line < 0 || p.Index < 0 {
		return nil, fmt.Errorf("%w: negative offset, line or index", connector.ErrBadPosition)
	}
	return &p, nil
}
