package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/secrets"
)

// Keyring seals and opens stored secrets (secrets.Keyring).
type Keyring interface {
	SealContext(ctx context.Context, plain []byte, aad secrets.AAD) (string, error)
	OpenContext(ctx context.Context, stored string, aad secrets.AAD) ([]byte, error)
}

// The sealed TOTP columns: each value is bound to its user and column, so
// a secret copied to another account, or from the pending to the active
// column, does not decrypt.
const (
	totpSecretField  = "totp_secret"
	totpPendingField = "totp_pending_secret"
)

// TOTPColumns describes the users' sealed TOTP secrets for key rotation.
func TOTPColumns() secrets.Columns {
	return secrets.Columns{Table: "users", ID: "id", Term: "totp_term", Secrets: []string{totpSecretField, totpPendingField}}
}

var errNoKeyring = errors.New("account: two-factor secrets cannot be stored: the service has no keyring")

// sealTOTP seals a TOTP secret for a user's column and reports the term
// that sealed it.
func (s *Service) sealTOTP(ctx context.Context, userID, field, secret string) (string, int, error) {
	if s.cfg.Keyring == nil {
		return "", 0, errNoKeyring
	}
	sealed, err := s.cfg.Keyring.SealContext(ctx, []byte(secret), secrets.AAD{Table: "users", Row: userID, Field: field})
	if err != nil {
		return "", 0, fmt.Errorf("account: seal two-factor secret: %w", err)
	}
	term, err := secrets.TermOf(sealed)
	if err != nil {
		return "", 0, err
	}
	return sealed, term, nil
}

// openTOTP opens a stored TOTP secret. A value stored in clear before the
// keyring existed is used as it is; the next key rotation seals it.
func (s *Service) openTOTP(ctx context.Context, userID, field, stored string) (string, error) {
	if stored == "" || !secrets.IsSealed(stored) {
		return stored, nil
	}
	if s.cfg.Keyring == nil {
		return "", errNoKeyring
	}
	plain, err := s.cfg.Keyring.OpenContext(ctx, stored, secrets.AAD{Table: "users", Row: userID, Field: field})
	if err != nil {
		return "", fmt.Errorf("account: the two-factor secret of user %s does not decrypt: %w", userID, err)
	}
	return string(plain), nil
}
