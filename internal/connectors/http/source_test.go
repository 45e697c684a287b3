package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	stdhttp "net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/connector"
	"github.com/sluice-dev/sluice/internal/connector/connectortest"
)

const total = 23

// paged is an API serving total orders in every pagination style.
func paged(t *testing.T) *server {
	all := orders(0, total)
	slice := func(from, n int) []any {
		from = min(max(from, 0), total)
		return all[from:min(from+n, total)]
	}
	return newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		q := r.URL.Query()
		switch r.URL.Path {
		case "/api/all":
			writeJSON(w, 200, map[string]any{"orders": all})
		case "/api/pages":
			size := intParam(r, "per_page", 10)
			writeJSON(w, 200, map[string]any{"orders": slice((intParam(r, "page", 1)-1)*size, size)})
		case "/api/offsets":
			writeJSON(w, 200, slice(intParam(r, "offset", 0), intParam(r, "limit", 10)))
		case "/api/cursor":
			from := 0
			if c := q.Get("after"); c != "" {
				from, _ = strconv.Atoi(strings.TrimPrefix(c, "c"))
			}
			var next any
			if from+7 < total {
				next = "c" + strconv.Itoa(from+7)
			}
			writeJSON(w, 200, map[string]any{"data": slice(from, 7), "meta": map[string]any{"next": next}})
		case "/api/linked":
			p := intParam(r, "p", 0)
			if (p+1)*6 < total {
				w.Header().Add("Link", fmt.Sprintf(`<http://example.invalid/x>; rel="prev", <%s/api/linked?p=%d&key=s3cr3t>; rel="next last"`, "", p+1))
			}
			writeJSON(w, 200, map[string]any{"items": slice(p*6, 6)})
		default:
			stdhttp.NotFound(w, r)
		}
	})
}

func TestPagination(t *testing.T) {
	srv := paged(t)
	cases := []struct {
		name     string
		settings map[string]any
		requests int
	}{
		{"none", map[string]any{"request": get("/all"), "records": ".orders[]"}, 1},
		{"page with size", map[string]any{"request": get("/pages"), "records": ".orders",
			"paginate": map[string]any{"style": "page", "size": 10, "size_param": "per_page"}}, 3},
		{"page until empty", map[string]any{"request": get("/pages"), "records": ".orders[]",
			"paginate": map[string]any{"style": "page"}}, 4},
		{"offset", map[string]any{"request": get("/offsets"), "records": ".[]",
			"paginate": map[string]any{"style": "offset", "size": 10, "size_param": "limit"}}, 3},
		{"cursor", map[string]any{"request": get("/cursor"), "records": ".data[]",
			"paginate": map[string]any{"style": "cursor", "next": ".meta.next", "param": "after"}}, 4},
		{"link header", map[string]any{"request": get("/linked"), "records": ".items[]",
			"paginate": map[string]any{"style": "link_header"}}, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.count()
			conn := srv.conn(nil)
			conn.SecretQuery = []string{"key"}
			src := mustSource(t, conn, connector.Env{BatchSize: 4}, tc.settings)
			ids, _, err := readAll(t, src)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids, seq(0, total)) {
				t.Fatalf("ids %v", ids)
			}
			if got := srv.count() - before; got != tc.requests {
				t.Fatalf("%d requests, want %d", got, tc.requests)
			}
		})
	}
	t.Run("link keeps no secret query", func(t *testing.T) {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		for _, r := range srv.requests {
			if r.URL.Query().Get("key") != "" {
				t.Fatalf("the auth's query parameter was sent again from a Link: %s", r.URL)
			}
		}
	})
}

func TestSourceContract(t *testing.T) {
	srv := paged(t)
	connectortest.RunSource(t, func(t *testing.T) connector.Source {
		src, err := NewSource(connector.Env{BatchSize: 5}, srv.conn(nil), map[string]any{"request": get("/pages"), "records": ".orders[]",
			"paginate": map[string]any{"style": "page", "size": 10, "size_param": "per_page"}})
		if err != nil {
			t.Fatal(err)
		}
		return src
	}, total)
}

