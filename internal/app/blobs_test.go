package app_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/blob"
	"github.com/sluice-dev/sluice/internal/config"
)

// TestBlobsDirByDefault: with no --s3-bucket, console logs go to
// DATA_DIR/blobs, created with mode 0700.
func TestBlobsDirByDefault(t *testing.T) {
	base := t.TempDir()
	c, _, err := config.Parse("serve", config.DB|config.Server|config.Worker|config.Keys, []string{"--data-dir", filepath.Join(base, "data")}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), c, slog.New(slog.NewTextHandler(io.Discard, nil)), false, app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	d, ok := a.Blobs.(*blob.Dir)
	if !ok {
		t.Fatalf("Blobs is %T, want *blob.Dir", a.Blobs)
	}
	want := filepath.Join(base, "data", "blobs")
	if d.Path() != want {
		t.Errorf("blob dir %s, want %s", d.Path(), want)
	}
	fi, err := os.Stat(want)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Fatalf("blob directory mode %v, want a directory with 0700", fi.Mode())
	}
}

// TestBlobsUnreachableBucket: a configured bucket that cannot be reached
// stops start-up with an error naming it, not the first console log.
func TestBlobsUnreachableBucket(t *testing.T) {
	env := map[string]string{"SLUICE_S3_ACCESS_KEY_ID": "id", "SLUICE_S3_SECRET_ACCESS_KEY": "secret-never-shown"}
	// Port 1 on loopback: nothing listens, the connection is refused.
	c, _, err := config.Parse("serve", config.DB|config.Server|config.Worker|config.Keys,
		[]string{"--data-dir", t.TempDir(), "--s3-endpoint", "http://127.0.0.1:1", "--s3-bucket", "logs", "--s3-path-style"}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, err = app.OpenBlobs(ctx, c)
	if err == nil || !strings.Contains(err.Error(), `"logs"`) {
		t.Fatalf("OpenBlobs = %v, want an error naming the bucket", err)
	}
	if strings.Contains(err.Error(), "secret-never-shown") {
		t.Errorf("the error shows the secret: %v", err)
	}
}
