// Command flowrun is W1 through Sluice as a real run runs: it opens a
// fresh SQLite store in -data-dir, stores the W1 flow (w1.Flow: NDJSON
// in.ndjson → map → NDJSON out.ndjson under -files-dir) in a project,
// creates a manual run of it, and executes the run with the run worker's
// own code (runs.Service.Execute: the engine, the file source and sink,
// the counters, failures and checkpoint written to the run row every
// second and at the end). It prints records per second, timed around
// Execute, and the run as the store has it afterwards.
//
//	flowrun -files-dir DIR -data-dir DIR [-cpuprofile FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/sluice-dev/sluice/bench/w1"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/store"
)

func main() {
	files := flag.String("files-dir", "", "the files directory holding in.ndjson")
	data := flag.String("data-dir", "", "a new directory for the SQLite store")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	flag.Parse()
	if *files == "" || *data == "" || flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: flowrun -files-dir DIR -data-dir DIR")
		os.Exit(2)
	}
	if err := run(context.Background(), *files, *data, *cpuProfile); err != nil {
		fmt.Fprintln(os.Stderr, "flowrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, filesDir, dataDir, cpuProfile string) error {
	st, err := store.OpenSQLite(ctx, filepath.Join(dataDir, "sluice.db"), store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.Migrate(ctx); err != nil {
		return err
	}
	f, user, err := setup(ctx, st)
	if err != nil {
		return err
	}
	r := &store.Run{ProjectID: f.ProjectID, FlowID: f.ID, PipeID: f.PipeID, Trigger: store.TriggerManual, TriggeredBy: user}
	if err := st.Writer().CreateRun(ctx, r); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := runs.NewService(st, filesDir, log)
	if cpuProfile != "" {
		pf, err := os.Create(cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	if err := svc.Execute(ctx, r.ID); err != nil {
		return fmt.Errorf("execute: %w", err)
	}
	secs := time.Since(start).Seconds()
	got, err := st.Reader().RunByID(ctx, f.ProjectID, r.ID)
	if err != nil {
		return err
	}
	fmt.Printf("flowrun records=%d seconds=%.3f records_per_s=%.0f status=%s read=%d succeeded=%d failed=%d skipped=%d\n",
		got.Succeeded, secs, float64(got.Succeeded)/secs, got.Status, got.Read, got.Succeeded, got.Failed, got.Skipped)
	if got.Status != store.RunCompleted {
		return fmt.Errorf("the run ended %s: %s", got.Status, got.Error)
	}
	return nil
}

// setup stores a user, a project, a pipe and the W1 flow, as the API
// would, and returns the flow and the user's ID.
func setup(ctx context.Context, st *store.Store) (*store.Flow, string, error) {
	w := st.Writer()
	u := &store.User{Email: "bench@example.com", Name: "Bench", PasswordHash: "$argon2id$unused"}
	if err := w.CreateUser(ctx, u); err != nil {
		return nil, "", err
	}
	p := &store.Project{Name: "W1", OwnerID: u.ID, PlanID: "default", Settings: `{"time_zone":"UTC"}`}
	if err := w.CreateProject(ctx, p); err != nil {
		return nil, "", err
	}
	pipe := &store.Pipe{ProjectID: p.ID, Name: "files", ConsoleLog: `{"enabled":false}`}
	if err := w.CreatePipe(ctx, pipe); err != nil {
		return nil, "", err
	}
	c, err := flow.Load([]byte(w1.Flow))
	if err != nil {
		return nil, "", fmt.Errorf("the W1 flow: %w", err)
	}
	def, err := flow.Canonical(c.Flow)
	if err != nil {
		return nil, "", err
	}
	f := &store.Flow{PipeID: pipe.ID, ProjectID: p.ID, Name: "w1", Definition: string(def), CreatedBy: u.ID}
	if err := st.InTx(ctx, func(q *store.Q) error { return q.CreateFlow(ctx, f) }); err != nil {
		return nil, "", err
	}
	if f.ID == "" {
		return nil, "", errors.New("the flow was not stored")
	}
	return f, u.ID, nil
}
