package console_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/store"
)

// BenchmarkDashboard is one GET of a project's dashboard by a logged-in
// user (session cookie), through the whole server on loopback, with 0 and
// 1000 finished runs of the last day in the project (one in five with
// failed records). One op is one page; allocations count the client's
// and the server's, which share the process. bench/console/run.sh
// measures the same page under wrk against a static file
// (bench/README.md, "Console pages"); profile it with
//
//	go test -run '^$' -bench Dashboard -cpuprofile cpu.out ./internal/web/console/
func BenchmarkDashboard(b *testing.B) {
	for _, runs := range []int{0, 1000} {
		b.Run(fmt.Sprintf("runs=%d", runs), func(b *testing.B) {
			inst := apptest.Start(b, apptest.Options{NoWorker: true})
			c := inst.Setup(b, "bench@example.com", "correct horse battery staple")
			pid, pipe := benchProject(b, c)
			benchRuns(b, inst, pid, pipe, runs)

			path := "/projects/" + pid
			r := c.Do(b, "GET", path, nil)
			if r.Status != http.StatusOK {
				b.Fatalf("GET %s: %d %.200s", path, r.Status, r.Body)
			}
			if want := fmt.Sprintf(`id="run-count">%d<`, runs); !strings.Contains(string(r.Body), want) {
				b.Fatalf("GET %s does not count the %d runs (want %s)", path, runs, want)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if r := c.Do(b, "GET", path, nil); r.Status != http.StatusOK {
					b.Fatalf("GET %s: %d", path, r.Status)
				}
			}
		})
	}
}

// benchProject creates a project with one pipe and one flow (goodFlow)
// through the API.
func benchProject(b *testing.B, c *apptest.Client) (pid, pipe string) {
	b.Helper()
	r := c.Do(b, "POST", "/api/v1/projects", map[string]any{"name": "Shop"})
	if r.Status != http.StatusCreated {
		b.Fatalf("create project: %d %s", r.Status, r.Body)
	}
	pid = r.String("id")
	r = c.Do(b, "POST", "/api/v1/projects/"+pid+"/pipes", map[string]any{"name": "orders"})
	if r.Status != http.StatusCreated {
		b.Fatalf("create pipe: %d %s", r.Status, r.Body)
	}
	pipe = r.String("id")
	r = c.Do(b, "POST", "/api/v1/projects/"+pid+"/pipes/"+pipe+"/flows", map[string]any{"definition": goodFlow})
	if r.Status != http.StatusCreated {
		b.Fatalf("create flow: %d %s", r.Status, r.Body)
	}
	return pid, pipe
}

// benchRuns inserts n finished runs of the project's flow through the
// store, as the runs journal writes them: ten records each, and every
// fifth run with two failed.
func benchRuns(b *testing.B, inst *apptest.Instance, pid, pipe string, n int) {
	b.Helper()
	if n == 0 {
		return
	}
	ctx := context.Background()
	st := inst.App.Store
	flows, err := st.Reader().ListFlows(ctx, pid, pipe)
	if err != nil || len(flows) != 1 {
		b.Fatalf("the pipe's flows: %v (%d)", err, len(flows))
	}
	rs := make([]*store.Run, n)
	for i := range rs {
		now := st.Now()
		run := &store.Run{ProjectID: pid, FlowID: flows[0].ID, PipeID: pipe, Trigger: store.TriggerManual, TriggeredBy: "bench",
			Status: store.RunCompleted, StartedAt: &now, FinishedAt: &now, Read: 10, Succeeded: 10}
		if i%5 == 0 {
			run.Status, run.Succeeded, run.Failed = store.RunPartiallyFailed, 8, 2
		}
		rs[i] = run
	}
	if err := st.InTx(ctx, func(q *store.Q) error { return q.InsertRuns(ctx, rs) }); err != nil {
		b.Fatal(err)
	}
}
