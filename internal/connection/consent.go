package connection

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
)

// ConsentTTL is how long a user has to consent at the authorization
// server.
const ConsentTTL = 10 * time.Minute

// ErrNotConsentable: only an http connection with OAuth 2.0 and the
// authorization_code grant has a consent to give.
var ErrNotConsentable = errors.New("this connection does not use OAuth 2.0 with the authorization_code grant: nothing to consent to")

// ErrBadState: the callback's state is unknown, used, expired or another
// user's.
var ErrBadState = errors.New("the consent link is unknown, already used or expired (10 minutes): start the connection's authorization again")

func stateHash(state string) string {
	sum := sha256.Sum256([]byte(state))
	return hex.EncodeToString(sum[:])
}

// Authorize starts a consent: it stores a single-use state with the sealed
// PKCE verifier and returns the authorization server's link for the user.
func (s *Service) Authorize(ctx context.Context, p *account.Principal, projectID, id, redirectURI string) (string, time.Time, error) {
	c, err := s.Get(ctx, projectID, id)
	if err != nil {
		return "", time.Time{}, err
	}
	sec, err := s.open(c.Row)
	if err != nil {
		return "", time.Time{}, err
	}
	cfg, err := authConfig(mergeAuthSecrets(c.Auth, sec))
	if err != nil || c.Row.Kind != "http" || cfg.OAuth2 == nil || cfg.OAuth2.Grant != "authorization_code" {
		return "", time.Time{}, ErrNotConsentable
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", time.Time{}, err
	}
	state := base64.RawURLEncoding.EncodeToString(raw)
	verifier := httpauth.GenerateVerifier()
	hash := stateHash(state)
	sealed, _, err := s.sealer.SealFor([]byte(verifier), "oauth_states", hash, "verifier")
	if err != nil {
		return "", time.Time{}, err
	}
	link, err := httpauth.AuthCodeURL(cfg, state, verifier, redirectURI)
	if err != nil {
		return "", time.Time{}, err
	}
	expires := s.st.Now().Add(ConsentTTL)
	err = s.st.Writer().CreateOAuthState(ctx, &store.OAuthState{StateHash: hash, ConnectionID: id, ProjectID: projectID,
		UserID: p.User.ID, Verifier: sealed, RedirectURI: redirectURI, ExpiresAt: expires})
	if err != nil {
		return "", time.Time{}, err
	}
	return link, expires, nil
}

// Pending is a consent the callback has taken: who started it, for which
// connection.
type Pending struct {
	State    *store.OAuthState
	verifier string
}

// TakeConsent takes the pending consent of a callback's state (single
// use); it must be the caller's own.
func (s *Service) TakeConsent(ctx context.Context, p *account.Principal, state string) (*Pending, error) {
	if state == "" {
		return nil, ErrBadState
	}
	hash := stateHash(state)
	var st *store.OAuthState
	err := s.st.InTx(ctx, func(q *store.Q) error {
		var err error
		if st, err = q.TakeOAuthState(ctx, hash); err != nil {
			return err
		}
		if st.UserID != p.User.ID {
			// Roll the take back: someone else's attempt must not use up
			// the consent of the user who started it.
			return ErrBadState
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrBadState
	}
	if err != nil {
		return nil, err
	}
	verifier, err := s.sealer.OpenFor(st.Verifier, "oauth_states", hash, "verifier")
	if err != nil {
		return nil, err
	}
	return &Pending{State: st, verifier: string(verifier)}, nil
}

// CompleteConsent trades the authorization code for tokens through the
// project's egress guard and stores the refresh token, sealed.
func (s *Service) CompleteConsent(ctx context.Context, p *account.Principal, pend *Pending, code string, cl account.Client) error {
	c, err := s.Get(ctx, pend.State.ProjectID, pend.State.ConnectionID)
	if err != nil {
		return err
	}
	sec, err := s.open(c.Row)
	if err != nil {
		return err
	}
	cfg, err := authConfig(mergeAuthSecrets(c.Auth, sec))
	if err != nil || cfg.OAuth2 == nil || cfg.OAuth2.Grant != "authorization_code" {
		return ErrNotConsentable
	}
	base, err := s.Network.BaseTransport(ctx, pend.State.ProjectID, c, sec)
	if err != nil {
		return err
	}
	tok, err := httpauth.Exchange(ctx, cfg, code, pend.verifier, pend.State.RedirectURI, base)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrConsentFailed, err)
	}
	if tok.RefreshToken == "" {
		return fmt.Errorf("%w: the authorization server issued no refresh token: ask for offline access (a scope such as offline_access) in auth.scopes", ErrConsentFailed)
	}
	next := Secrets{}
	for k, v := range sec {
		next[k] = v
	}
	next["auth.refresh_token"] = secrets.NewValue(tok.RefreshToken)
	row := *c.Row
	if err := s.seal(&row, next); err != nil {
		return err
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.SetConnectionSecrets(ctx, row.ProjectID, row.ID, row.Secrets, row.SecretsTerm); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, event(p, cl, row.ProjectID, audit.ActionConnectionConsent, "connection:"+row.ID,
			map[string]any{"name": row.Name, "secrets_changed": []string{"auth.refresh_token"}}))
		return err
	})
}

// ErrConsentFailed: the authorization server refused the code.
var ErrConsentFailed = errors.New("the authorization server refused the consent")

// ErrConsentRefused: the authorization server sent the user back with an
// error instead of a code (the user said no, or the request was wrong).
var ErrConsentRefused = errors.New("the authorization server refused the consent")

// ErrConsentRoleLost: the user who started a consent may no longer change
// the project's credentials.
var ErrConsentRoleLost = errors.New("your role on this project no longer allows changing its credentials")

// Answer is what the authorization server sent back to the callback.
type Answer struct {
	State, Code, Error, ErrorDescription string
}

// Resolver is the caller's grant on a project (project.Service.Resolve):
// a project the caller lost access to is an error.
type Resolver func(ctx context.Context, p *account.Principal, projectID string) (*access.Grant, error)

// FinishConsent is the callback, the same for the API and the console:
// it takes the caller's own pending consent (single use), checks the
// caller may still change the project's credentials, refuses an answer
// that carries an error, and trades the code. It returns the consent's
// state (project and connection) for the answer.
func (s *Service) FinishConsent(ctx context.Context, p *account.Principal, resolve Resolver, a Answer, cl account.Client) (*store.OAuthState, error) {
	pend, err := s.TakeConsent(ctx, p, a.State)
	if err != nil {
		return nil, err
	}
	g, err := resolve(ctx, p, pend.State.ProjectID)
	if err != nil {
		return nil, err
	}
	if !access.Can(g.Role, access.ManageCredentials) {
		return nil, ErrConsentRoleLost
	}
	if a.Error != "" {
		return nil, fmt.Errorf("%w (%s): %s", ErrConsentRefused, clip(a.Error, 60), clip(a.ErrorDescription, 200))
	}
	if err := s.CompleteConsent(ctx, p, pend, a.Code, cl); err != nil {
		return nil, err
	}
	return pend.State, nil
}

// clip shortens text another site chose before it is shown.
func clip(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
