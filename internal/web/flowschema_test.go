package web_test

import (
	"bytes"
	"net/http"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/flow"
)

// TestFlowSchema: the JSON Schema of flows is served as shipped in the
// binary, to anyone, and can be revalidated by its ETag.
func TestFlowSchema(t *testing.T) {
	t.Parallel()
	inst := apptest.Start(t, apptest.Options{})
	anon := inst.NewClient()
	r := anon.Do(t, "GET", "/api/v1/flow-schema.json", nil)
	wantStatus(t, r, 200, "flow schema")
	if !bytes.Equal(r.Body, flow.Schema()) {
		t.Fatalf("served schema differs from flow.Schema(): %.200s", r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/schema+json" {
		t.Fatalf("Content-Type %q", ct)
	}
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	req, err := http.NewRequest("GET", anon.Base+"/api/v1/flow-schema.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("If-None-Match", etag)
	r = anon.Send(t, req)
	if r.Status != http.StatusNotModified || len(r.Body) != 0 {
		t.Fatalf("revalidation: status %d, %d bytes", r.Status, len(r.Body))
	}
}
