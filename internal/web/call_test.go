package web_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// caller sends dynamic calls as another system does: no cookie, no
// Origin, its own Authorization.
type caller struct {
	inst *apptest.Instance
	c    *apptest.Client
	path string
	auth string
}

func (k *caller) call(t *testing.T, contentType string, body []byte) *apptest.Response {
	t.Helper()
	req, err := http.NewRequest("POST", k.inst.URL+k.path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if k.auth != "" {
		req.Header.Set("Authorization", k.auth)
	}
	return k.c.Send(t, req)
}

func (k *caller) json(t *testing.T, v any) *apptest.Response {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return k.call(t, "application/json", b)
}

// TestDynamicCalls calls a sync and an async flow through
// POST /call/{project}/{flow} with a Basic consumer: the sync flow answers
// with its respond output, rejects a record with 422 and keeps it as a
// failure; the async one answers 202 and runs; refusals say nothing.
func TestDynamicCalls(t *testing.T) {
	eachDialect(t, func(t *testing.T, d store.Dialect) {
		inst, ann := startAdmin(t, apptest.Options{Dialect: d})
		pid := mustProject(t, ann, "Shop")
		pipe := mustPipe(t, ann, pid, "calls")
		syncFlow := mustFlow(t, ann, pid, pipe, map[string]any{
			"name":      "create-order",
			"trigger":   map[string]any{"dynamic": map[string]any{"mode": "sync"}},
			"entity_id": ".order_no",
			"steps": []any{
				map[string]any{"fail": `if (.lines | length) == 0 then "order has no lines" else empty end`},
				map[string]any{"map": "{order_no, qty: (.lines | map(.qty) | add)}"},
				map[string]any{"respond": `{status: "accepted", order_no, qty}`},
			},
		})
		asyncFlow := mustFlow(t, ann, pid, pipe, map[string]any{
			"name":      "note-order",
			"trigger":   map[string]any{"dynamic": map[string]any{"mode": "async"}},
			"entity_id": ".order_no",
			"steps":     []any{map[string]any{"log": "{order_no}"}},
		})
		for _, f := range []string{syncFlow, asyncFlow} {
			wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", f, "/enable"), nil), http.StatusOK, "enable")
		}
		r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "shop", "flows": []string{syncFlow, asyncFlow},
			"auth": map[string]any{"type": "basic"}, "rate_limit": map[string]any{"per_second": 1000, "burst": 1000}})
		wantStatus(t, r, http.StatusCreated, "create consumer")
		user, secret := r.String("auth.username"), r.String("secret")
		basic := "Basic " + basicToken(user, secret)
		k := &caller{inst: inst, c: inst.NewClient(), path: "/call/" + pid + "/" + syncFlow, auth: basic}
		k.c.NoOrigin = true

		// One record: the respond output, and the run it made.
		r = k.json(t, map[string]any{"order_no": "SO-1", "lines": []any{map[string]any{"qty": 2}, map[string]any{"qty": 3}}})
		wantStatus(t, r, http.StatusOK, "sync call")
		if r.String("status") != "accepted" || r.String("order_no") != "SO-1" || r.Get("qty") != float64(5) {
			t.Errorf("sync answer %s", r.Body)
		}
		runID := r.Header.Get("X-Sluice-Run-Id")
		run := ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+runID, nil)
		if run.String("trigger") != "dynamic" || run.String("triggered_by") != "shop" || run.String("status") != "completed" {
			t.Errorf("the call's run: %s", run.Body)
		}

		// An array: one answer per record, in order.
		r = k.json(t, []any{map[string]any{"order_no": "SO-2", "lines": []any{map[string]any{"qty": 1}}},
			map[string]any{"order_no": "SO-3", "lines": []any{map[string]any{"qty": 4}}}})
		wantStatus(t, r, http.StatusOK, "array call")
		var answers []map[string]any
		if err := json.Unmarshal(r.Body, &answers); err != nil || len(answers) != 2 || answers[1]["order_no"] != "SO-3" {
			t.Errorf("array answer %s (%v)", r.Body, err)
		}

		// The flow rejects a record: 422 naming why, and the run keeps
		// its entity ID as a failure.
		r = k.json(t, map[string]any{"order_no": "SO-4", "lines": []any{}})
		wantStatus(t, r, http.StatusUnprocessableEntity, "rejected record")
		if !strings.Contains(string(r.Body), "order has no lines") {
			t.Errorf("rejection %s", r.Body)
		}
		fs := ann.Do(t, "GET", "/api/v1/projects/"+pid+"/runs/"+r.Header.Get("X-Sluice-Run-Id")+"/failures", nil)
		if l, _ := fs.Get("failures").([]any); len(l) != 1 || l[0].(map[string]any)["entity_id"] != "SO-4" {
			t.Errorf("failures of the rejected call: %s", fs.Body)
		}

		// Bad bodies: each a clear 4xx, and no run.
		for _, tc := range []struct {
			name, ct string
			body     []byte
			want     int
		}{
			{"text", "text/plain", []byte(`{"order_no":"x"}`), http.StatusUnsupportedMediaType},
			{"not JSON", "application/json", []byte(`{"order_no":`), http.StatusBadRequest},
			{"a string", "application/json", []byte(`"SO-5"`), http.StatusUnprocessableEntity},
			{"empty array", "application/json", []byte(`[]`), http.StatusUnprocessableEntity},
			{"too deep", "application/json", []byte(strings.Repeat("[", 200) + strings.Repeat("]", 200)), http.StatusBadRequest},
			{"too large", "application/json", append([]byte(`{"pad":"`), append(bytes.Repeat([]byte("x"), 2<<20), '"', '}')...), http.StatusRequestEntityTooLarge},
		} {
			r := k.call(t, tc.ct, tc.body)
			if r.Status != tc.want || r.Header.Get("X-Sluice-Run-Id") != "" {
				t.Errorf("%s: %d %s, want %d and no run", tc.name, r.Status, r.Body, tc.want)
			}
		}

		// Refusals: a wrong secret, no credentials, a user's API key, a
		// flow the consumer may not call: nothing said of why.
		_, key := inst.APIKey(t, ann, 1)
		for _, tc := range []struct {
			name, path, auth string
			want             int
		}{
			{"wrong secret", k.path, "Basic " + basicToken(user, secret+"x"), http.StatusUnauthorized},
			{"no credentials", k.path, "", http.StatusUnauthorized},
			{"a user's API key", k.path, "Bearer " + key, http.StatusUnauthorized},
			{"unknown project", "/call/" + store.NewID() + "/" + syncFlow, basic, http.StatusUnauthorized},
			{"flow not allowed", "/call/" + pid + "/" + store.NewID(), basic, http.StatusForbidden},
		} {
			kk := &caller{inst: inst, c: k.c, path: tc.path, auth: tc.auth}
			r := kk.json(t, map[string]any{"order_no": "SO-6", "lines": []any{map[string]any{"qty": 1}}})
			if r.Status != tc.want || strings.Contains(string(r.Body), secret) || strings.Contains(string(r.Body), "password") {
				t.Errorf("%s: %d %s, want %d", tc.name, r.Status, r.Body, tc.want)
			}
			if tc.want == http.StatusUnauthorized && r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
			}
		}

		// Switching the flow off through the API takes effect on the very
		// next call (the cached flow row is dropped), and back on too.
		wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", syncFlow, "/disable"), nil), http.StatusOK, "disable")
		r = k.json(t, map[string]any{"order_no": "SO-8", "lines": []any{map[string]any{"qty": 1}}})
		if r.Status != http.StatusConflict || r.Header.Get("X-Sluice-Run-Id") != "" {
			t.Errorf("call of a disabled flow: %d %s, want 409 and no run", r.Status, r.Body)
		}
		wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", syncFlow, "/enable"), nil), http.StatusOK, "enable again")
		wantStatus(t, k.json(t, map[string]any{"order_no": "SO-9", "lines": []any{map[string]any{"qty": 1}}}), http.StatusOK, "call after enabling")

		// The async flow: 202 with the run, which then runs.
		ka := &caller{inst: inst, c: k.c, path: "/call/" + pid + "/" + asyncFlow, auth: basic}
		r = ka.json(t, map[string]any{"order_no": "SO-7"})
		wantStatus(t, r, http.StatusAccepted, "async call")
		run = waitRun(t, ann, pid, r.String("run_id"))
		if run.String("status") != "completed" || run.String("trigger") != "dynamic" {
			t.Errorf("async run %s", run.Body)
		}
	})
}

