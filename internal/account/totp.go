package account

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// RecoveryCodeCount is how many one-time recovery codes a user gets.
const RecoveryCodeCount = 10

// TOTPEnrollment is what a user scans into an authenticator app.
type TOTPEnrollment struct {
	Secret string
	URL    string
}

// BeginTOTP creates a pending TOTP secret; two-factor login is on only
// after ConfirmTOTP proves the app produces codes for it. It needs the
// password again, so a hijacked session cannot lock the owner out.
func (s *Service) BeginTOTP(ctx context.Context, p *Principal, password string, c Client) (*TOTPEnrollment, error) {
	if err := s.checkPasswordOf(ctx, p, password, c); err != nil {
		return nil, err
	}
	if p.User.TOTPEnabled {
		return nil, fmt.Errorf("%w: two-factor login is already on; turn it off first to enrol a new app", ErrTOTPState)
	}
	secret, url, err := auth.NewTOTPKey(s.cfg.Issuer, p.User.Email)
	if err != nil {
		return nil, err
	}
	sealed, term, err := s.sealTOTP(ctx, p.User.ID, totpPendingField, secret)
	if err != nil {
		return nil, err
	}
	if err := s.st.Writer().SetTOTPPending(ctx, p.User.ID, sealed, term); err != nil {
		return nil, err
	}
	return &TOTPEnrollment{Secret: secret, URL: url}, nil
}

// ConfirmTOTP turns two-factor login on with the first code from the app
// and returns the recovery codes, shown this once.
func (s *Service) ConfirmTOTP(ctx context.Context, p *Principal, code string, c Client) ([]string, error) {
	u, err := s.st.Reader().UserByID(ctx, p.User.ID)
	if err != nil {
		return nil, err
	}
	if u.TOTPEnabled || u.TOTPPendingSecret == "" {
		return nil, fmt.Errorf("%w: start enrolment first (POST /api/v1/me/totp)", ErrTOTPState)
	}
	pending, err := s.openTOTP(ctx, u.ID, totpPendingField, u.TOTPPendingSecret)
	if err != nil {
		return nil, err
	}
	step, ok := auth.ValidateTOTP(pending, code, s.cfg.Now(), 0)
	if !ok {
		// Not a failed login: the caller is logged in and mistyped.
		return nil, &InvalidInputError{Field: "code", Message: "is wrong or expired: enter the code your authenticator app shows now"}
	}
	// Sealed again for the active column: the AAD binds a value to its
	// column, so the pending ciphertext cannot simply be moved.
	active, term, err := s.sealTOTP(ctx, u.ID, totpSecretField, pending)
	if err != nil {
		return nil, err
	}
	plain, hashes, err := auth.NewRecoveryCodes(RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.EnableTOTP(ctx, u.ID, active, term, step); err != nil {
			return err
		}
		if err := q.ReplaceRecoveryCodes(ctx, u.ID, hexAll(hashes)); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: u.ID, ActorEmail: u.Email, IP: c.IP,
			Action: audit.ActionTOTPEnable, Target: "user:" + u.ID, Outcome: audit.Success})
		return err
	})
	if err != nil {
		return nil, err
	}
	return plain, nil
}

// DisableTOTP turns two-factor login off; it needs the password again.
func (s *Service) DisableTOTP(ctx context.Context, p *Principal, password string, c Client) error {
	if err := s.checkPasswordOf(ctx, p, password, c); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return s.recordFailure(ctx, p, c, audit.ActionTOTPDisable, err)
		}
		return err
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.DisableTOTP(ctx, p.User.ID); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionTOTPDisable, Target: "user:" + p.User.ID, Outcome: audit.Success})
		return err
	})
}

// RenewRecoveryCodes replaces the recovery codes (the old ones stop
// working); it needs the password again.
func (s *Service) RenewRecoveryCodes(ctx context.Context, p *Principal, password string, c Client) ([]string, error) {
	if err := s.checkPasswordOf(ctx, p, password, c); err != nil {
		return nil, err
	}
	if !p.User.TOTPEnabled {
		return nil, fmt.Errorf("%w: two-factor login is off", ErrTOTPState)
	}
	plain, hashes, err := auth.NewRecoveryCodes(RecoveryCodeCount)
	if err != nil {
		return nil, err
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.ReplaceRecoveryCodes(ctx, p.User.ID, hexAll(hashes)); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionRecoveryRenew, Target: "user:" + p.User.ID, Outcome: audit.Success})
		return err
	})
	return plain, err
}

// RecoveryCodesLeft counts the caller's unused recovery codes.
func (s *Service) RecoveryCodesLeft(ctx context.Context, p *Principal) (int, error) {
	return s.st.Reader().CountRecoveryCodes(ctx, p.User.ID)
}

func hexAll(hs [][]byte) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hex.EncodeToString(h)
	}
	return out
}
