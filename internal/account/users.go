package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/store"
)

// ErrForbidden means the caller may not do this (not an instance admin).
var ErrForbidden = errors.New("only an instance administrator may do this")

// NewUser is an account an administrator (or `sluice admin create-user`)
// creates.
type NewUser struct {
	Email, Password, Name string
	Admin                 bool
}

// CreateUser creates an account. actor is nil for the command line, which
// runs with the operator's authority; otherwise actor must be an instance
// administrator.
func (s *Service) CreateUser(ctx context.Context, actor *Principal, nu NewUser, c Client) (*store.User, error) {
	if actor != nil && !actor.User.Admin {
		return nil, ErrForbidden
	}
	email, err := NormalizeEmail(nu.Email)
	if err != nil {
		return nil, err
	}
	name, err := checkName(nu.Name)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("password", nu.Password, email); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, nu.Password)
	if err != nil {
		return nil, fmt.Errorf("account: hash password: %w", err)
	}
	u := &store.User{Email: email, Name: name, PasswordHash: hash, Admin: nu.Admin}
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		// The first account made from the command line ends setup.
		if err := q.DeleteSetting(ctx, setupTokenKey); err != nil {
			return err
		}
		ev := audit.Event{IP: c.IP, Action: audit.ActionUserCreate, Target: "user:" + u.ID, Outcome: audit.Success,
			Detail: map[string]any{"email": u.Email, "admin": u.Admin}}
		if actor != nil {
			ev.ActorID, ev.ActorEmail = actor.User.ID, actor.User.Email
		} else {
			ev.ActorEmail = "command line"
		}
		_, err := audit.Append(ctx, q, ev)
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ListUsers lists every account, for instance administrators.
func (s *Service) ListUsers(ctx context.Context, actor *Principal) ([]*store.User, error) {
	if !actor.User.Admin {
		return nil, ErrForbidden
	}
	return s.st.Reader().ListUsers(ctx)
}

// SetDisabled disables or re-enables an account. Disabling ends every
// session of the user at once and stops their API keys from working (they
// are checked against the user on every request).
func (s *Service) SetDisabled(ctx context.Context, actor *Principal, userID string, disabled bool, c Client) (*store.User, error) {
	if !actor.User.Admin {
		return nil, ErrForbidden
	}
	var u *store.User
	err := s.st.InTx(ctx, func(q *store.Q) error {
		// Two admins disabling each other must not both pass the
		// last-admin check: see lockAccounts.
		if err := lockAccounts(ctx, q); err != nil {
			return err
		}
		var err error
		if u, err = q.UserByID(ctx, userID); err != nil {
			return err
		}
		if disabled && u.Admin && !u.Disabled {
			n, err := q.CountActiveAdmins(ctx)
			if err != nil {
				return err
			}
			if n <= 1 {
				return ErrLastAdmin
			}
		}
		if err := q.SetUserDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		action := audit.ActionUserEnable
		detail := map[string]any{}
		if disabled {
			action = audit.ActionUserDisable
			ended, err := q.DeleteUserSessions(ctx, u.ID, "")
			if err != nil {
				return err
			}
			detail["sessions_ended"] = ended
		}
		u.Disabled = disabled
		_, err = audit.Append(ctx, q, audit.Event{ActorID: actor.User.ID, ActorEmail: actor.User.Email, IP: c.IP,
			Action: action, Target: "user:" + u.ID, Outcome: audit.Success, Detail: detail})
		return err
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

// ChangePassword replaces the caller's password after checking the current
// one, and ends every other session of theirs (a stolen session does not
// survive the change).
func (s *Service) ChangePassword(ctx context.Context, p *Principal, current, next string, c Client) error {
	u, err := s.st.Reader().UserByID(ctx, p.User.ID)
	if err != nil {
		return err
	}
	if err := s.checkPasswordOf(ctx, p, current, c); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return s.recordFailure(ctx, p, c, audit.ActionPasswordChange, err)
		}
		return err
	}
	if err := checkPassword("new_password", next, u.Email); err != nil {
		return err
	}
	if current == next {
		return &InvalidInputError{Field: "new_password", Message: "must differ from the current password"}
	}
	hash, err := s.hashPassword(ctx, next)
	if err != nil {
		return fmt.Errorf("account: hash password: %w", err)
	}
	keep := ""
	if p.Session != nil {
		keep = p.Session.ID
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.SetPasswordHash(ctx, u.ID, hash, true); err != nil {
			return err
		}
		ended, err := q.DeleteUserSessions(ctx, u.ID, keep)
		if err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: u.ID, ActorEmail: u.Email, IP: c.IP,
			Action: audit.ActionPasswordChange, Target: "user:" + u.ID, Outcome: audit.Success,
			Detail: map[string]any{"other_sessions_ended": ended}})
		return err
	})
}

