package auth

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
)

// checkToken asserts s is 32 random bytes in unpadded base64url.
func checkToken(t *testing.T, s string) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 32 || len(s) != 43 {
		t.Fatalf("token %q: decoded %d bytes, err %v; want 32 bytes in 43 characters", s, len(b), err)
	}
}

func TestNewSecretsAreDistinct(t *testing.T) {
	gens := []struct {
		name string
		gen  func() (string, error)
	}{
		{"session", func() (string, error) { s, _, err := NewSessionToken(); return s, err }},
		{"api key", func() (string, error) { s, _, err := NewAPIKey(); return strings.TrimPrefix(s, APIKeyPrefix), err }},
		{"setup", NewSetupToken},
		{"csrf", NewCSRFToken},
	}
	for _, g := range gens {
		t.Run(g.name, func(t *testing.T) {
			seen := map[string]bool{}
			for range 100 {
				s, err := g.gen()
				if err != nil {
					t.Fatal(err)
				}
				checkToken(t, s)
				if seen[s] {
					t.Fatalf("token %q repeated", s)
				}
				seen[s] = true
			}
		})
	}
}

func TestNewSessionToken(t *testing.T) {
	plain, hash, err := NewSessionToken()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(hash, HashToken(plain)) || len(hash) != 32 {
		t.Fatalf("hash = %x; want SHA-256 of the plain token", hash)
	}
	if LooksLikeAPIKey(plain) {
		t.Fatalf("session token %q looks like an API key", plain)
	}
}

func TestNewAPIKey(t *testing.T) {
	plain, hash, err := NewAPIKey()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(plain, "slk_") || !LooksLikeAPIKey(plain) {
		t.Fatalf("API key %q does not look like an API key", plain)
	}
	// The hash covers the prefix too: it is the hash of exactly what is sent.
	if !bytes.Equal(hash, HashToken(plain)) {
		t.Fatalf("hash = %x; want SHA-256 of %q", hash, plain)
	}
}

func TestHashToken(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(HashToken(tt.in)); got != tt.want {
			t.Errorf("HashToken(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestLooksLikeAPIKey(t *testing.T) {
	body := strings.Repeat("A", 42) + "E" // canonical: unused low bits are zero
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{"canonical", "slk_" + body, true},
		{"all alphabet characters", "slk_" + "abcdefghijklmnopqrstuvwxyz0123456789-_ABCD" + "A", true},
		{"empty", "", false},
		{"prefix only", "slk_", false},
		{"no prefix", body, false},
		{"upper-case prefix", "SLK_" + body, false},
		{"other prefix", "sk_" + body, false},
		{"one short", "slk_" + body[1:], false},
		{"one long", "slk_A" + body, false},
		{"padded", "slk_" + body + "=", false},
		{"standard alphabet +", "slk_+" + body[1:], false},
		{"standard alphabet /", "slk_/" + body[1:], false},
		{"space", "slk_ " + body[1:], false},
		{"non-canonical last character", "slk_" + strings.Repeat("A", 42) + "B", false},
		{"bearer word included", "Bearer slk_" + body, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := LooksLikeAPIKey(tt.in); got != tt.want {
				t.Fatalf("LooksLikeAPIKey(%q) = %v; want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestEqualTokens(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		want bool
	}{
		{"equal", "abcDEF123", "abcDEF123", true},
		{"differ in last byte", "abcDEF123", "abcDEF124", false},
		{"differ in case", "abcDEF123", "ABCDEF123", false},
		{"prefix", "abcDEF123", "abcDEF12", false},
		{"both empty", "", "", false},
		{"first empty", "", "abc", false},
		{"second empty", "abc", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EqualTokens(tt.a, tt.b); got != tt.want {
				t.Fatalf("EqualTokens(%q, %q) = %v; want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
