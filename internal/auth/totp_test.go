package auth

import (
	"encoding/base32"
	"fmt"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// rfcSecret is the RFC 6238 Appendix B SHA1 seed "12345678901234567890"
// in base32.
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// rfcVectors are the RFC 6238 Appendix B SHA1 rows: Unix time and the
// 8-digit code.
var rfcVectors = []struct {
	unix int64
	code string
}{
	{59, "94287082"},
	{1111111109, "07081804"},
	{1111111111, "14050471"},
	{1234567890, "89005924"},
	{2000000000, "69279037"},
	{20000000000, "65353130"},
}

// TestTOTPLibraryRFC6238 proves the library, configured as ValidateTOTP
// configures it but with the RFC's 8 digits, reproduces Appendix B.
func TestTOTPLibraryRFC6238(t *testing.T) {
	opts := totpOpts
	opts.Digits = otp.DigitsEight
	for _, v := range rfcVectors {
		got, err := totp.GenerateCodeCustom(rfcSecret, time.Unix(v.unix, 0).UTC(), opts)
		if err != nil || got != v.code {
			t.Errorf("code at %d = %q, %v; want %q", v.unix, got, err, v.code)
		}
	}
}

// TestValidateTOTPRFCVectors validates the 6-digit forms of Appendix B:
// dynamic truncation makes them the last six digits of the 8-digit codes.
func TestValidateTOTPRFCVectors(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(fmt.Sprint(v.unix), func(t *testing.T) {
			step, ok := ValidateTOTP(rfcSecret, v.code[2:], time.Unix(v.unix, 0), 0)
			if !ok || step != v.unix/30 {
				t.Fatalf("ValidateTOTP = %d, %v; want %d, true", step, ok, v.unix/30)
			}
		})
	}
}

// codeAt returns the 6-digit code for step s.
func codeAt(t *testing.T, secret string, s int64) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, time.Unix(s*30, 0), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestValidateTOTPWindowAndReplay(t *testing.T) {
	const now = 1_700_000_015 // mid-step
	cur := int64(now / 30)
	tests := []struct {
		name     string
		codeStep int64
		lastStep int64
		wantOK   bool
	}{
		{"current", cur, 0, true},
		{"one step early", cur - 1, 0, true},
		{"one step late", cur + 1, 0, true},
		{"two steps early", cur - 2, 0, false},
		{"two steps late", cur + 2, 0, false},
		{"current after previous step used", cur, cur - 1, true},
		{"current replayed", cur, cur, false},
		{"previous after current used", cur - 1, cur, false},
		{"previous replayed", cur - 1, cur - 1, false},
		{"next after current used", cur + 1, cur, true},
		{"next when next already used", cur + 1, cur + 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code := codeAt(t, rfcSecret, tt.codeStep)
			step, ok := ValidateTOTP(rfcSecret, code, time.Unix(now, 0), tt.lastStep)
			if ok != tt.wantOK {
				t.Fatalf("ValidateTOTP(code of step %d, last %d) ok = %v; want %v", tt.codeStep, tt.lastStep, ok, tt.wantOK)
			}
			if ok && step != tt.codeStep {
				t.Fatalf("step = %d; want %d", step, tt.codeStep)
			}
			if !ok && step != 0 {
				t.Fatalf("refused code returned step %d; want 0", step)
			}
		})
	}
}

func TestValidateTOTPStoredStepBlocksReuse(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	code := codeAt(t, rfcSecret, totpStep(now))
	step, ok := ValidateTOTP(rfcSecret, code, now, 0)
	if !ok {
		t.Fatal("first use refused")
	}
	if _, ok := ValidateTOTP(rfcSecret, code, now.Add(20*time.Second), step); ok {
		t.Fatal("second use of the same code accepted")
	}
}

func TestValidateTOTPMalformed(t *testing.T) {
	now := time.Unix(59, 0)
	tests := []struct {
		name, secret, code string
	}{
		{"empty code", rfcSecret, ""},
		{"five digits", rfcSecret, "87082"},
		{"seven digits", rfcSecret, "4287082"},
		{"eight-digit RFC code", rfcSecret, "94287082"},
		{"letter", rfcSecret, "28708a"},
		{"leading space", rfcSecret, " 287082"},
		{"trailing newline", rfcSecret, "287082\n"},
		{"sign", rfcSecret, "+87082"},
		{"full-width digits", rfcSecret, "２８７０８２"},
		{"dash", rfcSecret, "287-082"},
		{"wrong code", rfcSecret, "287083"},
		{"empty secret", "", "287082"},
		{"secret not base32", "not base32!", "287082"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if step, ok := ValidateTOTP(tt.secret, tt.code, now, 0); ok || step != 0 {
				t.Fatalf("ValidateTOTP = %d, %v; want 0, false", step, ok)
			}
		})
	}
}

func TestTOTPStep(t *testing.T) {
	tests := []struct {
		unix, want int64
	}{{0, 0}, {29, 0}, {30, 1}, {59, 1}, {-1, -1}, {-30, -1}, {-31, -2}}
	for _, tt := range tests {
		if got := totpStep(time.Unix(tt.unix, 0)); got != tt.want {
			t.Errorf("totpStep(%d) = %d; want %d", tt.unix, got, tt.want)
		}
	}
}

func TestNewTOTPKey(t *testing.T) {
	secret, url, err := NewTOTPKey("Sluice", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret %q decodes to %d bytes, %v; want 20 bytes", secret, len(raw), err)
	}
	key, err := otp.NewKeyFromURL(url)
	if err != nil {
		t.Fatal(err)
	}
	if key.Type() != "totp" || key.Issuer() != "Sluice" || key.AccountName() != "alice@example.com" ||
		key.Secret() != secret || key.Period() != 30 || key.Digits() != otp.DigitsSix ||
		key.Algorithm() != otp.AlgorithmSHA1 {
		t.Fatalf("otpauth URL %q does not describe the key", url)
	}
	now := time.Unix(1_800_000_000, 0)
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := ValidateTOTP(secret, code, now, 0); !ok {
		t.Fatal("a code from the new key does not validate")
	}
	other, _, err := NewTOTPKey("Sluice", "alice@example.com")
	if err != nil || other == secret {
		t.Fatalf("second key %q, %v; want a different secret", other, err)
	}
	if _, _, err := NewTOTPKey("", "alice@example.com"); err == nil {
		t.Fatal("empty issuer accepted")
	}
}
