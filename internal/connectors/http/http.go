// Package http is the http connector (kind "http"): it reads pages of
// records from an HTTP API, writes records to one (one request per record
// or a JSON array of records per request), and asks it things in the
// middle of a flow (the call step).
//
// The connector never builds a network client itself: it is given a Conn
// holding the connection's *http.Client, which the connection layer made
// with the egress guard, the TLS settings and the auth signer stacked on
// it, so every request here is guarded and signed without this package
// seeing a credential. The registered kind validates settings but cannot
// build a source, sink or caller on its own (Env carries no connection);
// the runs layer calls Bind(conn).NewSource / NewSink / NewCaller.
//
// Settings carry the flow's own text (request templates and jq
// expressions, as written in the flow document) and are compiled here
// with the flow package, so the connector checks them exactly as saving a
// flow does. ReadSettings, WriteSettings and CallSettings turn the flow's
// types into settings.
//
// Every request passes the connection's Limits first: a rate limit
// (requests per second, with a burst) and a cap on requests in flight,
// shared by every source, sink and caller of that connection on this
// node. Every request has the connection's timeout.
//
// Reading: the read request fetches a page; the records jq picks the
// records out of it (every value it gives is one record, and a single
// array is taken as the list of records). Pagination styles none, page,
// offset, cursor and link_header (RFC 8288 rel="next") lead from one page
// to the next. The Position after each batch names the page to fetch next
// and how many of its records were already delivered, so Resume goes on
// from there. Once Read has given the last records of a page, the next
// page is fetched in the background while the caller works on them (one
// page ahead at most; Close stops it), and the Position names that page
// until Read delivers it. A transient failure of a page (429, 5xx, a timeout, a reset
// connection) is tried again inside Read with exponential backoff and
// jitter, honouring Retry-After, up to the retries setting.
//
// Writing and calling: 4xx answers other than 408 and 429 fail the record
// (or the records of the batch) with the status and a short, redacted
// excerpt of the answer; 408, 429, 5xx and network failures are
// connector.TransientError, with the Retry-After as After, for the engine
// to try again under the flow's on_error policy.
package http

import (
	"context"
	"errors"
	"fmt"
	stdhttp "net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
)

// Conn is how the connector reaches an http connection.
type Conn struct {
	// Client sends every request. It is the connection's client: egress
	// guard, TLS settings and auth signer already stacked.
	Client *stdhttp.Client
	// BaseURL is the connection's base URL (no trailing slash); request
	// paths are appended to it, and the origin (scheme, host and port) of
	// BaseURL is the only one a Link header may lead to.
	BaseURL string
	// Headers are sent with every request, before the flow's own.
	Headers map[string]string
	// Timeout bounds one request, answer included (0: DefaultTimeout).
	Timeout time.Duration
	// Limits is shared by every source, sink and caller of the
	// connection on this node (nil: no limits).
	Limits *Limits
	// Redact removes secret values from text that goes into an error
	// (nil: only the built-in patterns are removed).
	Redact func(string) string
	// SecretQuery names query parameters the auth signer adds (an API key
	// in the query). They are taken out of Link header URLs before those
	// are kept in a Position or sent again.
	SecretQuery []string
	// Sleep waits between attempts of a page (nil: a timer honouring
	// ctx); for tests.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock Retry-After dates are read against (nil:
	// time.Now); for tests.
	Now func() time.Time
}

// DefaultTimeout bounds one request when Conn.Timeout is 0.
const DefaultTimeout = 30 * time.Second

// ErrNoConnection is returned by the registered kind's constructors: an
// http source, sink or caller needs a Conn given by the runs layer (Bind).
var ErrNoConnection = errors.New("http: the connector needs an http connection (built by the runs layer with Bind)")

func checkConn(conn Conn) (*url.URL, error) {
	if conn.Client == nil {
		return nil, ErrNoConnection
	}
	u, err := url.Parse(conn.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("http: the connection's base URL %q is not an absolute http(s) URL", conn.BaseURL)
	}
	return u, nil
}

var methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// requestFields are the fields of a request: the flow's own Request.
func requestFields(body string) []connector.Field {
	return []connector.Field{
		{Name: "method", Type: connector.TypeEnum, Enum: methods, Required: true, Doc: "the HTTP method"},
		{Name: "path", Type: connector.TypeString, Required: true, Doc: "the path on the connection's base URL, starting with /; {{jq}} placeholders are filled in and URL-escaped"},
		{Name: "query", Type: connector.TypeMap, Doc: "query parameters; values are templates"},
		{Name: "headers", Type: connector.TypeMap, Doc: "headers, after the connection's own; values are templates (never credentials: those are the connection's auth)"},
		{Name: "body", Type: connector.TypeString, Doc: body},
	}
}

