package file

import (
	"errors"
	"fmt"
)

// ErrPathEscapes is wrapped by every refusal of a path that leaves the
// files directory, whether the path says so itself (.., an absolute path)
// or a symbolic link on the way does.
var ErrPathEscapes = errors.New("path leaves the files directory")

// PathError says that a file path was refused because it leads out of the
// files directory. It names the path as the flow gave it, never the files
// directory itself, which is the server's business.
type PathError struct {
	Path string
	// Why is what about the path was refused: "is absolute", "goes up
	// with ..", "a symbolic link on it points outside".
	Why string
}

func (e *PathError) Error() string {
	return fmt.Sprintf("path %q leaves the files directory (%s): give a path relative to the files directory, such as in/orders.ndjson", e.Path, e.Why)
}

// Is makes errors.Is(err, ErrPathEscapes) true.
func (e *PathError) Is(target error) bool { return target == ErrPathEscapes }

// escapes reports whether err is os.Root's refusal of a path that leaves
// the root. The os package does not export that error, so it is recognised
// by its text, which is part of Go's compatibility surface in practice
// (it is the same on every platform); MkdirAll wraps it in a second
// *os.PathError, so the whole chain is searched. TestPathConfinement fails
// if it changes.
func escapes(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if err.Error() == "path escapes from parent" {
			return true
		}
	}
	return false
}
