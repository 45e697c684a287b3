package account

import (
	"context"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// MaxAPIKeyDays bounds an API key's lifetime when one is given.
const MaxAPIKeyDays = 3650

// NewAPIKey is a created key; Token is shown this once and never again.
type NewAPIKey struct {
	Key   *store.APIKey
	Token string
}

// CreateAPIKey makes a key for the caller that expires after days (0 =
// never).
func (s *Service) CreateAPIKey(ctx context.Context, p *Principal, name string, days int, c Client) (*NewAPIKey, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return nil, &InvalidInputError{Field: "name", Message: "is required and at most 100 characters (say where the key is used, such as \"ci\")"}
	}
	if days < 0 || days > MaxAPIKeyDays {
		return nil, &InvalidInputError{Field: "expires_in_days", Message: fmt.Sprintf("must be between 0 (never expires) and %d", MaxAPIKeyDays)}
	}
	token, hash, err := auth.NewAPIKey()
	if err != nil {
		return nil, fmt.Errorf("account: new api key: %w", err)
	}
	k := &store.APIKey{UserID: p.User.ID, Name: name, TokenHash: hex.EncodeToString(hash), Prefix: token[:len(auth.APIKeyPrefix)+6]}
	if days > 0 {
		exp := s.now().Add(time.Duration(days) * 24 * time.Hour)
		k.ExpiresAt = &exp
	}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionAPIKeyCreate, Target: "api_key:" + k.ID, Outcome: audit.Success,
			Detail: map[string]any{"name": k.Name, "expires_in_days": days}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &NewAPIKey{Key: k, Token: token}, nil
}

// APIKeys lists the caller's keys with their last use.
func (s *Service) APIKeys(ctx context.Context, p *Principal) ([]*store.APIKey, error) {
	return s.st.Reader().ListAPIKeys(ctx, p.User.ID)
}

// RevokeAPIKey deletes one of the caller's keys; it stops working at once.
func (s *Service) RevokeAPIKey(ctx context.Context, p *Principal, id string, c Client) error {
	return s.st.InTx(ctx, func(q *store.Q) error {
		k, err := q.APIKeyByID(ctx, p.User.ID, id)
		if err != nil {
			return err
		}
		if err := q.DeleteAPIKey(ctx, p.User.ID, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionAPIKeyRevoke, Target: "api_key:" + id, Outcome: audit.Success,
			Detail: map[string]any{"name": k.Name}})
		return err
	})
}
