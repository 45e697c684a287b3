// Package blob keeps opaque blobs (console logs, sealed before they get
// here) by key, behind one small interface: a directory under the data
// dir by default, or any S3-compatible object store.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
)

// ErrNotFound: no blob has this key.
var ErrNotFound = errors.New("blob: not found")

// Store keeps blobs by key. Keys are relative paths of lower-case letters,
// digits and - _ . / (ValidKey); a Store refuses any other.
type Store interface {
	// Put stores the bytes of r under key, replacing any blob there; a
	// reader of the key sees the whole old blob or the whole new one,
	// never part of one. It returns the bytes stored.
	Put(ctx context.Context, key string, r io.Reader) (int64, error)
	// Open reads the blob under key; ErrNotFound when there is none.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes the blob under key; a missing blob is no error.
	Delete(ctx context.Context, key string) error
	// List calls fn with each key under prefix ("" for all), in no set
	// order, until fn returns an error (which List returns).
	List(ctx context.Context, prefix string, fn func(key string) error) error
}

// MaxKeyLen is the longest key a Store accepts, in bytes.
const MaxKeyLen = 512

// ValidKey reports why key cannot name a blob, or nil when it can: a
// relative path of lower-case letters, digits and - _ . /, at most
// MaxKeyLen bytes, with no empty, "." or ".." segment. Keys are made by
// Sluice, never typed by users, so a refusal is a bug in the caller.
func ValidKey(key string) error {
	if key == "" {
		return errors.New("blob: key is empty")
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("blob: key %.40q... is %d bytes long, more than the %d allowed", key, len(key), MaxKeyLen)
	}
	if err := validChars(key); err != nil {
		return err
	}
	if strings.HasPrefix(key, "/") {
		return fmt.Errorf("blob: key %q starts with /: keys are relative paths", key)
	}
	for _, seg := range strings.Split(key, "/") {
		if err := validSegment(key, seg); err != nil {
			return err
		}
	}
	return nil
}

// validPrefix checks a List prefix: like a key, except that it may be
// empty and its last segment may be partial or empty ("logs/", "logs/ab").
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > MaxKeyLen {
		return fmt.Errorf("blob: prefix %.40q... is %d bytes long, more than the %d allowed", prefix, len(prefix), MaxKeyLen)
	}
	if err := validChars(prefix); err != nil {
		return err
	}
	if strings.HasPrefix(prefix, "/") {
		return fmt.Errorf("blob: prefix %q starts with /: keys are relative paths", prefix)
	}
	segs := strings.Split(prefix, "/")
	for _, seg := range segs[:len(segs)-1] {
		if err := validSegment(prefix, seg); err != nil {
			return err
		}
	}
	return nil
}

func validChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if ('a' <= c && c <= 'z') || ('0' <= c && c <= '9') || c == '-' || c == '_' || c == '.' || c == '/' {
			continue
		}
		return fmt.Errorf("blob: key %q has %q at byte %d: use only a-z, 0-9, -, _, . and /", s, c, i)
	}
	return nil
}

func validSegment(key, seg string) error {
	switch seg {
	case "":
		return fmt.Errorf("blob: key %q has an empty segment (// or a trailing /)", key)
	case ".", "..":
		return fmt.Errorf("blob: key %q has a %q segment: keys may not climb or stay in place", key, seg)
	}
	return nil
}
