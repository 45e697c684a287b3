package auth

import (
	"crypto/subtle"
	"fmt"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP settings: RFC 6238 defaults, the only ones every authenticator app
// supports.
const (
	totpPeriod     = 30 // seconds per step
	totpDigits     = 6
	totpSkew       = 1  // steps accepted either side of now
	totpSecretSize = 20 // bytes: 160 bits, as RFC 4226 recommends
)

// totpOpts configures every code generation the same way.
var totpOpts = totp.ValidateOpts{
	Period:    totpPeriod,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// NewTOTPKey returns a new random TOTP secret (base32, unpadded) for
// account at issuer, and the otpauth:// URL an authenticator app scans.
func NewTOTPKey(issuer, account string) (secret string, otpauthURL string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: account,
		Period:      totpPeriod,
		SecretSize:  totpSecretSize,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("auth: unable to generate totp key: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// totpStep returns the RFC 6238 time step that contains t.
func totpStep(t time.Time) int64 {
	s := t.Unix()
	step := s / totpPeriod
	if s%totpPeriod < 0 { // floor, not truncation, before 1970
		step--
	}
	return step
}

// ValidateTOTP checks a 6-digit code against secret at now, accepting the
// current step and one step either side for clock skew. A code is refused
// when its step is not after lastStep, the step the account last used, so
// a code cannot be replayed; on success the caller stores the returned step
// as the new lastStep. If code matches several steps, the latest one is
// returned. A code that is not exactly six ASCII digits, or a secret that
// is empty or not base32, is refused.
func ValidateTOTP(secret, code string, now time.Time, lastStep int64) (step int64, ok bool) {
	if secret == "" || !isDigits(code, totpDigits) {
		return 0, false
	}
	current := totpStep(now)
	// Every candidate is generated and compared, so the work done does not
	// depend on which step, if any, matched.
	for s := current - totpSkew; s <= current+totpSkew; s++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && s > lastStep {
			step, ok = s, true
		}
	}
	if !ok {
		return 0, false
	}
	return step, true
}

// isDigits reports whether s is exactly n ASCII digits.
func isDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
