package blob

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

var _ Store = (*Dir)(nil)

// Dir keeps blobs as files under a root directory, one subdirectory per
// key segment (directories 0700, files 0600). Every path is resolved
// through an os.Root, so a symbolic link planted under the root cannot
// lead a read, write or delete outside it.
type Dir struct {
	path string
	root *os.Root
}

// NewDir opens the directory store at root, creating root with mode 0700
// when it does not exist. Close releases it.
func NewDir(root string) (*Dir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob dir %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("blob dir: create %s: %w", abs, err)
	}
	r, err := os.OpenRoot(abs)
	if err != nil {
		return nil, fmt.Errorf("blob dir: open %s: %w", abs, err)
	}
	return &Dir{path: abs, root: r}, nil
}

// Path is the absolute root directory.
func (d *Dir) Path() string { return d.path }

// Close releases the root directory. Further calls fail.
func (d *Dir) Close() error {
	if err := d.root.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		return err
	}
	return nil
}

// Put writes r to a temporary file beside the blob, syncs it and renames
// it over the key, so a reader sees the old blob or the new one whole.
// Temporary names start with "~", which no key can, so List skips them
// and a crash leaves nothing that looks like a blob.
func (d *Dir) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := ValidKey(key); err != nil {
		return 0, err
	}
	dir := path.Dir(key)
	if dir != "." {
		if err := d.root.MkdirAll(dir, 0o700); err != nil {
			return 0, fmt.Errorf("blob dir: put %q: create directory: %w", key, d.rel(err))
		}
	}
	var rnd [8]byte
	_, _ = rand.Read(rnd[:])
	tmp := path.Join(dir, "~"+path.Base(key)+"."+hex.EncodeToString(rnd[:]))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, fmt.Errorf("blob dir: put %q: %w", key, d.rel(err))
	}
	n, err := io.Copy(f, ctxReader{ctx, r})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = d.root.Rename(tmp, key)
	}
	if err != nil {
		_ = d.root.Remove(tmp)
		return 0, fmt.Errorf("blob dir: put %q: %w", key, d.rel(err))
	}
	// The rename is durable only once the directory entry is on disk.
	if df, err := d.root.Open(dir); err == nil {
		_ = df.Sync()
		df.Close()
	}
	return n, nil
}

// Open opens the file of key for reading; ErrNotFound when there is none.
func (d *Dir) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := d.root.Open(key)
	if err != nil {
		if missing(err) {
			return nil, fmt.Errorf("blob dir: open %q: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("blob dir: open %q: %w", key, d.rel(err))
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("blob dir: open %q: %w", key, d.rel(err))
		}
		return nil, fmt.Errorf("blob dir: open %q: %w", key, ErrNotFound)
	}
	return f, nil
}

// Delete removes the file of key; a missing one is no error. Emptied
// directories stay: removing them would race with a Put creating a blob
// in them.
func (d *Dir) Delete(ctx context.Context, key string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	fi, err := d.root.Lstat(key)
	if err != nil {
		if missing(err) {
			return nil
		}
		return fmt.Errorf("blob dir: delete %q: %w", key, d.rel(err))
	}
	if fi.IsDir() {
		return nil // a directory of other keys, not a blob
	}
	if err := d.root.Remove(key); err != nil && !missing(err) {
		return fmt.Errorf("blob dir: delete %q: %w", key, d.rel(err))
	}
	return nil
}

// List walks the directory that holds prefix. Symbolic links, temporary
// files and names that are not valid keys are skipped.
func (d *Dir) List(ctx context.Context, prefix string, fn func(key string) error) error {
	if err := validPrefix(prefix); err != nil {
		return err
	}
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
	}
	fi, err := d.root.Lstat(start)
	if err != nil {
		if missing(err) {
			return nil
		}
		return fmt.Errorf("blob dir: list %q: %w", prefix, d.rel(err))
	}
	if !fi.IsDir() {
		return nil // a blob or a symbolic link: no keys under it
	}
	var fnErr error
	err = fs.WalkDir(d.root.FS(), start, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			// Skip directories that cannot hold a key under prefix.
			if p != start && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || !strings.HasPrefix(p, prefix) || ValidKey(p) != nil {
			return nil
		}
		if err := fn(p); err != nil {
			fnErr = err
			return fs.SkipAll
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("blob dir: list %q: %w", prefix, d.rel(err))
	}
	return nil
}

// rel makes the path in a path error the full file name, so an operator
// sees where on disk the failure was; other errors pass unchanged.
func (d *Dir) rel(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s %s: %w", pe.Op, filepath.Join(d.path, pe.Path), pe.Err)
	}
	return err
}

// missing reports whether err means there is nothing at a path, including
// a path through a file ("a/b" where "a" is a blob).
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// ctxReader stops a copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
