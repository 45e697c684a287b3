package file

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPathConfinement: reads and writes stay inside the files directory.
// Paths that leave it by their text are refused when the connector is
// built; symbolic links that lead out are refused by os.Root at open. The
// outside file is never read or changed, and no error names the files
// directory.
func TestPathConfinement(t *testing.T) {
	const secret = "{\"secret\":true}\n"
	setup := func(t *testing.T) (dir, outside string) {
		base := t.TempDir()
		dir = filepath.Join(base, "files")
		outside = filepath.Join(base, "outside")
		for _, d := range []string{dir, outside, filepath.Join(dir, "in")} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				t.Fatal(err)
			}
		}
		writeFile(t, outside, "secret.ndjson", secret)
		writeFile(t, dir, "in/orders.ndjson", "{\"id\":1}\n")
		links := map[string]string{
			"link.ndjson":      filepath.Join(outside, "secret.ndjson"), // absolute target outside
			"in/rel.ndjson":    "../../outside/secret.ndjson",           // relative target outside
			"linkdir":          outside,                                 // a directory outside
			"in/inside.ndjson": "orders.ndjson",                         // stays inside: allowed
			"loop.ndjson":      "loop.ndjson",                           // a loop
		}
		for name, target := range links {
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
		}
		return dir, outside
	}

	cases := []struct {
		name  string
		path  string
		write string // "", "replace" or "append"
		atNew bool   // refused when built (no I/O), not at Open
		why   string // part of the error; "" means allowed
	}{
		{name: "dot dot", path: "../outside/secret.ndjson", atNew: true, why: "it goes up with .."},
		{name: "dot dot inside a path", path: "in/../../outside/secret.ndjson", atNew: true, why: "it goes up with .."},
		{name: "absolute", path: "/etc/passwd", atNew: true, why: "it is absolute"},
		{name: "absolute into the files directory", path: "@DIR@/in/orders.ndjson", atNew: true, why: "it is absolute"},
		{name: "symlink to a file outside", path: "link.ndjson", why: "a symbolic link on it points outside"},
		{name: "relative symlink outside", path: "in/rel.ndjson", why: "a symbolic link on it points outside"},
		{name: "symlinked directory outside", path: "linkdir/secret.ndjson", why: "a symbolic link on it points outside"},
		{name: "symlink loop", path: "loop.ndjson", why: "too many levels of symbolic links"},
		{name: "symlink inside", path: "in/inside.ndjson"},
		{name: "dot dot that stays inside", path: "in/../in/orders.ndjson"},

		{name: "write dot dot", path: "../outside/new.ndjson", write: "replace", atNew: true, why: "it goes up with .."},
		{name: "write absolute", path: "/tmp/new.ndjson", write: "append", atNew: true, why: "it is absolute"},
		{name: "write into a symlinked directory", path: "linkdir/new.ndjson", write: "replace", why: "a symbolic link on it points outside"},
		{name: "append into a symlinked directory", path: "linkdir/secret.ndjson", write: "append", why: "a symbolic link on it points outside"},
		{name: "append through a symlink outside", path: "link.ndjson", write: "append", why: "a symbolic link on it points outside"},
		{name: "create directories through a symlink", path: "linkdir/a/b.ndjson", write: "replace", why: "a symbolic link on it points outside"},
		// Replacing renames over the link itself: the link goes, the
		// file it pointed at is untouched.
		{name: "replace a symlink that points outside", path: "link.ndjson", write: "replace"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir, outside := setup(t)
			path := strings.ReplaceAll(tc.path, "@DIR@", dir)
			s := settings(path, NDJSON)
			var open func() error
			var err error
			if tc.write == "" {
				src, e := newTestSource(t, dir, 0, s)
				err = e
				if e == nil {
					defer src.Close()
					open = func() error { _, _, err := readAll(t, src); return err }
				}
			} else {
				s["mode"] = tc.write
				sink, e := newTestSink(t, dir, s)
				err = e
				if e == nil {
					open = func() error {
						if err := sink.Open(ctx); err != nil {
							sink.Close()
							return err
						}
						if _, err := sink.Write(ctx, records(map[string]any{"written": true})); err != nil {
							return err
						}
						return sink.Close()
					}
				}
			}
			if tc.atNew != (err != nil) {
				t.Fatalf("building: err = %v, want an error: %v", err, tc.atNew)
			}
			if err == nil {
				err = open()
			}
			if tc.why == "" {
				if err != nil {
					t.Fatalf("refused a path inside: %v", err)
				}
			} else {
				if err == nil || !strings.Contains(err.Error(), tc.why) {
					t.Fatalf("err = %v, want it to say %q", err, tc.why)
				}
				if strings.Contains(tc.why, "leaves") || strings.Contains(tc.why, "points outside") || strings.Contains(tc.why, "goes up") || strings.Contains(tc.why, "absolute") {
					if !errors.Is(err, ErrPathEscapes) {
						t.Fatalf("errors.Is(err, ErrPathEscapes) is false for %v", err)
					}
					var pe *PathError
					if !errors.As(err, &pe) || !strings.Contains(err.Error(), "leaves the files directory") {
						t.Fatalf("not a *PathError: %v", err)
					}
				}
				if strings.Contains(err.Error(), dir) && !strings.Contains(tc.path, "@DIR@") {
					t.Fatalf("the error names the files directory: %v", err)
				}
			}
			// Whatever happened, the outside stays as it was.
			if got := readFile(t, outside, "secret.ndjson"); got != secret {
				t.Fatalf("the file outside changed: %q", got)
			}
			ents, _ := os.ReadDir(outside)
			if len(ents) != 1 {
				t.Fatalf("something was created outside: %v", ents)
			}
		})
	}
}
