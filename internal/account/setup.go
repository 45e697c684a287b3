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

const setupTokenKey = "setup_token_hash"

// PrepareSetup issues a fresh one-time setup token while the instance has
// no account, and returns it for the operator (it is printed once at
// start-up and only its hash is stored). With an account, it returns "".
// Each call replaces the previous token, so only the last printed link
// works.
func (s *Service) PrepareSetup(ctx context.Context) (string, error) {
	var token string
	err := s.st.InTx(ctx, func(q *store.Q) error {
		n, err := q.CountUsers(ctx)
		if err != nil || n > 0 {
			if n > 0 {
				return q.DeleteSetting(ctx, setupTokenKey)
			}
			return err
		}
		token, err = auth.NewSetupToken()
		if err != nil {
			return fmt.Errorf("account: new setup token: %w", err)
		}
		return q.SetSetting(ctx, setupTokenKey, hex.EncodeToString(auth.HashToken(token)))
	})
	return token, err
}

// SetupNeeded reports whether the instance still has no account.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	n, err := s.st.Reader().CountUsers(ctx)
	return n == 0, err
}

// SetupRequest creates the first account.
type SetupRequest struct {
	Token, Email, Password, Name string
	Client                       Client
}

// Client is who is asking: their IP and user agent, kept with sessions and
// audit events.
type Client struct {
	IP        string
	UserAgent string
}

// Setup creates the first account, an instance administrator, with the
// setup token, and logs it in. It works once: the token is consumed in the
// same transaction that creates the user.
func (s *Service) Setup(ctx context.Context, req SetupRequest) (*LoginResult, error) {
	email, err := NormalizeEmail(req.Email)
	if err != nil {
		return nil, err
	}
	name, err := checkName(req.Name)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("password", req.Password, email); err != nil {
		return nil, err
	}
	// Check the token before the expensive hash, so a stranger cannot make
	// the server spend memory on argon2.
	if err := s.checkSetupToken(ctx, req.Token); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, req.Password)
	if err != nil {
		return nil, fmt.Errorf("account: hash password: %w", err)
	}
	var res *LoginResult
	err = s.st.InTx(ctx, func(q *store.Q) error {
		// Concurrent setups must see each other: see lockAccounts.
		if err := lockAccounts(ctx, q); err != nil {
			return err
		}
		n, err := q.CountUsers(ctx)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrSetupDone
		}
		if err := s.checkSetupTokenQ(ctx, q, req.Token); err != nil {
			return err
		}
		u := &store.User{Email: email, Name: name, PasswordHash: hash, Admin: true}
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := q.DeleteSetting(ctx, setupTokenKey); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, q, audit.Event{ActorID: u.ID, ActorEmail: u.Email, IP: req.Client.IP,
			Action: audit.ActionSetup, Target: "user:" + u.ID, Outcome: audit.Success}); err != nil {
			return err
		}
		res, err = s.newSession(ctx, q, u, req.Client)
		return err
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("instance set up", "user_id", res.User.ID)
	return res, nil
}

func (s *Service) checkSetupToken(ctx context.Context, token string) error {
	return s.checkSetupTokenQ(ctx, s.st.Reader(), token)
}

func (s *Service) checkSetupTokenQ(ctx context.Context, q *store.Q, token string) error {
	n, err := q.CountUsers(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return ErrSetupDone
	}
	want, err := q.Setting(ctx, setupTokenKey)
	if errors.Is(err, store.ErrNotFound) {
		return ErrSetupToken
	}
	if err != nil {
		return err
	}
	if token == "" || !auth.EqualTokens(hex.EncodeToString(auth.HashToken(token)), want) {
		return ErrSetupToken
	}
	return nil
}