// TestDynamicCallRateLimit: a consumer over its rate gets 429 with
// Retry-After, and no run.
func TestDynamicCallRateLimit(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	pid := mustProject(t, ann, "Shop")
	pipe := mustPipe(t, ann, pid, "calls")
	f := mustFlow(t, ann, pid, pipe, map[string]any{"name": "ping", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}},
		"entity_id": ".id", "steps": []any{map[string]any{"respond": "{pong: .id}"}}})
	wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", f, "/enable"), nil), http.StatusOK, "enable")
	r := ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "slow", "flows": []string{f},
		"auth": map[string]any{"type": "basic"}, "rate_limit": map[string]any{"per_second": 0.001, "burst": 2}})
	wantStatus(t, r, http.StatusCreated, "create consumer")
	k := &caller{inst: inst, c: inst.NewClient(), path: "/call/" + pid + "/" + f, auth: "Basic " + basicToken(r.String("auth.username"), r.String("secret"))}
	k.c.NoOrigin = true
	for i := range 2 {
		wantStatus(t, k.json(t, map[string]any{"id": i}), http.StatusOK, "call within the burst")
	}
	r = k.json(t, map[string]any{"id": 3})
	if r.Status != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || r.Header.Get("X-Sluice-Run-Id") != "" {
		t.Errorf("over the rate: %d %v %s", r.Status, r.Header, r.Body)
	}
}

