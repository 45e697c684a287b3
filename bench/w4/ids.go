package w4

import (
	"errors"
	"fmt"

	gojson "github.com/goccy/go-json"
)

// errBody is a body IDs cannot read.
var errBody = errors.New("the body is not a JSON array of objects, each with a whole-number id")

// idOnly is what the sink reads of each record: its top-level id.
type idOnly struct {
	ID *int64 `json:"id"`
}

// IDs gives the top-level "id" of each object of a JSON array, in order
// (-1 for an object without one): what the W4 sink counts. It decodes
// into a typed slice with goccy/go-json, so the sink costs the benchmark
// little CPU beside the run it measures (decoding every record into maps
// took as long as Sluice's own decoding of the pages).
func IDs(b []byte, ids []int64) ([]int64, error) {
	var recs []idOnly
	if err := gojson.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%w: %v", errBody, err)
	}
	if recs == nil {
		return nil, errBody // null is not an array
	}
	for _, r := range recs {
		if r.ID == nil {
			ids = append(ids, -1)
			continue
		}
		ids = append(ids, *r.ID)
	}
	return ids, nil
}
