package flow

import _ "embed"

//go:embed schema.json
var schema []byte

// Schema is the JSON Schema (draft 2020-12) of the flow document, served
// at /api/v1/flow-schema.json for editors. It describes the shape; Parse
// also checks what a schema cannot say (rules between fields, cron, time
// zones, jq). The caller must not modify the returned bytes.
func Schema() []byte { return schema }
