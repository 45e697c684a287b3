package connection

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	httpc "github.com/sluice-dev/sluice/internal/connectors/http"
)

// ErrNotHTTP is returned by OpenHTTP for a connection that is not an http
// connection.
var ErrNotHTTP = errors.New("is not an http connection")

// OpenHTTP loads the http connection name of a project and returns what
// the http connector needs to reach it: the guarded, signed client, the
// base URL, default headers, timeout, and the connection's Limits, which
// every source, sink and caller of the connection on this node shares.
// Its secrets are unsealed now and stay inside the client's signer and
// the Redact function.
func (s *Service) OpenHTTP(ctx context.Context, projectID, name string) (httpc.Conn, error) {
	c, err := s.st.Reader().ConnectionByName(ctx, projectID, name)
	if err != nil {
		return httpc.Conn{}, err
	}
	if c.Kind != "http" {
		return httpc.Conn{}, fmt.Errorf("connection %q (%s) %w", name, c.Kind, ErrNotHTTP)
	}
	if s.Network == nil {
		return httpc.Conn{}, errors.New("connection: no network to reach http connections")
	}
	sec, err := s.open(c)
	if err != nil {
		return httpc.Conn{}, err
	}
	v := s.view(c, sec)
	client, err := s.Network.HTTPClient(ctx, projectID, v, sec)
	if err != nil {
		return httpc.Conn{}, fmt.Errorf("connection %q: %w", name, err)
	}
	return httpConn(v, sec, client, s.httpLimits.get(c.ID, limitsKey(v, c.UpdatedAt), v)), nil
}

// OpenHTTP returns what the http connector needs to reach the http
// connection called name, as Service.OpenHTTP does for a project's;
// projectID is ignored.
func (fs *FileSet) OpenHTTP(ctx context.Context, projectID, name string) (httpc.Conn, error) {
	fc, err := fs.lookup(name)
	if err != nil {
		return httpc.Conn{}, err
	}
	if fc.v.Row.Kind != "http" {
		return httpc.Conn{}, fmt.Errorf("connection %q (%s) %w", name, fc.v.Row.Kind, ErrNotHTTP)
	}
	client, err := fs.network.HTTPClient(ctx, "", fc.v, fc.sec)
	if err != nil {
		return httpc.Conn{}, fmt.Errorf("connection %q: %w", name, err)
	}
	return httpConn(fc.v, fc.sec, client, fs.httpLimits.get("file:"+name, limitsKey(fc.v, time.Time{}), fc.v)), nil
}

func httpConn(v *Connection, sec Secrets, client *http.Client, limits *httpc.Limits) httpc.Conn {
	conn := httpc.Conn{
		Client:  client,
		BaseURL: str(v, "base_url"),
		Timeout: durationSetting(v, "timeout", 30*time.Second),
		Limits:  limits,
		Redact:  func(msg string) string { return redact(msg, sec) },
	}
	if hs, ok := v.Settings["headers"].(map[string]any); ok {
		conn.Headers = make(map[string]string, len(hs))
		for k, x := range hs {
			if s, ok := x.(string); ok {
				conn.Headers[k] = s
			}
		}
	}
	// An API key sent in the query is added by the signer: the connector
	// keeps it out of the Link URLs it stores in checkpoints.
	if v.Auth["type"] == "api_key" && v.Auth["in"] == "query" {
		if n, ok := v.Auth["name"].(string); ok && n != "" {
			conn.SecretQuery = []string{n}
		}
	}
	return conn
}

// limitsRegistry holds the Limits of each http connection of this
// process, so every source, sink and caller of a connection shares one
// rate limit and one concurrency cap. An entry is rebuilt when the
// connection changes (its updated_at or its limit settings); runs still
// holding the old one finish with it. The zero value is ready to use.
type limitsRegistry struct {
	mu sync.Mutex
	m  map[string]limitsEntry
}

type limitsEntry struct {
	key    string
	limits *httpc.Limits
}

// get is the Limits of connection id for the settings key, built from v
// when missing or changed.
func (r *limitsRegistry) get(id, key string, v *Connection) *httpc.Limits {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.m[id]; ok && e.key == key {
		return e.limits
	}
	if r.m == nil {
		r.m = map[string]limitsEntry{}
	}
	l := httpc.NewLimits(float64(intSetting(v, "rate_limit")), intSetting(v, "burst"), intSetting(v, "concurrency"))
	r.m[id] = limitsEntry{key: key, limits: l}
	return l
}

// limitsKey names a version of a connection's limits.
func limitsKey(v *Connection, updated time.Time) string {
	parts := []string{updated.UTC().Format(time.RFC3339Nano)}
	for _, n := range []string{"rate_limit", "burst", "concurrency"} {
		parts = append(parts, strconv.Itoa(intSetting(v, n)))
	}
	return fmt.Sprint(parts)
}

// intSetting is a whole-number setting (0 when unset).
func intSetting(v *Connection, name string) int {
	switch n := v.Settings[name].(type) {
	case float64:
		return int(n)
	case int:
		return n
	}
	return 0
}
