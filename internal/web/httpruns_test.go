package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// shopAPI is an HTTP API on loopback serving orders in pages
// (?page=N&per_page=M), filtered by ?updated_since, and one order at
// /orders/{id}. It keeps the updated_since of every page request.
type shopAPI struct {
	*httptest.Server
	mu     sync.Mutex
	orders []map[string]any
	since  []string
	// throttled is set once page 2 has been refused with 429.
	throttled bool
}

func newShopAPI(t *testing.T) *shopAPI {
	t.Helper()
	s := &shopAPI{}
	for i, qty := range []any{1, 2, nil, 4, 5} { // order 3 has no quantity
		s.orders = append(s.orders, map[string]any{"id": i + 1, "name": "order " + strconv.Itoa(i+1), "qty": qty,
			"updated": "2026-01-0" + strconv.Itoa(i+1)})
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *shopAPI) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if id, ok := strings.CutPrefix(r.URL.Path, "/v1/orders/"); ok {
		for _, o := range s.orders {
			if strconv.Itoa(o["id"].(int)) == id {
				_ = json.NewEncoder(w).Encode(o)
				return
			}
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error": "no such order"}`))
		return
	}
	if r.URL.Path != "/v1/orders" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	if q.Get("page") == "2" && !s.throttled {
		// The API is busy once: the source waits the second it asks and
		// asks again, losing nothing.
		s.throttled = true
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"error": "slow down"}`))
		return
	}
	since := q.Get("updated_since")
	s.since = append(s.since, since)
	page, _ := strconv.Atoi(q.Get("page"))
	size, _ := strconv.Atoi(q.Get("per_page"))
	if page < 1 || size < 1 {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error": "page and per_page are required"}`))
		return
	}
	match := []map[string]any{}
	for _, o := range s.orders {
		if o["updated"].(string) > since {
			match = append(match, o)
		}
	}
	from := min((page-1)*size, len(match))
	_ = json.NewEncoder(w).Encode(map[string]any{"data": match[from:min(from+size, len(match))]})
}

