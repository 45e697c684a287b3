package flow

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestInvalidDocuments runs every document under testdata/invalid through
// Parse and compares the problems with NAME.golden. Each document also
// names, in "# want:" lines (or NAME.want for JSON), what its problems
// must say, so a golden file rewritten with -update cannot quietly lose
// an error class.
func TestInvalidDocuments(t *testing.T) {
	docs, err := filepath.Glob("testdata/invalid/*")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, path := range docs {
		ext := filepath.Ext(path)
		if ext != ".yaml" && ext != ".json" {
			continue
		}
		n++
		name := strings.TrimSuffix(filepath.Base(path), ext)
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(data)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse = %v, want a *ValidationError", err)
			}
			var got bytes.Buffer
			for _, p := range ve.Problems {
				got.WriteString(p.String())
				got.WriteByte('\n')
			}
			golden := strings.TrimSuffix(path, ext) + ".golden"
			if *update {
				if err := os.WriteFile(golden, got.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got.String() != string(want) {
				t.Errorf("problems differ from %s\n--- got\n%s--- want\n%s", golden, got.String(), want)
			}
			wants := wantLines(t, data, strings.TrimSuffix(path, ext)+".want")
			if len(wants) == 0 {
				t.Fatal("the document names no # want: lines")
			}
			for _, w := range wants {
				if !strings.Contains(got.String(), w) {
					t.Errorf("no problem says %q; got\n%s", w, got.String())
				}
			}
		})
	}
	if n < 30 {
		t.Fatalf("found %d invalid documents; the table is missing", n)
	}
}

func wantLines(t *testing.T, doc []byte, wantFile string) []string {
	var out []string
	if data, err := os.ReadFile(wantFile); err == nil {
		doc = data
		for line := range strings.SplitSeq(strings.TrimSpace(string(data)), "\n") {
			out = append(out, line)
		}
		return out
	}
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		if w, ok := strings.CutPrefix(sc.Text(), "# want: "); ok {
			out = append(out, w)
		}
	}
	return out
}
