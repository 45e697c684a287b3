package console

import (
	"encoding/json"
	"net/http"
)

// captured records what httpx.WriteError would send, so a page can show
// the same message the API gives.
type captured struct {
	header http.Header
	status int
	body   []byte
}

func (c *captured) Header() http.Header { return c.header }
func (c *captured) WriteHeader(s int)   { c.status = s }
func (c *captured) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, b...)
	return len(b), nil
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