// TestHTTPRuns runs an http (paginated, incremental) → map → sql upsert
// flow, started by its schedule and answered once with 429, through the
// API against PostgreSQL and MariaDB: the order without
// a quantity is refused by the NOT NULL column and fails alone; a second
// run asks only for what changed since the first; once the order is fixed
// at the source, reprocessing fetches it again by ID and writes it.
func TestHTTPRuns(t *testing.T) {
	for _, tc := range []struct {
		name string
		db   func(*testing.T) *sqlRunDB
	}{{"PostgreSQL", postgresRunDB}, {"MariaDB", mariaRunDB}} {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.db(t)
			ctx := context.Background()
			if _, err := d.db.ExecContext(ctx, d.ddl[1]); err != nil { // dst
				t.Fatal(err)
			}
			api := newShopAPI(t)

			inst, ann := startAdmin(t, loopbackAllowed)
			pid := mustProject(t, ann, "Shop")
			r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "shop", "kind": "http",
				"settings": map[string]any{"base_url": api.URL + "/v1", "rate_limit": 1000, "burst": 10, "concurrency": 2}})
			wantStatus(t, r, http.StatusCreated, "create http connection")
			r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "db", "kind": d.kind, "settings": d.settings})
			wantStatus(t, r, http.StatusCreated, "create database connection")
			pipe := mustPipe(t, ann, pid, "shop → db")
			flow := mustFlow(t, ann, pid, pipe, map[string]any{
				"name":    "orders",
				"trigger": map[string]any{"schedules": []any{map[string]any{"cron": "*/15 * * * *", "timezone": "Europe/Berlin"}}},
				"read": map[string]any{
					"connection":  "shop",
					"request":     map[string]any{"method": "GET", "path": "/orders"},
					"records":     ".data[]",
					"paginate":    map[string]any{"style": "page", "size": 2, "size_param": "per_page"},
					"fetch_one":   map[string]any{"method": "GET", "path": "/orders/{{entity_id}}"},
					"incremental": map[string]any{"cursor": ".updated", "param": "updated_since"},
				},
				"entity_id": ".id",
				"steps": []any{
					map[string]any{"map": "{id, name, qty: (if .qty == null then null else .qty * 10 end)}"},
					map[string]any{"write": map[string]any{"connection": "db", "sql": map[string]any{"table": "dst", "mode": "upsert", "key": []any{"id"}}}},
				},
			})

			// The first run starts on the flow's schedule once the clock
			// passes its next due time (the tick is what the queue's
			// leader runs every few seconds).
			wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", flow, "/enable"), nil), http.StatusOK, "enable the flow")
			sched := flowPath(pid, pipe, "/", flow, "/schedule")
			next, err := time.Parse(time.RFC3339, jsonStr(ann.Do(t, "GET", sched, nil), "schedules", 0, "next_fire_at"))
			if err != nil {
				t.Fatal(err)
			}
			inst.Clock.Advance(next.Sub(inst.Clock.Now()) + time.Second)
			if _, err := inst.App.Scheduler.Tick(ctx); err != nil {
				t.Fatal(err)
			}
			r = ann.Do(t, "GET", sched, nil)
			run := jsonStr(r, "fires", 0, "run_id")
			if run == "" || jsonStr(r, "fires", 0, "outcome") != "started" {
				t.Fatalf("the schedule started no run: %s", r.Body)
			}
			r = waitRun(t, ann, pid, run)
			if r.String("trigger") != "schedule" {
				t.Errorf("first run's trigger %q, want schedule", r.String("trigger"))
			}
			if r.String("status") != "partially_failed" {
				t.Fatalf("run: %s", r.Body)
			}
			if got, want := records(r), map[string]float64{"read": 5, "succeeded": 4, "failed": 1, "skipped": 0}; !equalCounts(got, want) {
				t.Errorf("records %v, want %v", got, want)
			}
			r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
			wantStatus(t, r, http.StatusOK, "failures")
			fs, _ := r.Get("failures").([]any)
			if len(fs) != 1 || fs[0].(map[string]any)["entity_id"] != "3" || fs[0].(map[string]any)["error"] == "" {
				t.Fatalf("failures %s, want entity 3", r.Body)
			}
			wantRows(t, d, []dstRow{{1, 10, "order 1"}, {2, 20, "order 2"}, {4, 40, "order 4"}, {5, 50, "order 5"}})
			api.mu.Lock()
			if len(api.since) != 3 || api.since[0] != "" {
				t.Errorf("first run's page requests sent updated_since %q, want 3 pages without it", api.since)
			}
			api.since = nil
			api.mu.Unlock()

			// The next run asks only for what changed since the first.
			r = waitRun(t, ann, pid, startRun(t, ann, pid, pipe, flow))
			if r.String("status") != "completed" || records(r)["read"] != 0 {
				t.Fatalf("second run: %s", r.Body)
			}
			api.mu.Lock()
			if len(api.since) != 1 || api.since[0] != "2026-01-05" {
				t.Errorf("second run sent updated_since %q, want 2026-01-05", api.since)
			}
			// The order is fixed at the source.
			api.orders[2]["qty"] = 3
			api.mu.Unlock()

			r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/runs/"+run+"/reprocess", nil)
			wantStatus(t, r, http.StatusAccepted, "reprocess")
			r = waitRun(t, ann, pid, r.String("id"))
			if r.String("status") != "completed" || records(r)["succeeded"] != 1 {
				t.Fatalf("reprocess run: %s", r.Body)
			}
			wantRows(t, d, []dstRow{{1, 10, "order 1"}, {2, 20, "order 2"}, {3, 30, "order 3"}, {4, 40, "order 4"}, {5, 50, "order 5"}})
			r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
			if fs, _ := r.Get("failures").([]any); len(fs) != 1 || fs[0].(map[string]any)["reprocessed_by"] == nil {
				t.Errorf("the failure is not marked reprocessed: %s", r.Body)
			}
		})
	}
}

type dstRow struct {
	id, qty int
	name    string
}

