package auth

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckPasswordPolicy(t *testing.T) {
	tests := []struct {
		name     string
		password string
		email    string
		reason   string // substring of the reason; "" means accepted
	}{
		{"strong passphrase", "violet tundra mosaic lantern", "alice@example.com", ""},
		{"strong with symbols", "correct-horse-battery-staple-73", "alice@example.com", ""},
		{"exactly 12 characters", "mvq3-trk9-zp", "alice@example.com", ""},
		{"exactly 512 bytes", strings.Repeat("abcd", 128), "alice@example.com", ""},
		{"12 runes, more bytes", "日本語のパスワードですね", "alice@example.com", ""},
		{"empty", "", "alice@example.com", "at least 12 characters"},
		{"11 characters", "mvq3-trk9-z", "alice@example.com", "at least 12 characters"},
		{"11 runes, 33 bytes", "日本語のパスワードです", "alice@example.com", "at least 12 characters"},
		{"513 bytes", strings.Repeat("abcd", 128) + "e", "alice@example.com", "at most 512 bytes"},
		{"invalid UTF-8", "valid start \xff\xfe then junk", "alice@example.com", "valid UTF-8"},
		{"one letter repeated", "aaaaaaaaaaaa", "alice@example.com", "one character repeated"},
		{"one rune repeated", "éééééééééééééé", "alice@example.com", "one character repeated"},
		{"one space repeated", strings.Repeat(" ", 20), "alice@example.com", "one character repeated"},
		{"equals local part", "alice.smith.example", "alice.smith.example@example.com", "email address name"},
		{"contains local part", "my-alice.smith-rocks!", "alice.smith@example.com", "email address name"},
		{"contains local part, other case", "ALICE.SMITH2024!!", "Alice.Smith@Example.com", "email address name"},
		{"contains 4-char local part", "xxdavexx-long-pass", "dave@example.com", "email address name"},
		{"3-char local part ignored", "bob-river-mountain", "bob@example.com", ""},
		{"email without @ ignored", "someone-river-mountain", "someone", ""},
		{"common", "password1234", "alice@example.com", "commonly used"},
		{"common digits", "123456789012", "alice@example.com", "commonly used"},
		{"common keyboard walk", "qwertyuiop12", "alice@example.com", "commonly used"},
		{"common, upper case", "PASSWORD1234", "alice@example.com", "commonly used"},
		{"common, padded with spaces", "  password1234  ", "alice@example.com", "commonly used"},
		{"common from john list", "winniethepooh", "alice@example.com", "commonly used"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPasswordPolicy(tt.password, tt.email)
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("CheckPasswordPolicy = %v; want nil", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) {
				t.Fatalf("CheckPasswordPolicy = %v; want a *PolicyError", err)
			}
			if !strings.Contains(pe.Error(), tt.reason) || pe.Error() != pe.Reason {
				t.Fatalf("reason = %q; want it to contain %q", pe.Error(), tt.reason)
			}
		})
	}
}

// TestCommonPasswordsFile checks the shipped list keeps the shape the
// loader and the policy rely on.
func TestCommonPasswordsFile(t *testing.T) {
	lines := strings.Split(strings.TrimSuffix(commonPasswordsFile, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "# source: ") {
		t.Fatalf("first line = %q; want a '# source: ' header", lines[0])
	}
	var entries []string
	for _, l := range lines {
		if strings.HasPrefix(l, "#") {
			continue
		}
		if l != strings.ToLower(strings.TrimSpace(l)) || l == "" {
			t.Errorf("entry %q is not trimmed lower case", l)
		}
		if utf8.RuneCountInString(l) < MinPasswordLen {
			t.Errorf("entry %q is shorter than %d characters", l, MinPasswordLen)
		}
		entries = append(entries, l)
	}
	if !slices.IsSorted(entries) {
		t.Error("entries are not sorted")
	}
	if len(slices.Compact(slices.Clone(entries))) != len(entries) {
		t.Error("entries are not unique")
	}
	if got := len(commonPasswords()); got != len(entries) || got < 300 {
		t.Errorf("loaded %d entries from %d lines; want all of them, at least 300", got, len(entries))
	}
	for _, want := range []string{"password1234", "123456789012", "qwertyuiop12"} {
		if _, ok := commonPasswords()[want]; !ok {
			t.Errorf("list lacks %q", want)
		}
	}
}