func TestResume(t *testing.T) {
	srv := paged(t)
	styles := map[string]map[string]any{
		"page":        {"request": get("/pages"), "records": ".orders[]", "paginate": map[string]any{"style": "page", "size": 10, "size_param": "per_page"}},
		"offset":      {"request": get("/offsets"), "records": ".[]", "paginate": map[string]any{"style": "offset", "size": 10, "size_param": "limit"}},
		"cursor":      {"request": get("/cursor"), "records": ".data[]", "paginate": map[string]any{"style": "cursor", "next": ".meta.next", "param": "after"}},
		"link_header": {"request": get("/linked"), "records": ".items[]", "paginate": map[string]any{"style": "link_header"}},
		"none":        {"request": get("/all"), "records": ".orders[]"},
	}
	for name, settings := range styles {
		t.Run(name, func(t *testing.T) {
			env := connector.Env{BatchSize: 4}
			first := mustSource(t, srv.conn(nil), env, settings)
			var full []int
			var poss []connector.Position
			var counts []int
			for {
				ids, pos, err := readAll(t, &limited{first, 1})
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) == 0 {
					break
				}
				full = append(full, ids...)
				poss, counts = append(poss, pos[0]), append(counts, len(full))
			}
			if !reflect.DeepEqual(full, seq(0, total)) {
				t.Fatalf("ids %v", full)
			}
			for i, pos := range poss {
				delivered := counts[i]
				src, err := NewSource(env, srv.conn(nil), settings)
				if err != nil {
					t.Fatal(err)
				}
				if err := src.Resume(pos); err != nil {
					t.Fatalf("Resume(%s): %v", pos, err)
				}
				if err := src.Open(context.Background()); err != nil {
					t.Fatal(err)
				}
				rest, _, err := readAll(t, src)
				if err != nil {
					t.Fatalf("after %s: %v", pos, err)
				}
				if got := append(append([]int{}, full[:delivered]...), rest...); !reflect.DeepEqual(got, full) {
					t.Fatalf("resumed at %s: read %v after %d records", pos, rest, delivered)
				}
			}
		})
	}
	t.Run("another style's position", func(t *testing.T) {
		src, _ := NewSource(connector.Env{}, srv.conn(nil), styles["page"])
		if err := src.Resume(connector.Position(`{"style":"cursor","page":{"cursor":"c7"}}`)); !errors.Is(err, connector.ErrBadPosition) {
			t.Fatalf("Resume: %v", err)
		}
		if err := src.Resume(connector.Position(`[1]`)); !errors.Is(err, connector.ErrBadPosition) {
			t.Fatalf("Resume: %v", err)
		}
	})
	t.Run("meta index counts from the start", func(t *testing.T) {
		src, _ := NewSource(connector.Env{BatchSize: 4}, srv.conn(nil), styles["page"])
		if err := src.Resume(connector.Position(`{"style":"page","page":{"n":2},"skip":3,"index":13}`)); err != nil {
			t.Fatal(err)
		}
		_ = src.Open(context.Background())
		recs, _, err := src.Read(context.Background())
		if err != nil || recs[0].Meta.Index != 14 || recs[0].Data.(map[string]any)["id"] != json.Number("13") {
			t.Fatalf("first record after resume: %+v, %v", recs, err)
		}
	})
}

// limited is a source that ends after n batches.
type limited struct {
	connector.Source
	n int
}

func (l *limited) Read(ctx context.Context) ([]connector.Record, connector.Position, error) {
	if l.n == 0 {
		return nil, nil, io.EOF
	}
	l.n--
	return l.Source.Read(ctx)
}

