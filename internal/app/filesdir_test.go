package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/config"
)

// TestFilesDirCreated: start-up creates the files directory (DESIGN §7,
// --files-dir) with mode 0700, by default "files" in the data directory.
func TestFilesDirCreated(t *testing.T) {
	for _, tc := range []struct {
		name string
		args func(base string) []string
		want func(base string) string
	}{
		{"default", func(base string) []string { return []string{"--data-dir", filepath.Join(base, "data")} },
			func(base string) string { return filepath.Join(base, "data", "files") }},
		{"flag", func(base string) []string {
			return []string{"--data-dir", filepath.Join(base, "data"), "--files-dir", filepath.Join(base, "exchange", "files")}
		}, func(base string) string { return filepath.Join(base, "exchange", "files") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			c, _, err := config.Parse("serve", config.DB|config.Server|config.Worker|config.Keys, tc.args(base), func(string) string { return "" })
			if err != nil {
				t.Fatal(err)
			}
			a, err := app.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), false, app.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer a.Close()
			fi, err := os.Stat(tc.want(base))
			if err != nil {
				t.Fatal(err)
			}
			if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
				t.Fatalf("files directory mode %v, want a directory with 0700", fi.Mode())
			}
		})
	}
}
