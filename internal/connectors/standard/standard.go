// Package standard links the connector kinds Sluice ships with: importing
// it for its side effects registers each kind with internal/connector, as
// Caddy's standard modules do.
//
//	import _ "github.com/sluice-dev/sluice/internal/connectors/standard"
package standard

import (
	_ "github.com/sluice-dev/sluice/internal/connectors/file" // file: NDJSON, CSV, JSON arrays
	_ "github.com/sluice-dev/sluice/internal/connectors/http" // http: pages of an API, writes, calls
)
