package file

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// openRoot opens the files directory. Its errors do not name the
// directory: where it lies on the server is no business of a flow author.
func openRoot(dir string) (*os.Root, error) {
	if dir == "" {
		return nil, errors.New("no files directory is configured (--files-dir)")
	}
	r, err := os.OpenRoot(dir)
	switch {
	case err == nil:
		return r, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("the files directory does not exist; the server creates it at start (--files-dir)")
	default:
		return nil, fmt.Errorf("the files directory cannot be opened: %w", bare(err))
	}
}

// rootErr turns the error of an os.Root operation on path into what a flow
// author reads: a *PathError when a symbolic link led outside, otherwise
// the operation, the path relative to the files directory, and the cause.
func rootErr(op, path string, err error) error {
	switch {
	case escapes(err):
		return &PathError{Path: path, Why: "a symbolic link on it points outside"}
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %q: no such file in the files directory: %w", op, path, fs.ErrNotExist)
	default:
		return fmt.Errorf("%s %q: %w", op, path, bare(err))
	}
}

// bare drops the path from an *os.PathError, keeping its cause.
func bare(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
