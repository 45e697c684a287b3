package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// TestConsoleLogs is issue 7's journey for a user debugging a pipe: turn
// the console log on, run a flow, download the log through a link, see
// the link stop working after five minutes, delete the log, turn capture
// off, and see it switch itself off. What the log keeps is redacted:
// secret headers, parameters and fields, and the pipe's sensitive paths;
// on disk the log is sealed.
func TestConsoleLogs(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		const (
			canaryEmail = "CNRY-EMAIL-7f3a9c@example.com"
			canaryPass  = "CNRY-PASS-51be02"
			canaryKey   = "CNRY-KEY-0d9e44"
			canaryHdr   = "CNRY-HDR-a81c5d"
			// canaryName is kept by the log (not sensitive): only sealed
			// may it reach the disk.
			canaryName = "CNRY-NAME-e6b217"
		)
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Set-Cookie", "sid=CNRY-COOKIE-1; HttpOnly")
			_ = json.NewEncoder(w).Encode(map[string]any{"data": []any{
				map[string]any{"id": 1, "qty": 2, "password": canaryPass, "customer": map[string]any{"email": canaryEmail, "name": canaryName}},
				map[string]any{"id": 2, "qty": 5, "password": canaryPass, "customer": map[string]any{"email": canaryEmail, "name": "Bob"}},
			}})
		}))
		t.Cleanup(api.Close)

		inst, ann := startAdmin(t, apptest.Options{Dialect: d, Args: []string{"--egress-allow", "127.0.0.0/8"}})
		pid := mustProject(t, ann, "Shop")
		wantStatus(t, ann.Do(t, "POST", "/api/v1/projects/"+pid+"/connections", map[string]any{"name": "shop", "kind": "http",
			"settings": map[string]any{"base_url": api.URL + "/v1", "headers": map[string]any{"X-Tenant": "acme", "Accept": "application/json"}},
			"auth":     map[string]any{"type": "api_key", "in": "header", "name": "X-Api-Key", "api_key": canaryHdr}}),
			http.StatusCreated, "connection")
		pipe := mustPipe(t, ann, pid, "debug me")
		flow := mustFlow(t, ann, pid, pipe, map[string]any{
			"name": "orders",
			"read": map[string]any{"connection": "shop", "request": map[string]any{"method": "GET", "path": "/orders",
				"query": map[string]any{"api_key": canaryKey, "status": "open"}}, "records": ".data[]"},
			"entity_id": ".id",
			"steps":     []any{map[string]any{"map": "{id, qty, customer}"}},
		})
		run := func() string {
			t.Helper()
			id := startRun(t, ann, pid, pipe, flow)
			if r := waitRun(t, ann, pid, id); r.String("status") != "completed" {
				t.Fatalf("run %s", r.Body)
			}
			return id
		}
		logsOf := func(runID string) []any {
			t.Helper()
			r := ann.Do(t, "GET", "/api/v1/projects/"+pid+"/console-logs?run="+runID, nil)
			wantStatus(t, r, http.StatusOK, "list console logs")
			l, _ := r.Get("console_logs").([]any)
			return l
		}

		// Off (the default): a run keeps no console log.
		if l := logsOf(run()); len(l) != 0 {
			t.Fatalf("console logs of a run with capture off: %v", l)
		}

		// On, capturing everything, with a sensitive path.
		r := ann.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"console_log": map[string]any{"enabled": true,
			"capture": []string{"method_url", "headers", "params", "request", "response", "records"}, "sensitive": []string{"customer.email"}, "auto_off_hours": 1}})
		wantStatus(t, r, http.StatusOK, "turn the console log on")
		if r.Get("console_log.until") == nil {
			t.Errorf("no switch-off time: %s", r.Body)
		}
		runID := run()
		ls := logsOf(runID)
		if len(ls) != 1 {
			t.Fatalf("console logs of the run: %v", ls)
		}
		logID := ls[0].(map[string]any)["id"].(string)

		// The download link works for five minutes.
		r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/console-logs/"+logID+"/link", nil)
		wantStatus(t, r, http.StatusCreated, "link")
		link := r.String("url")
		if exp, err := time.Parse(time.RFC3339, r.String("expires_at")); err != nil || exp.Sub(inst.Clock.Now()) > 5*time.Minute {
			t.Errorf("link expires at %q", r.String("expires_at"))
		}
		c := inst.NewClient() // no session: the link is the credential
		dl := c.Raw(t, "GET", strings.TrimPrefix(link, inst.URL), "", nil)
		wantStatus(t, dl, http.StatusOK, "download")
		lines := gunzipLines(t, dl.Body)
		text := strings.Join(lines, "\n")
		for _, canary := range []string{canaryEmail, canaryPass, canaryKey, canaryHdr, "CNRY-COOKIE-1"} {
			if strings.Contains(text, canary) {
				t.Errorf("the console log keeps %q in clear:\n%s", canary, text)
			}
		}
		var http1, records int
		for _, l := range lines {
			var e map[string]any
			if err := json.Unmarshal([]byte(l), &e); err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			switch e["kind"] {
			case "http":
				http1++
				params, _ := e["params"].(map[string]any)
				hdrs, _ := e["request_headers"].(map[string]any)
				resp, _ := e["response_headers"].(map[string]any)
				if e["method"] != "GET" || !strings.HasSuffix(e["url"].(string), "/v1/orders") || params["api_key"] != "[REDACTED]" ||
					params["status"] != "open" || hdrs["X-Tenant"] != "acme" || resp["Set-Cookie"] != "[REDACTED]" || e["status"] != float64(200) {
					t.Errorf("http entry %s", l)
				}
			case "record":
				records++
				rec, _ := e["record"].(map[string]any)
				cust, _ := rec["customer"].(map[string]any)
				if cust["email"] != "[REDACTED]" || cust["name"] == nil {
					t.Errorf("record entry %s", l)
				}
				if p, ok := rec["password"]; ok && p != "[REDACTED]" {
					t.Errorf("record entry %s", l)
				}
			}
		}
		if !strings.Contains(text, canaryName) {
			t.Errorf("the log lost a value it keeps:\n%s", text)
		}
		if http1 != 1 || records != 4 {
			t.Errorf("%d http and %d record entries, want 1 and 4 (2 records, as read and after map):\n%s", http1, records, text)
		}

		// A sync dynamic call of a flow of the pipe is captured too.
		callFlow := mustFlow(t, ann, pid, pipe, map[string]any{"name": "take-order", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}},
			"entity_id": ".id", "steps": []any{map[string]any{"map": "{id, customer}"}, map[string]any{"respond": "{accepted: .id}"}}})
		wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", callFlow, "/enable"), nil), http.StatusOK, "enable the dynamic flow")
		cr := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "shop", "flows": []string{callFlow}, "auth": map[string]any{"type": "basic"}})
		wantStatus(t, cr, http.StatusCreated, "consumer")
		k := &caller{inst: inst, c: inst.NewClient(), path: "/call/" + pid + "/" + callFlow, auth: "Basic " + basicToken(cr.String("auth.username"), cr.String("secret"))}
		k.c.NoOrigin = true
		called := k.json(t, map[string]any{"id": 9, "customer": map[string]any{"email": canaryEmail}})
		wantStatus(t, called, http.StatusOK, "call")
		if l := logsOf(called.Header.Get("X-Sluice-Run-Id")); len(l) != 1 {
			t.Errorf("console logs of the call's run: %v", l)
		} else {
			lr := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/console-logs/"+l[0].(map[string]any)["id"].(string)+"/link", nil)
			wantStatus(t, lr, http.StatusCreated, "link of the call's log")
			body := strings.Join(gunzipLines(t, c.Raw(t, "GET", strings.TrimPrefix(lr.String("url"), inst.URL), "", nil).Body), "\n")
			if strings.Contains(body, canaryEmail) || !strings.Contains(body, `"entity_id":"9"`) {
				t.Errorf("the call's console log: %s", body)
			}
		}

		// A changed signature, expiry, log or user: 403; six minutes on: 410.
		tok := strings.TrimPrefix(link, inst.URL+"/downloads/")
		parts := strings.Split(tok, ".")
		for name, bad := range map[string]string{
			"signature": strings.Join([]string{parts[0], parts[1], parts[2], strings.Repeat("0", len(parts[3]))}, "."),
			"expiry":    strings.Join([]string{parts[0], parts[1], "9999999999", parts[3]}, "."),
			"log":       strings.Join([]string{store.NewID(), parts[1], parts[2], parts[3]}, "."),
			"user":      strings.Join([]string{parts[0], store.NewID(), parts[2], parts[3]}, "."),
			"garbage":   "not-a-token",
		} {
			if r := c.Raw(t, "GET", "/downloads/"+bad, "", nil); r.Status != http.StatusForbidden || strings.Contains(string(r.Body), logID) {
				t.Errorf("link with a changed %s: %d %s", name, r.Status, r.Body)
			}
		}
		inst.Clock.Advance(6 * time.Minute)
		if r := c.Raw(t, "GET", "/downloads/"+tok, "", nil); r.Status != http.StatusGone {
			t.Errorf("link six minutes later: %d %s", r.Status, r.Body)
		}

		// Delete: the blob and the row go; a fresh link of it is 404 and
		// an older one 410.
		r = ann.Do(t, "POST", "/api/v1/projects/"+pid+"/console-logs/"+logID+"/link", nil)
		wantStatus(t, r, http.StatusCreated, "a second link")
		second := strings.TrimPrefix(r.String("url"), inst.URL)
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/projects/"+pid+"/console-logs/"+logID, nil), http.StatusNoContent, "delete the log")
		if r := c.Raw(t, "GET", second, "", nil); r.Status != http.StatusGone {
			t.Errorf("link of a deleted log: %d %s", r.Status, r.Body)
		}
		wantStatus(t, ann.Do(t, "POST", "/api/v1/projects/"+pid+"/console-logs/"+logID+"/link", nil), http.StatusNotFound, "link of a deleted log")
		if d == store.SQLite {
			blobs := filepath.Join(filepath.Dir(inst.Where), "blobs")
			filepath.Walk(blobs, func(p string, info os.FileInfo, err error) error {
				if err == nil && !info.IsDir() && strings.Contains(p, logID) {
					t.Errorf("the deleted log's blob is still there: %s", p)
				}
				return nil
			})
		}
		// Issuing links and deleting are in the activity log.
		a := ann.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)
		if !strings.Contains(string(a.Body), "console_log.link") || !strings.Contains(string(a.Body), "console_log.delete") {
			t.Errorf("activity log %s", a.Body)
		}

		// Deleting all logs of the pipe (the call's is one).
		wantStatus(t, ann.Do(t, "DELETE", "/api/v1/projects/"+pid+"/console-logs?pipe=NOPE", nil), http.StatusNotFound, "logs of an unknown pipe")
		if r := ann.Do(t, "DELETE", "/api/v1/projects/"+pid+"/console-logs?pipe="+pipe, nil); r.Status != http.StatusOK || r.Get("deleted") != float64(1) {
			t.Errorf("delete the pipe's logs: %d %s", r.Status, r.Body)
		}

		// Off again: capture stops at once.
		wantStatus(t, ann.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"console_log": map[string]any{"enabled": false}}), http.StatusOK, "turn off")
		if l := logsOf(run()); len(l) != 0 {
			t.Errorf("console logs after turning capture off: %v", l)
		}

		// On for an hour: past it, the pipe reads off and runs keep none.
		wantStatus(t, ann.Do(t, "PATCH", pipePath(pid, "/", pipe), map[string]any{"console_log": map[string]any{"enabled": true}}), http.StatusOK, "on again")
		if l := logsOf(run()); len(l) != 1 {
			t.Errorf("console logs with capture on again: %v", l)
		}
		inst.Clock.Advance(61 * time.Minute)
		if r := ann.Do(t, "GET", pipePath(pid, "/", pipe), nil); r.Get("console_log.enabled") != false {
			t.Errorf("pipe an hour later: %s", r.Body)
		}
		if l := logsOf(run()); len(l) != 0 {
			t.Errorf("console logs past the automatic switch-off: %v", l)
		}

		// Sealed at rest: with logs still kept (the call's, the one before
		// the switch-off), no record value, header secret or cookie is in
		// clear in the data directory (the database file, and the blob
		// store, a directory there by default), in the PostgreSQL dump, or
		// in any log line. (The api_key is in the flow's definition: the
		// user's configuration, not data that flowed.)
		canaries := []string{canaryEmail, canaryPass, canaryHdr, "CNRY-COOKIE-1", canaryName}
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
		scanDir(t, inst.App.Config.DataDir, canaries...)
		logText := inst.Logs.String() + inst.Out.String()
		for _, c := range canaries {
			if strings.Contains(logText, c) {
				t.Errorf("the log holds %q", c)
			}
		}
		if d == store.Postgres {
			out, err := exec.Command("pg_dump", "--data-only", "--no-owner", inst.Where).Output()
			if err != nil {
				t.Fatalf("pg_dump: %v", err)
			}
			if !bytes.Contains(out, []byte("console_logs")) {
				t.Fatalf("the dump has no console_logs table: %.300s", out)
			}
			for _, c := range canaries {
				if bytes.Contains(out, []byte(c)) {
					t.Errorf("the PostgreSQL dump holds %q", c)
				}
			}
		}
	})
}

func gunzipLines(t *testing.T, b []byte) []string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the download is not gzip: %v", err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// scanDir fails when any file under dir holds one of the canaries in
// clear.
func scanDir(t *testing.T, dir string, canaries ...string) {
	t.Helper()
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("%s holds %q in clear", p, c)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
