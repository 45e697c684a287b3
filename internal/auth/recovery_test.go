package auth

import (
	"bytes"
	"crypto/sha256"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestRecoveryAlphabet(t *testing.T) {
	if len(recoveryAlphabet) != 32 {
		t.Fatalf("alphabet has %d symbols; want 32 so a masked byte is unbiased", len(recoveryAlphabet))
	}
	seen := map[rune]bool{}
	for _, r := range recoveryAlphabet {
		if seen[r] {
			t.Fatalf("alphabet repeats %q", r)
		}
		seen[r] = true
	}
	if strings.ContainsAny(recoveryAlphabet, "0Oo1lI") {
		t.Fatalf("alphabet %q holds an ambiguous character", recoveryAlphabet)
	}
	if bits := float64(recoveryCodeChars) * math.Log2(float64(len(recoveryAlphabet))); bits < 50 {
		t.Fatalf("codes carry %.1f bits; want at least 50", bits)
	}
}

func TestNewRecoveryCodes(t *testing.T) {
	plain, hashes, err := NewRecoveryCodes(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(plain) != 10 || len(hashes) != 10 {
		t.Fatalf("got %d codes and %d hashes; want 10 each", len(plain), len(hashes))
	}
	shape := regexp.MustCompile(`^[` + recoveryAlphabet + `]{5}-[` + recoveryAlphabet + `]{5}$`)
	seen := map[string]bool{}
	for i, c := range plain {
		if !shape.MatchString(c) {
			t.Errorf("code %q is not xxxxx-xxxxx from the alphabet", c)
		}
		if seen[c] {
			t.Errorf("code %q repeated", c)
		}
		seen[c] = true
		want := sha256.Sum256([]byte(strings.ReplaceAll(c, "-", "")))
		if !bytes.Equal(hashes[i], want[:]) {
			t.Errorf("hash of %q = %x; want SHA-256 of the normalized code", c, hashes[i])
		}
	}
}

func TestNewRecoveryCodesCount(t *testing.T) {
	tests := []struct {
		n       int
		wantErr bool
	}{{-1, true}, {0, true}, {1, false}, {100, false}, {101, true}}
	for _, tt := range tests {
		plain, hashes, err := NewRecoveryCodes(tt.n)
		if (err != nil) != tt.wantErr {
			t.Errorf("NewRecoveryCodes(%d) error = %v; want error %v", tt.n, err, tt.wantErr)
		}
		if !tt.wantErr && (len(plain) != tt.n || len(hashes) != tt.n) {
			t.Errorf("NewRecoveryCodes(%d) gave %d codes", tt.n, len(plain))
		}
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	tests := []struct{ in, want string }{
		{"abcde-fghjk", "abcdefghjk"},
		{"ABCDE-FGHJK", "abcdefghjk"},
		{"abcdefghjk", "abcdefghjk"},
		{" abcde fghjk ", "abcdefghjk"},
		{"abcde\t-\tfghjk\n", "abcdefghjk"},
		{"ab-cd-ef-gh-jk", "abcdefghjk"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormalizeRecoveryCode(tt.in); got != tt.want {
			t.Errorf("NormalizeRecoveryCode(%q) = %q; want %q", tt.in, got, tt.want)
		}
		if !bytes.Equal(HashRecoveryCode(tt.in), HashRecoveryCode(tt.want)) {
			t.Errorf("HashRecoveryCode(%q) differs from HashRecoveryCode(%q)", tt.in, tt.want)
		}
	}
	if bytes.Equal(HashRecoveryCode("abcde-fghjk"), HashRecoveryCode("abcde-fghjm")) {
		t.Error("different codes hash alike")
	}
}
