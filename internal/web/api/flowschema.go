package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/sluice-dev/sluice/internal/flow"
)

// flowSchemaETag names the schema's content: it changes only with the
// binary, so editors may cache it and revalidate cheaply.
var flowSchemaETag = func() string {
	sum := sha256.Sum256(flow.Schema())
	return `"` + hex.EncodeToString(sum[:8]) + `"`
}()

// flowSchema serves the JSON Schema of flow documents. It is public: the
// schema is the documented format, holds nothing secret, and editors
// fetch it without credentials.
func (a *API) flowSchema(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/schema+json")
	w.Header().Set("ETag", flowSchemaETag)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, "flow-schema.json", time.Time{}, bytes.NewReader(flow.Schema()))
}
