package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testStore is the contract every Store passes. s must be empty.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()

	t.Run("put and open", func(t *testing.T) {
		n, err := s.Put(ctx, "put/a.bin", strings.NewReader("hello"))
		if err != nil {
			t.Fatal(err)
		}
		if n != 5 {
			t.Errorf("Put returned %d bytes, want 5", n)
		}
		mustRead(t, s, "put/a.bin", []byte("hello"))
	})

	t.Run("empty blob", func(t *testing.T) {
		if n, err := s.Put(ctx, "empty/x", bytes.NewReader(nil)); err != nil || n != 0 {
			t.Fatalf("Put empty = %d, %v", n, err)
		}
		mustRead(t, s, "empty/x", []byte{})
	})

	t.Run("replace", func(t *testing.T) {
		mustPut(t, s, "replace/k", []byte("first, and longer"))
		mustPut(t, s, "replace/k", []byte("second"))
		mustRead(t, s, "replace/k", []byte("second"))
	})

	t.Run("reader that cannot seek", func(t *testing.T) {
		// A pipe: a Store may not rely on Seek or on knowing the length.
		pr, pw := io.Pipe()
		go func() {
			_, err := pw.Write([]byte("piped"))
			pw.CloseWithError(err)
		}()
		n, err := s.Put(ctx, "pipe/k", pr)
		if err != nil || n != 5 {
			t.Fatalf("Put from a pipe = %d, %v", n, err)
		}
		mustRead(t, s, "pipe/k", []byte("piped"))
	})

	t.Run("reader already advanced", func(t *testing.T) {
		r := strings.NewReader("skip-kept")
		if _, err := r.Seek(5, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		n, err := s.Put(ctx, "advanced/k", r)
		if err != nil || n != 4 {
			t.Fatalf("Put = %d, %v; want 4 bytes stored", n, err)
		}
		mustRead(t, s, "advanced/k", []byte("kept"))
	})

	t.Run("missing", func(t *testing.T) {
		if _, err := s.Open(ctx, "missing/nothing"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open of a missing key: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "missing/nothing"); err != nil {
			t.Errorf("Delete of a missing key: %v, want nil", err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		mustPut(t, s, "delete/k", []byte("x"))
		if err := s.Delete(ctx, "delete/k"); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Open(ctx, "delete/k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Open after Delete: %v, want ErrNotFound", err)
		}
		if err := s.Delete(ctx, "delete/k"); err != nil {
			t.Errorf("second Delete: %v", err)
		}
		if got := list(t, s, "delete/"); len(got) != 0 {
			t.Errorf("List after Delete = %v, want nothing", got)
		}
	})

	t.Run("list with prefixes", func(t *testing.T) {
		keys := []string{"list/a/1", "list/a/2", "list/ab/3", "list/b/4", "list/c", "other/5"}
		for _, k := range keys {
			mustPut(t, s, k, []byte(k))
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"list/a/", []string{"list/a/1", "list/a/2"}},
			{"list/a", []string{"list/a/1", "list/a/2", "list/ab/3"}},
			{"list/", []string{"list/a/1", "list/a/2", "list/ab/3", "list/b/4", "list/c"}},
			{"list/c", []string{"list/c"}},
			{"list/nothing/", nil},
			{"nothing", nil},
		} {
			if got := list(t, s, tc.prefix); !slices.Equal(got, tc.want) {
				t.Errorf("List(%q) = %v, want %v", tc.prefix, got, tc.want)
			}
		}
		all := list(t, s, "")
		for _, k := range keys {
			if !slices.Contains(all, k) {
				t.Errorf("List(\"\") = %v, misses %s", all, k)
			}
		}
	})

	t.Run("list stops at an error from fn", func(t *testing.T) {
		mustPut(t, s, "stop/1", []byte("1"))
		mustPut(t, s, "stop/2", []byte("2"))
		stop := errors.New("stop")
		calls := 0
		err := s.List(ctx, "stop/", func(string) error { calls++; return stop })
		if !errors.Is(err, stop) || calls != 1 {
			t.Errorf("List = %v after %d calls, want the error of fn after 1", err, calls)
		}
	})

	t.Run("invalid keys refused", func(t *testing.T) {
		for _, key := range invalidKeys() {
			if _, err := s.Put(ctx, key, strings.NewReader("x")); err == nil {
				t.Errorf("Put(%q) accepted", key)
			}
			if _, err := s.Open(ctx, key); err == nil || errors.Is(err, ErrNotFound) {
				t.Errorf("Open(%q) = %v, want a refusal", key, err)
			}
			if err := s.Delete(ctx, key); err == nil {
				t.Errorf("Delete(%q) accepted", key)
			}
		}
		for _, prefix := range []string{"/x", "../", "a/../b", "A", "a//b"} {
			if err := s.List(ctx, prefix, func(string) error { return nil }); err == nil {
				t.Errorf("List(%q) accepted", prefix)
			}
		}
	})

	t.Run("5 MiB blob", func(t *testing.T) {
		big := make([]byte, 5<<20)
		if _, err := rand.Read(big); err != nil {
			t.Fatal(err)
		}
		n, err := s.Put(ctx, "big/seekable", bytes.NewReader(big))
		if err != nil || n != int64(len(big)) {
			t.Fatalf("Put = %d, %v", n, err)
		}
		mustRead(t, s, "big/seekable", big)
		// The same through a reader that only reads.
		n, err = s.Put(ctx, "big/stream", io.MultiReader(bytes.NewReader(big[:1<<20]), bytes.NewReader(big[1<<20:])))
		if err != nil || n != int64(len(big)) {
			t.Fatalf("Put stream = %d, %v", n, err)
		}
		mustRead(t, s, "big/stream", big)
	})

	t.Run("concurrent puts", func(t *testing.T) {
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Go(func() {
				body := bytes.Repeat([]byte{byte(i)}, 64<<10)
				if _, err := s.Put(ctx, fmt.Sprintf("concurrent/%02d", i), bytes.NewReader(body)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		for i := range n {
			mustRead(t, s, fmt.Sprintf("concurrent/%02d", i), bytes.Repeat([]byte{byte(i)}, 64<<10))
		}
		if got := list(t, s, "concurrent/"); len(got) != n {
			t.Errorf("List found %d keys, want %d: %v", len(got), n, got)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Put(cctx, "cancelled/k", strings.NewReader("x")); err == nil {
			t.Error("Put with a cancelled context succeeded")
		}
		if _, err := s.Open(ctx, "cancelled/k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("a cancelled Put left a blob: Open = %v", err)
		}
	})
}

func invalidKeys() []string {
	return []string{"", "/abs", "a//b", "a/", "./a", "a/./b", "../a", "a/..", "Upper", "sp ace", "a\\b", "ü", "a\x00b", strings.Repeat("a", MaxKeyLen+1)}
}

func mustPut(t *testing.T, s Store, key string, body []byte) {
	t.Helper()
	n, err := s.Put(context.Background(), key, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(len(body)) {
		t.Fatalf("Put(%q) = %d bytes, want %d", key, n, len(body))
	}
}

func mustRead(t *testing.T, s Store, key string, want []byte) {
	t.Helper()
	rc, err := s.Open(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Open(%q) read %d bytes %.20q, want %d bytes %.20q", key, len(got), got, len(want), want)
	}
}

func list(t *testing.T, s Store, prefix string) []string {
	t.Helper()
	var keys []string
	if err := s.List(context.Background(), prefix, func(k string) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	slices.Sort(keys)
	return keys
}
