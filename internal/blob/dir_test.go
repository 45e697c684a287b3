package blob

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func newDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestDirContract(t *testing.T) {
	testStore(t, newDir(t))
}

func TestValidKey(t *testing.T) {
	for _, key := range []string{"a", "a/b/c", "logs/2026/01/x.ndjson.gz.enc", "a-b_c.d", ".hidden/x", "a/..b", strings.Repeat("a", MaxKeyLen)} {
		if err := ValidKey(key); err != nil {
			t.Errorf("ValidKey(%q) = %v, want nil", key, err)
		}
	}
	for _, tc := range []struct{ key, says string }{
		{"", "empty"},
		{"/abs", "starts with /"},
		{"a//b", "empty segment"},
		{"a/", "empty segment"},
		{"./a", `"." segment`},
		{"a/../b", `".." segment`},
		{"Upper", `'U'`},
		{"a b", `' '`},
		{"a\\b", `'\\'`},
		{strings.Repeat("a", MaxKeyLen+1), "more than the 512"},
	} {
		err := ValidKey(tc.key)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ValidKey(%.20q) = %v, want an error saying %s", tc.key, err, tc.says)
		}
	}
}

func TestDirModes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "new", "blobs")
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	mustPut(t, d, "a/b/c", []byte("x"))
	for p, want := range map[string]fs.FileMode{root: 0o700 | fs.ModeDir, filepath.Join(root, "a"): 0o700 | fs.ModeDir, filepath.Join(root, "a", "b"): 0o700 | fs.ModeDir, filepath.Join(root, "a", "b", "c"): 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", p, fi.Mode(), want)
		}
	}
	// No temporary file stays behind.
	entries, err := os.ReadDir(filepath.Join(root, "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("a/b holds %d entries, want only the blob", len(entries))
	}
}

// TestDirSymlinks plants links under the root that point out of it: no
// operation may read, write or delete through them.
func TestDirSymlinks(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("outside"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(d.Path(), "out")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(d.Path(), "file")); err != nil {
		t.Fatal(err)
	}

	if _, err := d.Open(ctx, "out/secret"); err == nil {
		t.Error("Open through a directory link out of the root succeeded")
	}
	if _, err := d.Open(ctx, "file"); err == nil {
		t.Error("Open of a file link out of the root succeeded")
	}
	if _, err := d.Put(ctx, "out/new", strings.NewReader("x")); err == nil {
		t.Error("Put through a directory link out of the root succeeded")
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Put wrote outside the root: %v", err)
	}
	_ = d.Delete(ctx, "out/secret")
	if _, err := os.Stat(secret); err != nil {
		t.Errorf("Delete through a link removed a file outside the root: %v", err)
	}
	if got := list(t, d, ""); len(got) != 0 {
		t.Errorf("List followed links: %v", got)
	}
	if got := list(t, d, "out/"); len(got) != 0 {
		t.Errorf("List(out/) followed a link: %v", got)
	}
}

func TestDirNotABlob(t *testing.T) {
	ctx := context.Background()
	d := newDir(t)
	mustPut(t, d, "a/b", []byte("x"))
	// "a" is a directory of keys, "a/b/c" would be under a blob.
	for _, key := range []string{"a", "a/b/c"} {
		if _, err := d.Open(ctx, key); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open(%q) = %v, want ErrNotFound", key, err)
		}
		if err := d.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", key, err)
		}
	}
	mustRead(t, d, "a/b", []byte("x"))
	// A leftover temporary file from a crash is not listed.
	if err := os.WriteFile(filepath.Join(d.Path(), "a", "~b.0123"), []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := list(t, d, ""); len(got) != 1 || got[0] != "a/b" {
		t.Errorf("List = %v, want [a/b]", got)
	}
}

func TestOpenChoosesDir(t *testing.T) {
	root := filepath.Join(t.TempDir(), "blobs")
	s, err := Open(context.Background(), Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	d, ok := s.(*Dir)
	if !ok {
		t.Fatalf("Open without a bucket = %T, want *Dir", s)
	}
	d.Close()
	if _, err := Open(context.Background(), Options{}); err == nil {
		t.Error("Open with nothing configured succeeded")
	}
}
