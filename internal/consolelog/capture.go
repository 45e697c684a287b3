package consolelog

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/jsonx"
	"github.com/sluice-dev/sluice/internal/store"
)

// Capture kinds (DESIGN §6; project.CaptureKinds).
const (
	KindMethodURL = "method_url"
	KindHeaders   = "headers"
	KindParams    = "params"
	KindRequest   = "request"
	KindResponse  = "response"
	KindRecords   = "records"
)

// Limits of one console log.
const (
	// MaxLogBytes bounds a log's NDJSON before compression: past it the
	// log says it was cut and captures nothing more.
	MaxLogBytes = 32 << 20
	// MaxBodyBytes bounds each request or answer body kept.
	MaxBodyBytes = 64 << 10
)

// Table and field that bind a sealed log to its row (with its ID).
const (
	SealTable = "console_logs"
	SealField = "blob"
)

// Redacted replaces every value a console log must not keep.
const Redacted = "[REDACTED]"

// Settings is what a pipe's console log captures.
type Settings struct {
	Enabled   bool       `json:"enabled"`
	Capture   []string   `json:"capture"`
	Sensitive []string   `json:"sensitive"`
	Until     *time.Time `json:"until,omitempty"`
}

// Active reads a pipe's stored console-log settings and says whether
// they capture at now: on, not past their automatic switch-off, and
// capturing something.
func Active(raw string, now time.Time) (Settings, bool) {
	var s Settings
	if raw == "" || json.Unmarshal([]byte(raw), &s) != nil {
		return s, false
	}
	on := s.Enabled && len(s.Capture) > 0 && (s.Until == nil || now.Before(*s.Until))
	return s, on
}

// Capture collects one run's console log. Its methods are safe for
// concurrent use; after Finish they do nothing.
type Capture struct {
	s         *Service
	run       *store.Run
	kinds     map[string]bool
	sensitive [][]string
	now       func() time.Time

	mu        sync.Mutex
	buf       bytes.Buffer
	gz        *gzip.Writer
	raw       int64
	entries   int64
	truncated bool
	done      bool
}

// Begin starts the console log of run under settings.
func (s *Service) Begin(run *store.Run, settings Settings) *Capture {
	c := &Capture{s: s, run: run, kinds: map[string]bool{}, now: s.now}
	for _, k := range settings.Capture {
		c.kinds[k] = true
	}
	for _, p := range settings.Sensitive {
		c.sensitive = append(c.sensitive, splitPath(p))
	}
	c.gz = gzip.NewWriter(&c.buf)
	return c
}

// Records says whether the capture keeps records (engine.Options.OnStep).
func (c *Capture) Records() bool { return c != nil && c.kinds[KindRecords] }

// Exchanges says whether the capture keeps requests to other systems.
func (c *Capture) Exchanges() bool {
	return c != nil && (c.kinds[KindMethodURL] || c.kinds[KindHeaders] || c.kinds[KindParams] || c.kinds[KindRequest] || c.kinds[KindResponse])
}

// Step keeps a record as a step left it.
func (c *Capture) Step(r engine.StepRecord) {
	c.write(map[string]any{"at": c.at(), "kind": "record", "step": r.Step, "entity_id": r.EntityID, "record": c.redactValue(r.Value)})
}

// Exchange keeps a request to another system and its answer, as far as
// the capture kinds say.
func (c *Capture) Exchange(x connector.Exchange) {
	e := map[string]any{"at": c.at(), "kind": "http", "duration_ms": x.Duration.Milliseconds()}
	if c.kinds[KindMethodURL] {
		e["method"] = x.Method
		if x.URL != nil {
			u := *x.URL
			u.RawQuery, u.User, u.Fragment = "", nil, ""
			e["url"] = u.String()
		}
	}
	if c.kinds[KindParams] && x.URL != nil {
		e["params"] = redactValues(x.URL.Query())
	}
	if c.kinds[KindHeaders] {
		e["request_headers"] = c.headerPaths(redactHeader(x.RequestHeader))
		if x.ResponseHeader != nil {
			e["response_headers"] = c.headerPaths(redactHeader(x.ResponseHeader))
		}
	}
	if c.kinds[KindRequest] && x.RequestBody != nil {
		e["request_body"] = c.body(x.RequestBody, x.RequestHeader)
	}
	if c.kinds[KindResponse] {
		if x.Status != 0 {
			e["status"] = x.Status
		}
		if x.ResponseBody != nil {
			e["response_body"] = c.body(x.ResponseBody, x.ResponseHeader)
		}
	}
	if x.Err != nil {
		e["error"] = x.Err.Error()
	}
	c.write(e)
}

func (c *Capture) at() string { return c.now().UTC().Format(time.RFC3339Nano) }