func wantRows(t *testing.T, d *sqlRunDB, want []dstRow) {
	t.Helper()
	rows, err := d.db.QueryContext(context.Background(), `SELECT id, name, qty FROM dst ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []dstRow
	for rows.Next() {
		var x dstRow
		if err := rows.Scan(&x.id, &x.name, &x.qty); err != nil {
			t.Fatal(err)
		}
		got = append(got, x)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("target rows %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("target rows %v, want %v", got, want)
		}
	}
}

// TestHTTPWriteRun runs an http read → call → batched http write flow
// through the API: the ERP answers each batch with an array of IDs, which
// a log step keeps per record; the batch holding an order without a
// quantity is refused with 422, and both of its records fail with the
// ERP's message.
func TestHTTPWriteRun(t *testing.T) {
	shop := newShopAPI(t)
	var mu sync.Mutex
	var batches [][]map[string]any
	erp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/erp/customers/") {
			_ = json.NewEncoder(w).Encode(map[string]any{"customer_no": "C-" + strings.TrimPrefix(r.URL.Path, "/erp/customers/")})
			return
		}
		var batch []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&batch); err != nil || r.URL.Path != "/erp/salesorders" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		batches = append(batches, batch)
		mu.Unlock()
		var ids []any
		for _, o := range batch {
			if o["qty"] == nil {
				w.WriteHeader(http.StatusUnprocessableEntity)
				_, _ = w.Write([]byte(`{"error": "qty is required", "api_key": "Echoed-Key-123"}`))
				return
			}
			ids = append(ids, map[string]any{"erp_id": "SO-" + strconv.Itoa(int(o["id"].(float64)))})
		}
		_ = json.NewEncoder(w).Encode(ids)
	}))
	t.Cleanup(erp.Close)

	_, ann := startAdmin(t, loopbackAllowed)
	pid := mustProject(t, ann, "Shop")
	for name, base := range map[string]string{"shop": shop.URL + "/v1", "erp": erp.URL + "/erp"} {
		r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": name, "kind": "http",
			"settings": map[string]any{"base_url": base, "concurrency": 1}})
		wantStatus(t, r, http.StatusCreated, "create connection "+name)
	}
	pipe := mustPipe(t, ann, pid, "shop → erp")
	flow := mustFlow(t, ann, pid, pipe, map[string]any{
		"name": "orders",
		"read": map[string]any{"connection": "shop", "request": map[string]any{"method": "GET", "path": "/orders"}, "records": ".data[]",
			"paginate": map[string]any{"style": "page", "size": 2, "size_param": "per_page"}},
		"entity_id": ".id",
		"steps": []any{
			map[string]any{"call": map[string]any{"connection": "erp", "request": map[string]any{"method": "GET", "path": "/customers/{{.id}}"}, "as": "customer"}},
			map[string]any{"map": "{id, qty, customer_no: .customer.customer_no}"},
			map[string]any{"write": map[string]any{"connection": "erp", "request": map[string]any{"method": "POST", "path": "/salesorders"}, "batch": 2}},
			map[string]any{"log": "{erp_id: .response.erp_id, customer_no}"},
		},
	})
	run := startRun(t, ann, pid, pipe, flow)
	r := waitRun(t, ann, pid, run)
	if r.String("status") != "partially_failed" {
		t.Fatalf("run: %s", r.Body)
	}
	if got, want := records(r), map[string]float64{"read": 5, "succeeded": 3, "failed": 2, "skipped": 0}; !equalCounts(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/failures", nil)
	fs, _ := r.Get("failures").([]any)
	var failed []string
	for _, f := range fs {
		m := f.(map[string]any)
		failed = append(failed, m["entity_id"].(string))
		if e := m["error"].(string); !strings.Contains(e, "422") || !strings.Contains(e, "qty is required") || strings.Contains(e, "Echoed-Key-123") {
			t.Errorf("failure error %q", e)
		}
	}
	if strings.Join(failed, ",") != "3,4" {
		t.Errorf("failed %v, want 3 and 4 (the refused batch)", failed)
	}
	r = ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+run+"/logs", nil)
	var logged []string
	for _, e := range r.Get("logs").([]any) {
		v := e.(map[string]any)["value"].(map[string]any)
		logged = append(logged, v["erp_id"].(string)+"/"+v["customer_no"].(string))
	}
	if strings.Join(logged, " ") != "SO-1/C-1 SO-2/C-2 SO-5/C-5" {
		t.Errorf("logged %v", logged)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(batches) != 3 || len(batches[0]) != 2 || len(batches[2]) != 1 {
		t.Errorf("batches sent %v", batches)
	}
}
