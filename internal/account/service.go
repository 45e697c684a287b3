// Package account is the accounts feature on top of the store: first-run
// setup, login with throttling and a second factor, server-side sessions,
// API keys, password changes and instance administration of users. Every
// change it makes is written with its audit event in one transaction.
package account

import (
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// Config tunes a Service; zero values take the defaults.
type Config struct {
	// Params are the argon2id parameters new hashes use; a stored hash with
	// other parameters is rehashed at the next successful login.
	Params auth.Params
	// SessionIdle ends a session unused this long (default 8 h).
	SessionIdle time.Duration
	// SessionMax ends a session this long after login (default 7 days).
	SessionMax time.Duration
	// AccountFailures and IPFailures are how many failed logins within
	// FailureWindow lock an account or an IP out (defaults 5, 20, 15 min).
	AccountFailures int
	IPFailures      int
	FailureWindow   time.Duration
	// MaxLockout caps the escalating lockouts (default 1 h).
	MaxLockout time.Duration
	// MaxConcurrentHashes bounds argon2id computations running at once
	// (default: the number of CPUs, at least 2).
	MaxConcurrentHashes int
	// Issuer names Sluice in authenticator apps (default "Sluice").
	Issuer string
	// Keyring seals the TOTP secrets at rest. Without one, two-factor
	// enrolment is refused rather than store a secret in clear.
	Keyring Keyring
	Now     func() time.Time
	Logger  *slog.Logger
}

// Service runs the account operations.
type Service struct {
	st         *store.Store
	cfg        Config
	acctThrot  *auth.Throttle
	ipThrottle *auth.Throttle
	slots      chan struct{}
	log        *slog.Logger
}

// NewService builds a Service over st.
func NewService(st *store.Store, cfg Config) *Service {
	if cfg.Params == (auth.Params{}) {
		cfg.Params = auth.DefaultParams
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 8 * time.Hour
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 7 * 24 * time.Hour
	}
	if cfg.AccountFailures <= 0 {
		cfg.AccountFailures = 5
	}
	if cfg.IPFailures <= 0 {
		cfg.IPFailures = 20
	}
	if cfg.FailureWindow <= 0 {
		cfg.FailureWindow = 15 * time.Minute
	}
	if cfg.MaxLockout <= 0 {
		cfg.MaxLockout = time.Hour
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "Sluice"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{
		st:         st,
		cfg:        cfg,
		acctThrot:  auth.NewThrottle(cfg.AccountFailures, cfg.FailureWindow, cfg.MaxLockout, cfg.Now),
		ipThrottle: auth.NewThrottle(cfg.IPFailures, cfg.FailureWindow, cfg.MaxLockout, cfg.Now),
		slots:      newHashSlots(cfg.MaxConcurrentHashes),
		log:        cfg.Logger,
	}
}

// Params are the argon2id parameters in force.
func (s *Service) Params() auth.Params { return s.cfg.Params }

func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Microsecond) }

// NormalizeEmail checks an email address and returns its canonical
// (lowercased) form. Display names ("Ann <a@b>") are refused: an account
// is named by its address alone.
func NormalizeEmail(email string) (string, error) {
	e := strings.TrimSpace(email)
	if e == "" {
		return "", &InvalidInputError{Field: "email", Message: "is required"}
	}
	if len(e) > 254 {
		return "", &InvalidInputError{Field: "email", Message: "is longer than 254 characters"}
	}
	addr, err := mail.ParseAddress(e)
	if err != nil || addr.Address != e || addr.Name != "" || !strings.Contains(e[strings.LastIndex(e, "@")+1:], ".") && !strings.HasSuffix(e, "@localhost") {
		return "", &InvalidInputError{Field: "email", Message: "is not a valid email address such as ann@example.com"}
	}
	return strings.ToLower(e), nil
}

// checkName bounds a display name.
func checkName(name string) (string, error) {
	n := strings.TrimSpace(name)
	if utf8.RuneCountInString(n) > 200 || !utf8.ValidString(n) {
		return "", &InvalidInputError{Field: "name", Message: "must be valid text of at most 200 characters"}
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return "", &InvalidInputError{Field: "name", Message: "must not contain control characters"}
		}
	}
	return n, nil
}

// checkPassword applies the password policy, naming the field.
func checkPassword(field, password, email string) error {
	if err := auth.CheckPasswordPolicy(password, email); err != nil {
		// The policy speaks of "password"; the field may be new_password.
		return &InvalidInputError{Field: field, Message: strings.TrimPrefix(err.Error(), "password ")}
	}
	return nil
}

// SessionMax is the absolute session lifetime (the cookie's Max-Age).
func (s *Service) SessionMax() time.Duration { return s.cfg.SessionMax }