var sourceFields = []connector.Field{
	{Name: "request", Type: connector.TypeObject, Required: true, Doc: "the request that fetches a page (its templates see null)",
		Fields: requestFields("jq giving the JSON body of each page request (on null), for APIs searched with POST")},
	{Name: "records", Type: connector.TypeString, Required: true, Doc: "jq on each page giving its records, e.g. .orders[] (a single array is taken as the list of records)"},
	{Name: "paginate", Type: connector.TypeObject, Doc: "how to get from one page to the next", Fields: []connector.Field{
		{Name: "style", Type: connector.TypeEnum, Enum: []string{"none", "page", "offset", "cursor", "link_header"}, Default: "none",
			Doc: "none: one page; page: a page number; offset: a record offset; cursor: a cursor from each page; link_header: the RFC 8288 Link rel=\"next\""},
		{Name: "next", Type: connector.TypeString, Doc: "style cursor: jq on each page giving the next cursor; null, \"\" or nothing ends the read"},
		{Name: "param", Type: connector.TypeString, Doc: "the query parameter carrying the page number (default page), offset (default offset) or cursor"},
		{Name: "size", Type: connector.TypeInt, Min: 1, Max: 10000, Doc: "the page size asked for in size_param; a shorter page is the last one"},
		{Name: "size_param", Type: connector.TypeString, Doc: "the query parameter carrying size"},
		{Name: "start", Type: connector.TypeInt, Min: 0, Doc: "the first page number (default 1) or offset (default 0)"},
	}},
	{Name: "fetch_one", Type: connector.TypeObject, Doc: "the request that reads one record by its entity ID, for reprocessing; {{entity_id}} is the ID; 404 means there is no such record",
		Fields: requestFields("not used")[:4]},
	{Name: "incremental", Type: connector.TypeObject, Doc: "read only what changed since the last run", Fields: []connector.Field{
		{Name: "cursor", Type: connector.TypeString, Required: true, Doc: "jq on each record giving its cursor value (e.g. .updated_at); the largest one read is kept for the next run"},
		{Name: "param", Type: connector.TypeString, Required: true, Doc: "the query parameter the last run's largest cursor value is sent in"},
		{Name: "since", Type: connector.TypeString, Doc: "the largest cursor value of the last run (set by the runs layer; empty on the first run, which sends no param)"},
	}},
	{Name: "retries", Type: connector.TypeInt, Min: 0, Max: 20, Default: 5, Doc: "how many times a page that failed transiently (429, 5xx, timeout, reset) is tried again"},
	{Name: "backoff", Type: connector.TypeDuration, Default: "1s", Doc: "the first wait before a page is tried again; it doubles, with jitter, up to max_backoff (a Retry-After answer is honoured instead)"},
	{Name: "max_backoff", Type: connector.TypeDuration, Default: "30s", Doc: "the longest wait between two tries of a page"},
}

var sinkFields = []connector.Field{
	{Name: "request", Type: connector.TypeObject, Required: true, Doc: "the request that sends a record (or a batch); templates see the record (the batch's first record)",
		Fields: requestFields("jq on each record giving what is sent for it (the record itself when empty)")},
	{Name: "batch", Type: connector.TypeInt, Min: 1, Max: 10000, Default: 1, Doc: "records per request: 1 sends each record as the body; more sends a JSON array of records"},
}

var callerFields = []connector.Field{
	{Name: "request", Type: connector.TypeObject, Required: true, Doc: "the request sent for each record; templates see the record; a 404 answer is null",
		Fields: requestFields("jq on the record giving the body (the record itself when empty; GET sends none)")},
}

// Bind returns the http kind with its constructors bound to conn; the
// registered kind has no connection and its constructors fail with
// ErrNoConnection (after checking the settings).
func Bind(conn Conn) *connector.Kind {
	return &connector.Kind{
		Name: "http",
		Doc:  "an HTTP API: read pages of records (none, page, offset, cursor, Link header), write records one by one or in batches, call it mid-flow",
		Read: &connector.SourceSpec{Fields: sourceFields, New: func(env connector.Env, s map[string]any) (connector.Source, error) {
			return newSource(env, conn, s)
		}},
		Write: &connector.SinkSpec{Fields: sinkFields, New: func(env connector.Env, s map[string]any) (connector.Sink, error) {
			return newSink(env, conn, s)
		}},
		Call: &connector.CallerSpec{Fields: callerFields, New: func(env connector.Env, s map[string]any) (connector.Caller, error) {
			return newCaller(env, conn, s)
		}},
	}
}

func init() {
	connector.Register(Bind(Conn{}))
}

func invalid(field, format string, args ...any) error {
	return &connector.ValidationError{Problems: []connector.Problem{{Field: field, Message: fmt.Sprintf(format, args...)}}}
}

// origin is scheme://host[:port] of u, lower-cased, with the default port
// left out, for comparing origins.
func origin(u *url.URL) string {
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host
}
