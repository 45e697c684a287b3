package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"strings"
	"unicode"
)

// recoveryAlphabet has 32 symbols, so each character carries exactly five
// bits and a random byte masked to five bits picks one without bias. It
// leaves out 0, o, 1 and l; codes are shown in lower case, so an upper-case
// I never appears, and with l and 1 gone a lower-case i has nothing to be
// mistaken for.
const recoveryAlphabet = "abcdefghijkmnpqrstuvwxyz23456789"

// recoveryCodeChars is the length of a code without its dash. Ten
// characters of five bits give 50 bits of entropy: far too many to guess
// online, and enough that SHA-256 (rather than a slow password hash) is a
// safe way to store them, as with session tokens.
const recoveryCodeChars = 10

// maxRecoveryCodes bounds one batch.
const maxRecoveryCodes = 100

// NewRecoveryCodes returns n new single-use recovery codes, shown to the
// user as "xxxxx-xxxxx", and their hashes (HashRecoveryCode) to store. The
// codes in one batch are distinct. n must be between 1 and 100.
func NewRecoveryCodes(n int) (plain []string, hashes [][]byte, err error) {
	if n < 1 || n > maxRecoveryCodes {
		return nil, nil, fmt.Errorf("auth: recovery code count %d outside 1..%d", n, maxRecoveryCodes)
	}
	seen := make(map[string]bool, n)
	buf := make([]byte, recoveryCodeChars)
	for len(plain) < n {
		if _, err := rand.Read(buf); err != nil {
			return nil, nil, fmt.Errorf("auth: unable to read random bytes: %w", err)
		}
		var b strings.Builder
		for i, r := range buf {
			if i == recoveryCodeChars/2 {
				b.WriteByte('-')
			}
			b.WriteByte(recoveryAlphabet[r&31])
		}
		code := b.String()
		if seen[code] {
			continue
		}
		seen[code] = true
		plain = append(plain, code)
		hashes = append(hashes, HashRecoveryCode(code))
	}
	return plain, hashes, nil
}

// NormalizeRecoveryCode returns the canonical form of a typed recovery
// code: lower case, with spaces and dashes removed, so "ABCDE-FGHJK",
// "abcde fghjk" and "abcdefghjk" are the same code.
func NormalizeRecoveryCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '-' || unicode.IsSpace(r) {
			return -1
		}
		return unicode.ToLower(r)
	}, s)
}

// HashRecoveryCode returns the SHA-256 of the normalized code, the form in
// which recovery codes are stored and looked up.
func HashRecoveryCode(s string) []byte {
	sum := sha256.Sum256([]byte(NormalizeRecoveryCode(s)))
	return sum[:]
}
