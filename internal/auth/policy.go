package auth

import (
	"bufio"
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// MinPasswordLen is the shortest password accepted, in characters (runes).
const MinPasswordLen = 12

// MaxPasswordLen is the longest password accepted, in bytes. It bounds the
// input argon2id has to read on every login.
const MaxPasswordLen = 512

// minLocalPartLen is the shortest email local part worth refusing inside a
// password; shorter ones ("al", "bob") would refuse too many passphrases.
const minLocalPartLen = 4

//go:embed common_passwords.txt
var commonPasswordsFile string

// commonPasswords is the embedded list as a set, built on first use.
var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 512)
	sc := bufio.NewScanner(strings.NewReader(commonPasswordsFile))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// CheckPasswordPolicy returns a *PolicyError when password is not
// acceptable for the account with the given email: shorter than
// MinPasswordLen characters, longer than MaxPasswordLen bytes, not valid
// UTF-8, one character repeated, containing the email's local part (when
// that is at least four characters), or on the list of commonly leaked
// passwords. It returns nil for an acceptable password.
func CheckPasswordPolicy(password, email string) error {
	if !utf8.ValidString(password) {
		return &PolicyError{Reason: "password must be valid UTF-8 text; retype it without special control bytes"}
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return &PolicyError{Reason: fmt.Sprintf("password must be at least %d characters; a passphrase of several unrelated words works well", MinPasswordLen)}
	}
	if len(password) > MaxPasswordLen {
		return &PolicyError{Reason: fmt.Sprintf("password must be at most %d bytes; choose a shorter passphrase", MaxPasswordLen)}
	}
	if isOneRepeatedRune(password) {
		return &PolicyError{Reason: "password must not be one character repeated; choose a passphrase of several unrelated words"}
	}
	lower := strings.ToLower(password)
	if local := emailLocalPart(email); utf8.RuneCountInString(local) >= minLocalPartLen && strings.Contains(lower, local) {
		return &PolicyError{Reason: "password must not contain your email address name; choose something unrelated to your account"}
	}
	if _, common := commonPasswords()[strings.TrimSpace(lower)]; common {
		return &PolicyError{Reason: "password is on a list of commonly used passwords; choose a passphrase of several unrelated words"}
	}
	return nil
}

// emailLocalPart returns the lowercased part of email before its last "@",
// or "" when email has no "@".
func emailLocalPart(email string) string {
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSpace(email[:i]))
}

// isOneRepeatedRune reports whether s consists of a single rune repeated.
func isOneRepeatedRune(s string) bool {
	first, size := utf8.DecodeRuneInString(s)
	for _, r := range s[size:] {
		if r != first {
			return false
		}
	}
	return true
}
