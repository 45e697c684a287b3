package app_test

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/config"
)

// TestPlanRetentionAppliedAtStart: --plan-retention sets plans' days when
// the app starts; a plan that does not exist stops start-up naming the
// flag and the plans there are, and changes none.
func TestPlanRetentionAppliedAtStart(t *testing.T) {
	ctx := context.Background()
	base := t.TempDir()
	start := func(retention string) (*app.App, error) {
		c, _, err := config.Parse("serve", config.DB|config.Server|config.Worker|config.Keys,
			[]string{"--data-dir", filepath.Join(base, "data"), "--plan-retention", retention}, func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		return app.New(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), false, app.Options{})
	}
	a, err := start("free=5/2/60,enterprise=120/45/1000")
	if err != nil {
		t.Fatal(err)
	}
	days := func(a *app.App, id string) [3]int {
		p, err := a.Store.Reader().PlanByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return [3]int{p.RunLogRetentionDays, p.ConsoleLogRetentionDays, p.AuditRetentionDays}
	}
	for id, want := range map[string][3]int{"free": {5, 2, 60}, "enterprise": {120, 45, 1000}, "standard": {30, 7, 365}, "default": {30, 7, 365}} {
		if got := days(a, id); got != want {
			t.Errorf("plan %s: %v, want %v", id, got, want)
		}
	}
	a.Close()

	_, err = start("standard=1/1/1,platinum=9/9/9")
	if err == nil || !strings.Contains(err.Error(), `--plan-retention: there is no plan "platinum"`) || !strings.Contains(err.Error(), "default, enterprise, free, standard") {
		t.Fatalf("unknown plan: %v", err)
	}
	a, err = start("")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if got := days(a, "standard"); got != [3]int{30, 7, 365} {
		t.Fatalf("the refused start changed standard to %v", got)
	}
	if got := days(a, "free"); got != [3]int{5, 2, 60} {
		t.Fatalf("free %v: an empty --plan-retention changes nothing", got)
	}
}
