package console

import (
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/internal/secrets"
)

// rotatingStatus is a keyring halfway through its rotation to term 3:
// connections started (3 of its 6 rows re-sealed), users not reached yet
// (3 rows under term 2 and a legacy one to re-seal), so 3 of 10.
func rotatingStatus() *secrets.Status {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	done := t0.Add(time.Hour)
	return &secrets.Status{
		CurrentTerm: 3,
		Terms: []secrets.TermStatus{{Term: 1, CreatedAt: t0}, {Term: 2, CreatedAt: t0.Add(time.Minute)},
			{Term: 3, CreatedAt: t0.Add(2 * time.Hour)}},
		Rotations: []secrets.RotationStatus{
			{Term: 2, StartedAt: t0.Add(time.Minute), FinishedAt: &done, Tables: map[string]secrets.TableProgress{
				"connections": {Total: 5, Done: 4, Failed: 1, Started: true, Finished: true, Pass: 1},
				"users":       {Total: 2, Done: 2, Started: true, Finished: true, Pass: 1},
			}},
			{Term: 3, StartedAt: t0.Add(2 * time.Hour), Tables: map[string]secrets.TableProgress{
				"connections": {Total: 6, Done: 3, Started: true, Pass: 1, After: "c3"},
			}},
		},
		Secrets: []secrets.TableSecrets{
			{Table: "connections", ByTerm: map[int]int{3: 3, 2: 3}},
			{Table: "users", ByTerm: map[int]int{2: 3, 0: 1}},
		},
	}
}

func TestKeysView(t *testing.T) {
	for _, tc := range []struct {
		name string
		st   *secrets.Status
		want func(t *testing.T, d keysData)
	}{
		{"rotation in progress", rotatingStatus(), func(t *testing.T, d keysData) {
			if !d.Running || d.CurrentTerm != 3 || d.Unsealed != 1 {
				t.Errorf("running %v, current term %d, unsealed %d; want true, 3, 1", d.Running, d.CurrentTerm, d.Unsealed)
			}
			if len(d.Terms) != 3 || d.Terms[0].Term != 3 || !d.Terms[0].Current || d.Terms[0].Sealed != 3 ||
				d.Terms[1].Sealed != 6 || d.Terms[1].Tables != "connections 3, users 3" || d.Terms[2].Sealed != 0 {
				t.Errorf("terms %+v", d.Terms)
			}
			if len(d.Rotations) != 2 {
				t.Fatalf("rotations %+v", d.Rotations)
			}
			if r := d.Rotations[0]; r.Term != 3 || r.Done != 3 || r.Total != 10 || r.State != "running" {
				t.Errorf("running rotation %+v, want term 3, 3 of 10, running", r)
			}
			if r := d.Rotations[1]; r.Term != 2 || r.Done != 6 || r.Total != 7 || r.Failed != 1 || r.State != "finished" {
				t.Errorf("finished rotation %+v, want term 2, 6 of 7, 1 failed, finished", r)
			}
		}},
		{"queued, nothing taken yet", &secrets.Status{CurrentTerm: 2,
			Terms:     []secrets.TermStatus{{Term: 1}, {Term: 2}},
			Rotations: []secrets.RotationStatus{{Term: 2, Tables: map[string]secrets.TableProgress{}}},
			Secrets:   []secrets.TableSecrets{{Table: "connections", ByTerm: map[int]int{1: 2}}}},
			func(t *testing.T, d keysData) {
				if r := d.Rotations[0]; r.Done != 0 || r.Total != 2 || r.State != "queued" || !d.Running {
					t.Errorf("queued rotation %+v (running %v), want 0 of 2, queued", r, d.Running)
				}
			}},
		{"fresh keyring", &secrets.Status{CurrentTerm: 1, Terms: []secrets.TermStatus{{Term: 1}},
			Rotations: []secrets.RotationStatus{}, Secrets: []secrets.TableSecrets{{Table: "users", ByTerm: map[int]int{}}}},
			func(t *testing.T, d keysData) {
				if d.Running || len(d.Rotations) != 0 || len(d.Terms) != 1 || d.Terms[0].Sealed != 0 {
					t.Errorf("fresh keyring %+v", d)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.want(t, keysView(tc.st)) })
	}
}

// TestKeysPageShowsProgress renders the page of a rotation 3 of 10 of the
// way: a progress bar with its text, and the page reloading itself.
func TestKeysPageShowsProgress(t *testing.T) {
	c := New(nil, false, time.Hour)
	render := func(st *secrets.Status) string {
		t.Helper()
		d := keysView(st)
		var b strings.Builder
		if err := c.tmpl.ExecuteTemplate(&b, "keys.html", page{Title: "Encryption keys", Data: d, Refresh: d.Running}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	html := render(rotatingStatus())
	for _, want := range []string{
		`<progress id="rotation-3-progress" value="3" max="10">3 of 10</progress>`,
		`<label for="rotation-3-progress" class="rotation-progress">Re-sealed under term 3`,
		`<p id="rotation-3-text">3 of 10 re-sealed.</p>`,
		`id="rotation-3-state">running</span>`,
		`<meta http-equiv="refresh" content="5" id="refresh">`,
		`id="keys-live"`,
		`<p id="rotation-2-text">6 of 7 re-sealed.</p>`,
		`id="rotation-2-failed"`,
		`<span id="term-2-sealed">6</span> <span class="hint">(connections 3, users 3)</span>`,
		`id="unsealed">1 stored items`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q:\n%s", want, html)
		}
	}
	// Once finished, the page stops reloading.
	st := rotatingStatus()
	fin := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	st.Rotations[1].FinishedAt = &fin
	html = render(st)
	if strings.Contains(html, `http-equiv="refresh"`) || strings.Contains(html, `id="keys-live"`) {
		t.Errorf("a finished rotation's page still reloads itself")
	}
	if !strings.Contains(html, `id="rotation-3-state">finished</span>`) {
		t.Errorf("the finished rotation is not shown finished")
	}
}