// lockAccounts makes a check-then-write on accounts (no user yet, another
// active admin left) atomic against concurrent ones. Every account change
// appends an audit event under the audit chain's lock, so taking that lock
// first serialises them: a transaction that waited for it sees, under
// PostgreSQL's READ COMMITTED, what the one before it committed. (On
// SQLite the single write connection already serialises transactions.)
func lockAccounts(ctx context.Context, q *store.Q) error {
	return q.LockAuditChain(ctx)
}

// recordFailure writes a failed attempt at action and returns err.
func (s *Service) recordFailure(ctx context.Context, p *Principal, c Client, action string, err error) error {
	aerr := s.st.InTx(ctx, func(q *store.Q) error {
		_, e := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: action, Target: "user:" + p.User.ID, Outcome: audit.Failure})
		return e
	})
	return errors.Join(err, aerr)
}

// checkPasswordOf re-verifies the caller's password for a sensitive step.
// Wrong answers count against the same throttles as failed logins, so a
// stolen session cannot be used to guess the password.
func (s *Service) checkPasswordOf(ctx context.Context, p *Principal, password string, c Client) error {
	u, err := s.st.Reader().UserByID(ctx, p.User.ID)
	if err != nil {
		return err
	}
	acctKey, ipKey := "acct:"+u.Email, "ip:"+c.IP
	if err := s.allow(acctKey, ipKey); err != nil {
		return err
	}
	ok, err := s.verifyPassword(ctx, password, u.PasswordHash)
	if err != nil && ctx.Err() != nil {
		return err
	}
	if !ok {
		s.acctThrot.Fail(acctKey)
		s.ipThrottle.Fail(ipKey)
		return ErrWrongPassword
	}
	return nil
}

// Sessions lists the caller's live sessions.
func (s *Service) Sessions(ctx context.Context, p *Principal) ([]*store.Session, error) {
	return s.st.Reader().ListSessions(ctx, p.User.ID)
}

// RevokeSession ends one of the caller's sessions.
func (s *Service) RevokeSession(ctx context.Context, p *Principal, id string, c Client) error {
	return s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.DeleteSession(ctx, p.User.ID, id); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionSessionRevoke, Target: "session:" + id, Outcome: audit.Success})
		return err
	})
}

// RevokeOtherSessions ends every session of the caller but the current one.
func (s *Service) RevokeOtherSessions(ctx context.Context, p *Principal, c Client) (int64, error) {
	keep := ""
	if p.Session != nil {
		keep = p.Session.ID
	}
	var n int64
	err := s.st.InTx(ctx, func(q *store.Q) error {
		var err error
		if n, err = q.DeleteUserSessions(ctx, p.User.ID, keep); err != nil {
			return err
		}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionSessionRevoke, Target: "user:" + p.User.ID, Outcome: audit.Success,
			Detail: map[string]any{"sessions_ended": n}})
		return err
	})
	return n, err
}

// ConfirmPassword checks the caller's password again before an
// irreversible step (deleting a project). Wrong answers count against the
// login throttles and are recorded as a failure of action.
// projectID, when set, puts the failure in that project's log too.
func (s *Service) ConfirmPassword(ctx context.Context, p *Principal, password, action, projectID string, c Client) error {
	if err := s.checkPasswordOf(ctx, p, password, c); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			aerr := s.st.InTx(ctx, func(q *store.Q) error {
				_, e := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
					ProjectID: projectID, Action: action, Target: "project:" + projectID, Outcome: audit.Failure,
					Detail: map[string]any{"reason": "wrong password"}})
				return e
			})
			return errors.Join(err, aerr)
		}
		return err
	}
	return nil
}