func TestTransientPages(t *testing.T) {
	t.Run("429 with Retry-After, then success", func(t *testing.T) {
		calls := 0
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
			calls++
			switch calls {
			case 1:
				w.Header().Set("Retry-After", "7")
				writeJSON(w, 429, map[string]any{"error": "slow down"})
			case 2:
				w.Header().Set("Retry-After", time.Date(2030, 1, 1, 0, 0, 3, 0, time.UTC).Format(stdhttp.TimeFormat))
				writeJSON(w, 503, nil)
			default:
				writeJSON(w, 200, orders(0, 3))
			}
		})
		ws := &waits{}
		conn := srv.conn(ws)
		conn.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }
		src := mustSource(t, conn, connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]"})
		ids, _, err := readAll(t, src)
		if err != nil || len(ids) != 3 {
			t.Fatalf("ids %v, %v", ids, err)
		}
		if w := ws.all(); len(w) != 2 || w[0] < 7*time.Second || w[1] < 3*time.Second {
			t.Fatalf("waits %v: Retry-After not honoured", w)
		}
	})
	t.Run("5xx until the retries are spent", func(t *testing.T) {
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
			w.WriteHeader(502)
			_, _ = io.WriteString(w, "bad gateway")
		})
		ws := &waits{}
		src := mustSource(t, srv.conn(ws), connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]", "retries": 3,
			"backoff": "100ms", "max_backoff": "300ms"})
		_, _, err := src.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "gave up after 4 attempts") || !strings.Contains(err.Error(), "502") {
			t.Fatalf("err %v", err)
		}
		if srv.count() != 4 {
			t.Fatalf("%d requests, want 4", srv.count())
		}
		for i, d := range ws.all() {
			if d <= 0 || d > 300*time.Millisecond {
				t.Fatalf("wait %d is %v: not within the backoff bounds", i, d)
			}
		}
	})
	t.Run("a Retry-After over 10 minutes is not waited for", func(t *testing.T) {
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
			w.Header().Set("Retry-After", "3600")
			w.WriteHeader(503)
		})
		ws := &waits{}
		src := mustSource(t, srv.conn(ws), connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]"})
		_, _, err := src.Read(context.Background())
		if err == nil || !strings.Contains(err.Error(), "asked to wait 1h0m0s") || srv.count() != 1 || len(ws.all()) != 0 {
			t.Fatalf("err %v after %d requests and waits %v", err, srv.count(), ws.all())
		}
	})
	t.Run("a 4xx is not retried", func(t *testing.T) {
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
			writeJSON(w, 401, map[string]any{"error": "bad token", "token": "abcd1234secret"})
		})
		src := mustSource(t, srv.conn(nil), connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]"})
		_, _, err := src.Read(context.Background())
		if err == nil || srv.count() != 1 || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "abcd1234secret") {
			t.Fatalf("err %v after %d requests", err, srv.count())
		}
	})
	t.Run("timeouts are retried", func(t *testing.T) {
		calls := 0
		release := make(chan struct{})
		t.Cleanup(func() { close(release) })
		srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
			calls++
			if calls == 1 {
				select {
				case <-release:
				case <-r.Context().Done():
				}
				return
			}
			writeJSON(w, 200, orders(0, 2))
		})
		conn := srv.conn(nil)
		conn.Timeout = 50 * time.Millisecond
		src := mustSource(t, conn, connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]"})
		ids, _, err := readAll(t, src)
		if err != nil || len(ids) != 2 {
			t.Fatalf("ids %v, %v", ids, err)
		}
	})
}

