package web_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/app/apptest"
)

// BenchmarkDynamicCall is W2 in process (bench/w2/run.sh is the whole
// figure, against a bare handler under wrk): POST /call with an HS256 JWT
// to a sync flow that maps and responds, every call a run recorded in
// SQLite, from parallel keep-alive clients. Profile it with
//
//	go test ./internal/web -run '^$' -bench DynamicCall -cpuprofile cpu.out
func BenchmarkDynamicCall(b *testing.B) {
	inst := apptest.Start(b, apptest.Options{RealClock: true, Args: []string{"--log-level", "info"}})
	ann := inst.Setup(b, adminEmail, adminPW)
	must := func(r *apptest.Response, status int, what string) *apptest.Response {
		if r.Status != status {
			b.Fatalf("%s: %d %s", what, r.Status, r.Body)
		}
		return r
	}
	pid := must(ann.Do(b, "POST", "/api/v1/projects", map[string]any{"name": "W2"}), http.StatusCreated, "project").String("id")
	pipe := must(ann.Do(b, "POST", pipePath(pid), map[string]any{"name": "calls"}), http.StatusCreated, "pipe").String("id")
	f := must(ann.Do(b, "POST", flowPath(pid, pipe), map[string]any{"definition": map[string]any{
		"name": "create-order", "trigger": map[string]any{"dynamic": map[string]any{"mode": "sync"}}, "entity_id": ".order_no",
		"steps": []any{map[string]any{"map": "{order_no, qty: (.lines | map(.qty) | add)}"},
			map[string]any{"respond": `{status: "accepted", order_no, qty}`}}}}), http.StatusCreated, "flow").String("id")
	must(ann.Do(b, "POST", flowPath(pid, pipe, "/", f, "/enable"), nil), http.StatusOK, "enable")
	const secret = "w2-benchmark-secret-of-at-least-32-bytes"
	must(ann.Do(b, "POST", "/api/v1/projects/"+pid+"/consumers", map[string]any{"name": "w2", "flows": []string{f},
		"rate_limit": map[string]any{"per_second": 100000, "burst": 100000},
		"auth":       map[string]any{"type": "jwt", "algorithms": []string{"HS256"}, "secret": secret}}), http.StatusCreated, "consumer")
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(secret))
	if err != nil {
		b.Fatal(err)
	}
	url := inst.URL + "/call/" + pid + "/" + f
	body := []byte(`{"order_no":"SO-1001","customer":"C-77","lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":4}]}`)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
}