// write appends one line, until the log is full.
func (c *Capture) write(e map[string]any) {
	if c == nil {
		return
	}
	line, err := jsonx.Marshal(e)
	if err != nil {
		line, _ = jsonx.Marshal(map[string]any{"at": e["at"], "kind": "error", "error": "a value could not be encoded as JSON"})
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done || c.truncated {
		return
	}
	if c.raw+int64(len(line))+1 > MaxLogBytes {
		c.truncated = true
		line, _ = jsonx.Marshal(map[string]any{"at": e["at"], "kind": "truncated", "message": fmt.Sprintf("the console log reached %d MiB; nothing more was captured in this run", MaxLogBytes>>20)})
	}
	line = append(line, '\n')
	if _, err := c.gz.Write(line); err != nil {
		c.truncated = true
		return
	}
	c.raw += int64(len(line))
	c.entries++
}

// Finish seals the log, stores its blob and then its row. A log with no
// line stores nothing. It runs once; the run's row must exist.
func (c *Capture) Finish(ctx context.Context) (*store.ConsoleLog, error) {
	if c == nil {
		return nil, nil
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return nil, nil
	}
	c.done = true
	err := c.gz.Close()
	entries, gz := c.entries, c.buf.Bytes()
	c.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("console log: compressing: %w", err)
	}
	if entries == 0 {
		return nil, nil
	}
	return c.s.store(ctx, c.run, gz, entries, c.kindList())
}

func (c *Capture) kindList() []string {
	var out []string
	for k := range c.kinds {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// store seals gz and keeps it: blob first, then the row that points at
// it (a blob whose row never came is swept by retention's orphan pass).
func (s *Service) store(ctx context.Context, run *store.Run, gz []byte, entries int64, kinds []string) (*store.ConsoleLog, error) {
	if s.sealer == nil || s.blobs == nil {
		return nil, errors.New("console log: no keyring or blob store")
	}
	l := &store.ConsoleLog{ID: store.NewID(), ProjectID: run.ProjectID, PipeID: run.PipeID, FlowID: run.FlowID, RunID: run.ID, Entries: entries}
	l.BlobKey = BlobKey(l.ProjectID, l.ID)
	sealed, _, err := s.sealer.SealFor(gz, SealTable, l.ID, SealField)
	if err != nil {
		return nil, fmt.Errorf("console log: sealing: %w", err)
	}
	n, err := s.blobs.Put(ctx, l.BlobKey, strings.NewReader(sealed))
	if err != nil {
		return nil, fmt.Errorf("console log: storing its blob: %w", err)
	}
	l.Size = n
	kj, _ := json.Marshal(kinds)
	l.Capture = string(kj)
	if err := s.st.Writer().CreateConsoleLog(ctx, l); err != nil {
		// No row will point at the blob: take it back.
		_ = s.blobs.Delete(context.WithoutCancel(ctx), l.BlobKey)
		return nil, err
	}
	return l, nil
}

// body is a request or answer body as the log keeps it: JSON decoded and
// redacted, a form redacted, anything else as text, cut at MaxBodyBytes.
func (c *Capture) body(b []byte, h http.Header) any {
	ct := ""
	if h != nil {
		ct, _, _ = mime.ParseMediaType(h.Get("Content-Type"))
	}
	if ct == "application/x-www-form-urlencoded" {
		if v, err := url.ParseQuery(string(b)); err == nil {
			return redactValues(v)
		}
	}
	if len(b) <= MaxBodyBytes || ct == "" || strings.Contains(ct, "json") {
		if v, err := jsonx.Decode(b); err == nil {
			// A body holds records anywhere (a page's data[]): sensitive
			// paths apply under every object in it.
			v = redactNames(v)
			for _, p := range c.sensitive {
				v = redactPathAnywhere(v, p)
			}
			return v
		}
	}
	if len(b) > MaxBodyBytes {
		return map[string]any{"text": string(bytes.ToValidUTF8(b[:MaxBodyBytes], nil)), "truncated_from_bytes": len(b)}
	}
	return string(bytes.ToValidUTF8(b, nil))
}

// headerPaths redacts the headers the pipe's sensitive paths name
// ("headers.X-Api-Key"); h is a fresh map.
func (c *Capture) headerPaths(h map[string]any) map[string]any {
	for _, p := range c.sensitive {
		if len(p) == 2 && strings.EqualFold(p[0], "headers") {
			for k := range h {
				if strings.EqualFold(k, p[1]) {
					h[k] = Redacted
				}
			}
		}
	}
	return h
}

// redactValue copies v with every field whose name looks like a secret,
// and every value at a sensitive path, replaced by Redacted; v itself is
// not changed (it is the record in flight).
func (c *Capture) redactValue(v any) any {
	v = redactNames(v)
	for _, p := range c.sensitive {
		v = redactPath(v, p)
	}
	return v
}