func TestBadPages(t *testing.T) {
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		switch r.URL.Path {
		case "/api/html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = io.WriteString(w, "<html><head><title>Sign in</title></head><body>password=hunter22</body></html>")
		case "/api/broken":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"orders": [{"id": 1}, {"id": 2,]}`)
		case "/api/scalars":
			writeJSON(w, 200, map[string]any{"orders": []any{map[string]any{"id": 1}, "oops"}})
		case "/api/null":
			writeJSON(w, 200, map[string]any{"items": nil})
		case "/api/empty":
			w.WriteHeader(200)
		}
	})
	cases := []struct {
		path, records string
		want          []string
	}{
		{"/html", ".orders[]", []string{"GET /api/html", "text/html, not JSON", "Sign in"}},
		{"/broken", ".orders[]", []string{"GET /api/broken", "not valid JSON", "at byte"}},
		{"/scalars", ".orders[]", []string{"GET /api/scalars", "a string as record 2", "must be a JSON object"}},
		{"/null", ".items", []string{"GET /api/null", "null as record 1"}},
		{"/null", ".items[]", []string{"GET /api/null", "records:", "cannot iterate"}},
		{"/empty", ".[]", []string{"GET /api/empty", "records:"}},
	}
	for _, tc := range cases {
		t.Run(tc.path+" "+tc.records, func(t *testing.T) {
			src := mustSource(t, srv.conn(nil), connector.Env{}, map[string]any{"request": map[string]any{"method": "GET", "path": tc.path,
				"query": map[string]any{"since": "2026"}}, "records": tc.records})
			recs, _, err := src.Read(context.Background())
			if err == nil {
				t.Fatalf("read %d records, want an error", len(recs))
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter22") || strings.Contains(err.Error(), "since=") {
				t.Errorf("error %q carries a secret or a query value", err)
			}
		})
	}
}

func TestFetchByID(t *testing.T) {
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		switch r.URL.Path {
		case "/api/orders/7":
			writeJSON(w, 200, map[string]any{"id": 7})
		case "/api/orders/a b":
			writeJSON(w, 200, []any{map[string]any{"id": "a b"}})
		case "/api/orders/flaky":
			if r.URL.Query().Get("try") == "" && srv503(w) {
				return
			}
			writeJSON(w, 200, map[string]any{"id": "flaky"})
		default:
			writeJSON(w, 404, map[string]any{"error": "no such order"})
		}
	})
	settings := map[string]any{"request": get("/orders"), "records": ".[]", "fetch_one": get("/orders/{{entity_id}}")}
	src := mustSource(t, srv.conn(nil), connector.Env{}, settings)
	ctx := context.Background()
	rec, err := src.FetchByID(ctx, "7")
	if err != nil || rec.Data.(map[string]any)["id"] != json.Number("7") {
		t.Fatalf("fetch 7: %+v, %v", rec, err)
	}
	if rec, err := src.FetchByID(ctx, "a b"); err != nil || rec.Data.(map[string]any)["id"] != "a b" {
		t.Fatalf("fetch 'a b' (escaped in the path): %+v, %v", rec, err)
	}
	if _, err := src.FetchByID(ctx, "8"); !errors.Is(err, connector.ErrNotFound) {
		t.Fatalf("fetch 8: %v, want ErrNotFound", err)
	}
	if rec, err := src.FetchByID(ctx, "flaky"); err != nil || rec.Data == nil {
		t.Fatalf("fetch flaky: %v", err)
	}
	noFetch := mustSource(t, srv.conn(nil), connector.Env{}, map[string]any{"request": get("/orders"), "records": ".[]"})
	if _, err := noFetch.FetchByID(ctx, "7"); !errors.Is(err, connector.ErrUnsupported) || !strings.Contains(err.Error(), "fetch_one") {
		t.Fatalf("fetch without fetch_one: %v", err)
	}
}

var flakyOnce = map[string]bool{}

// srv503 answers 503 the first time it is asked.
func srv503(w stdhttp.ResponseWriter) bool {
	if flakyOnce["done"] {
		return false
	}
	flakyOnce["done"] = true
	w.WriteHeader(503)
	return true
}

func TestIncremental(t *testing.T) {
	var sent []string
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		sent = append(sent, r.URL.Query().Get("updated_since"))
		p := intParam(r, "page", 1)
		recs := []any{}
		if p == 1 {
			recs = []any{map[string]any{"id": 1, "updated": "2026-03-02T10:00:00Z", "n": 5}, map[string]any{"id": 2, "updated": "2026-03-09T08:00:00Z", "n": 40}}
		} else if p == 2 {
			recs = []any{map[string]any{"id": 3, "updated": "2026-03-05T00:00:00Z", "n": 9}, map[string]any{"id": 4, "updated": nil, "n": 100}}
		}
		writeJSON(w, 200, recs)
	})
	settings := func(cursor, since string) map[string]any {
		inc := map[string]any{"cursor": cursor, "param": "updated_since"}
		if since != "" {
			inc["since"] = since
		}
		return map[string]any{"request": get("/o"), "records": ".[]", "paginate": map[string]any{"style": "page"}, "incremental": inc}
	}
	src := mustSource(t, srv.conn(nil), connector.Env{}, settings(".updated", ""))
	if _, _, err := readAll(t, src); err != nil {
		t.Fatal(err)
	}
	if v, ok := src.Cursor(); !ok || v != "2026-03-09T08:00:00Z" {
		t.Fatalf("Cursor() = %q, %v", v, ok)
	}
	if sent[0] != "" {
		t.Fatalf("the first run sent updated_since=%q", sent[0])
	}
	sent = nil
	src = mustSource(t, srv.conn(nil), connector.Env{}, settings(".updated", "2026-03-09T08:00:00Z"))
	if _, _, err := readAll(t, src); err != nil {
		t.Fatal(err)
	}
	for _, s := range sent {
		if s != "2026-03-09T08:00:00Z" {
			t.Fatalf("page requests sent updated_since %v", sent)
		}
	}
	t.Run("numbers compare as numbers", func(t *testing.T) {
		src := mustSource(t, srv.conn(nil), connector.Env{}, settings(".n", "7"))
		if _, _, err := readAll(t, src); err != nil {
			t.Fatal(err)
		}
		if v, _ := src.Cursor(); v != "100" {
			t.Fatalf("Cursor() = %q, want 100", v)
		}
	})
	t.Run("no larger value keeps since", func(t *testing.T) {
		src := mustSource(t, srv.conn(nil), connector.Env{}, settings(".n", "1000"))
		if _, _, err := readAll(t, src); err != nil {
			t.Fatal(err)
		}
		if v, _ := src.Cursor(); v != "1000" {
			t.Fatalf("Cursor() = %q, want 1000", v)
		}
	})
	t.Run("the largest value survives a resume", func(t *testing.T) {
		src := mustSource(t, srv.conn(nil), connector.Env{BatchSize: 2}, settings(".n", ""))
		_, pos, err := src.Read(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		again, _ := NewSource(connector.Env{BatchSize: 2}, srv.conn(nil), settings(".n", ""))
		if err := again.Resume(pos); err != nil {
			t.Fatal(err)
		}
		if v, _ := again.Cursor(); v != "40" {
			t.Fatalf("Cursor() after resume = %q, want 40", v)
		}
	})
}

func TestSourceSettings(t *testing.T) {
	conn := Conn{Client: stdhttp.DefaultClient, BaseURL: "http://127.0.0.1:1"}
	cases := []struct {
		name     string
		settings map[string]any
		want     []string
	}{
		{"missing", map[string]any{}, []string{"request: is required", "records: is required"}},
		{"jq syntax", map[string]any{"request": get("/o"), "records": ".orders[", "paginate": map[string]any{"style": "cursor", "param": "c", "next": ".next |"}},
			[]string{"records: jq syntax error", "paginate.next: jq syntax error"}},
		{"style fields", map[string]any{"request": get("/o"), "records": ".[]", "paginate": map[string]any{"style": "cursor"}},
			[]string{"paginate.next: is required", "paginate.param: is required"}},
		{"path", map[string]any{"request": get("orders"), "records": ".[]"}, []string{"request.path: must start with /"}},
		{"fetch_one without id", map[string]any{"request": get("/o"), "records": ".[]", "fetch_one": get("/o/1")}, []string{"fetch_one.path: never uses {{entity_id}}"}},
		{"unknown", map[string]any{"request": get("/o"), "records": ".[]", "pagination": "page"}, []string{"pagination: is not a setting here"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSource(connector.Env{}, conn, tc.settings)
			var ve *connector.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err %v, want a ValidationError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%q does not say %q", err, w)
				}
			}
		})
	}
	if _, err := Bind(Conn{}).NewSource(connector.Env{}, map[string]any{"request": get("/o"), "records": ".[]"}); !errors.Is(err, ErrNoConnection) {
		t.Fatalf("the registered kind built a source: %v", err)
	}
}

func TestNextLink(t *testing.T) {
	cases := map[string]struct {
		in   []string
		want string
	}{
		"github":         {[]string{`<https://api.x/r?page=2>; rel="next", <https://api.x/r?page=5>; rel="last"`}, "https://api.x/r?page=2"},
		"two headers":    {[]string{`</a>; rel=prev`, `</b?x=1,2>; rel=next`}, "/b?x=1,2"},
		"several rels":   {[]string{`</c>; title="a, b"; rel="last next"`}, "/c"},
		"none":           {[]string{`</a>; rel="prev"`}, ""},
		"first rel wins": {[]string{`</d>; rel="prev"; rel="next"`}, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, _ := nextLink(tc.in)
			if got != tc.want {
				t.Fatalf("nextLink = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLinkLeavingTheOrigin(t *testing.T) {
	srv := newServer(t, func(w stdhttp.ResponseWriter, r *stdhttp.Request) {
		w.Header().Set("Link", `<http://169.254.169.254/latest>; rel="next"`)
		writeJSON(w, 200, orders(0, 1))
	})
	src := mustSource(t, srv.conn(nil), connector.Env{}, map[string]any{"request": get("/x"), "records": ".[]", "paginate": map[string]any{"style": "link_header"}})
	if _, _, err := src.Read(context.Background()); err == nil || !strings.Contains(err.Error(), "not to the connection's origin") {
		t.Fatalf("err %v", err)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                              0,
		"12":                            12 * time.Second,
		"Fri, 01 May 2026 12:00:30 GMT": 30 * time.Second,
		"Fri, 01 May 2026 11:00:00 GMT": 0,
		"soon":                          0,
		"99999999":                      maxRetryAfterRead,
		"3600":                          time.Hour,
	}
	for in, want := range cases {
		if got := retryAfter(in, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", in, got, want)
		}
	}
	for n := range 10 {
		if d := backoff(n, time.Second, 30*time.Second, 0); d < 0 || d > 30*time.Second {
			t.Fatalf("backoff(%d) = %v", n, d)
		}
	}
	if d := backoff(0, time.Second, 30*time.Second, time.Minute); d != time.Minute {
		t.Fatalf("a Retry-After longer than the backoff is waited: %v", d)
	}
}