func basicToken(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))
}

// TestDynamicCallJWTAndHMAC: the same sync flow called with an HS256 JWT
// (minted here with golang-jwt, as a caller's library would) and as a
// Shopify-style signed webhook; a token for another issuer and a body
// changed after signing are refused with 401.
func TestDynamicCallJWTAndHMAC(t *testing.T) {
	inst, ann := startAdmin(t, apptest.Options{})
	pid := mustProject(t, ann, "Shop")
	pipe := mustPipe(t, ann, pid, "calls")
	f := mustFlow(t, ann, pid, pipe, map[string]any{"name": "ping", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}},
		"entity_id": ".id", "steps": []any{map[string]any{"map": "{id, twice: (.n * 2)}"}, map[string]any{"respond": "{id, twice}"}}})
	wantStatus(t, ann.Do(t, "POST", flowPath(pid, pipe, "/", f, "/enable"), nil), http.StatusOK, "enable")
	const jwtSecret = "a-shared-secret-of-more-than-32-bytes!!"
	wantStatus(t, ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "erp", "flows": []string{f},
		"auth": map[string]any{"type": "jwt", "algorithms": []string{"HS256"}, "secret": jwtSecret, "issuer": "erp"}}), http.StatusCreated, "jwt consumer")
	const hookSecret = "shopify-webhook-secret-0123456789"
	wantStatus(t, ann.Do(t, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "shopify", "flows": []string{f},
		"auth": map[string]any{"type": "hmac", "style": "shopify", "secret": hookSecret}}), http.StatusCreated, "hmac consumer")

	mint := func(iss string) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": iss, "iat": time.Now().Unix(),
			"exp": time.Now().Add(5 * time.Minute).Unix()}).SignedString([]byte(jwtSecret))
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	c := inst.NewClient()
	c.NoOrigin = true
	k := &caller{inst: inst, c: c, path: "/call/" + pid + "/" + f, auth: "Bearer " + mint("erp")}
	r := k.json(t, map[string]any{"id": 7, "n": 21})
	wantStatus(t, r, http.StatusOK, "call with a JWT")
	if r.Get("twice") != float64(42) || r.Header.Get("X-Sluice-Run-Id") == "" {
		t.Errorf("JWT call answered %s", r.Body)
	}
	k.auth = "Bearer " + mint("someone-else")
	if r := k.json(t, map[string]any{"id": 8, "n": 1}); r.Status != http.StatusUnauthorized || r.Header.Get("X-Sluice-Run-Id") != "" {
		t.Errorf("token of another issuer: %d %s", r.Status, r.Body)
	}

	body := []byte(`{"id": 9, "n": 5}`)
	sign := func(b []byte) string {
		m := hmac.New(sha256.New, []byte(hookSecret))
		m.Write(b)
		return base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	send := func(b []byte, sig string) *apptest.Response {
		req, err := http.NewRequest("POST", inst.URL+k.path, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Shopify-Hmac-Sha256", sig)
		return c.Send(t, req)
	}
	r = send(body, sign(body))
	wantStatus(t, r, http.StatusOK, "signed webhook")
	if r.Get("twice") != float64(10) {
		t.Errorf("webhook answered %s", r.Body)
	}
	if r := send([]byte(`{"id": 9, "n": 6}`), sign(body)); r.Status != http.StatusUnauthorized {
		t.Errorf("body changed after signing: %d %s", r.Status, r.Body)
	}
}
