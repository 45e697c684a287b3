package account

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// InvitationTTL is how long an invitation link works.
const InvitationTTL = 7 * 24 * time.Hour

// User statuses, as listings show them.
const (
	StatusActive   = "active"
	StatusInvited  = "invited"
	StatusDisabled = "disabled"
)

// NewInvite is a colleague an instance administrator invites by email.
type NewInvite struct {
	Email, Name string
	Admin       bool
}

// Invited is the answer to an invitation: the user, and the token of their
// link in clear. The token exists only in this answer (only its hash is
// stored): the caller shows it once.
type Invited struct {
	User      *store.User
	Token     string
	ExpiresAt time.Time
}

// InvitationPath is the console path of an invitation link; the caller puts
// the instance's base URL in front.
func InvitationPath(token string) string { return "/invite?token=" + url.QueryEscape(token) }

// Pending says whether u was invited and has not set a password yet: such
// an account has no usable password and cannot log in.
func Pending(u *store.User) bool { return u.PasswordHash == "" }

// newInvitationToken returns 256 random bits in base64url.
func newInvitationToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("account: new invitation token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashInvitationToken(token string) string { return hex.EncodeToString(auth.HashToken(token)) }

// Invite creates an account with no usable password and a single-use link
// that lets the colleague choose one. Only instance administrators invite.
// An email already in use is store.ErrConflict, as for CreateUser.
func (s *Service) Invite(ctx context.Context, actor *Principal, ni NewInvite, c Client) (*Invited, error) {
	if !actor.User.Admin {
		return nil, ErrForbidden
	}
	email, err := NormalizeEmail(ni.Email)
	if err != nil {
		return nil, err
	}
	name, err := checkName(ni.Name)
	if err != nil {
		return nil, err
	}
	token, err := newInvitationToken()
	if err != nil {
		return nil, err
	}
	u := &store.User{Email: email, Name: name, Admin: ni.Admin}
	var inv *store.Invitation
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.CreateUser(ctx, u); err != nil {
			return err
		}
		now := s.now()
		inv = &store.Invitation{UserID: u.ID, TokenHash: hashInvitationToken(token), CreatedBy: actor.User.ID,
			CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
		if err := q.ReplaceInvitation(ctx, inv); err != nil {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: actor.User.ID, ActorEmail: actor.User.Email, IP: c.IP,
			Action: audit.ActionUserInvite, Target: "user:" + u.ID, Outcome: audit.Success,
			Detail: map[string]any{"email": u.Email, "admin": u.Admin, "expires_at": inv.ExpiresAt}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return &Invited{User: u, Token: token, ExpiresAt: inv.ExpiresAt}, nil
}

// NewInvitation makes a fresh link for a user who has not accepted their
// invitation yet; the old link stops working. A user who has a password
// already is ErrInvitationAccepted.
func (s *Service) NewInvitation(ctx context.Context, actor *Principal, userID string, c Client) (*Invited, error) {
	if !actor.User.Admin {
		return nil, ErrForbidden
	}
	token, err := newInvitationToken()
	if err != nil {
		return nil, err
	}
	var out *Invited
	err = s.st.InTx(ctx, func(q *store.Q) error {
		u, err := q.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if !Pending(u) {
			return ErrInvitationAccepted
		}
		now := s.now()
		inv := &store.Invitation{UserID: u.ID, TokenHash: hashInvitationToken(token), CreatedBy: actor.User.ID,
			CreatedAt: now, ExpiresAt: now.Add(InvitationTTL)}
		if err := q.ReplaceInvitation(ctx, inv); err != nil {
			return err
		}
		out = &Invited{User: u, Token: token, ExpiresAt: inv.ExpiresAt}
		_, err = audit.Append(ctx, q, audit.Event{ActorID: actor.User.ID, ActorEmail: actor.User.Email, IP: c.IP,
			Action: audit.ActionUserInvite, Target: "user:" + u.ID, Outcome: audit.Success,
			Detail: map[string]any{"email": u.Email, "expires_at": inv.ExpiresAt, "renewed": true}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AcceptRequest is what an invited colleague sends from their link.
type AcceptRequest struct {
	Token, Password, Name string
	Client                Client
}

// AcceptInvitation sets the first password of an invited user through
// their link and logs them in. A wrong, expired or used link, or one of a
// disabled account, is ErrInvalidInvitation whichever it was; failures
// count against the per-IP login throttle, so links cannot be guessed.
func (s *Service) AcceptInvitation(ctx context.Context, req AcceptRequest) (*LoginResult, error) {
	ipKey := "ip:" + req.Client.IP
	if ok, wait := s.ipThrottle.Allow(ipKey); !ok {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	fail := func(reason string) (*LoginResult, error) {
		s.ipThrottle.Fail(ipKey)
		// The user is not named: the event says only that a link was
		// refused, never which one.
		if aerr := s.st.InTx(ctx, func(q *store.Q) error {
			_, e := audit.Append(ctx, q, audit.Event{IP: req.Client.IP, Action: audit.ActionUserInviteAccept,
				Outcome: audit.Failure, Detail: map[string]any{"reason": reason}})
			return e
		}); aerr != nil {
			return nil, aerr
		}
		return nil, ErrInvalidInvitation
	}
	inv, u, err := s.invitation(ctx, req.Token)
	if errors.Is(err, ErrInvalidInvitation) {
		return fail("invalid, expired or used link")
	}
	if err != nil {
		return nil, err
	}
	name, err := checkName(req.Name)
	if err != nil {
		return nil, err
	}
	if err := checkPassword("password", req.Password, u.Email); err != nil {
		return nil, err
	}
	hash, err := s.hashPassword(ctx, req.Password)
	if err != nil {
		return nil, fmt.Errorf("account: hash password: %w", err)
	}
	var res *LoginResult
	err = s.st.InTx(ctx, func(q *store.Q) error {
		used, err := q.UseInvitation(ctx, inv.ID, s.now())
		if err != nil {
			return err
		}
		if !used {
			return ErrInvalidInvitation
		}
		// Read again in the transaction: disabled or accepted meanwhile.
		cur, err := q.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if cur.Disabled || !Pending(cur) {
			return ErrInvalidInvitation
		}
		if err := q.SetInvitedPassword(ctx, cur.ID, hash, name); err != nil {
			return err
		}
		cur.PasswordHash = hash
		if name != "" {
			cur.Name = name
		}
		if _, err := audit.Append(ctx, q, audit.Event{ActorID: cur.ID, ActorEmail: cur.Email, IP: req.Client.IP,
			Action: audit.ActionUserInviteAccept, Target: "user:" + cur.ID, Outcome: audit.Success}); err != nil {
			return err
		}
		res, err = s.newSession(ctx, q, cur, req.Client)
		return err
	})
	if errors.Is(err, ErrInvalidInvitation) {
		return fail("link used or account changed meanwhile")
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// CheckInvitation says whether a link would be accepted now, for the page
// that asks for the password; it returns the invited user's email and
// name to greet them. A bad link counts against the throttle like a
// refused acceptance.
func (s *Service) CheckInvitation(ctx context.Context, token string, c Client) (*store.User, error) {
	ipKey := "ip:" + c.IP
	if ok, wait := s.ipThrottle.Allow(ipKey); !ok {
		return nil, &ThrottledError{RetryAfter: wait}
	}
	_, u, err := s.invitation(ctx, token)
	if errors.Is(err, ErrInvalidInvitation) {
		s.ipThrottle.Fail(ipKey)
	}
	return u, err
}

// invitation finds the usable invitation of token and its user.
func (s *Service) invitation(ctx context.Context, token string) (*store.Invitation, *store.User, error) {
	token = strings.TrimSpace(token)
	if token == "" || len(token) > 100 {
		return nil, nil, ErrInvalidInvitation
	}
	q := s.st.Reader()
	inv, err := q.InvitationByTokenHash(ctx, hashInvitationToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrInvalidInvitation
	}
	if err != nil {
		return nil, nil, err
	}
	if inv.UsedAt != nil || !s.now().Before(inv.ExpiresAt) {
		return nil, nil, ErrInvalidInvitation
	}
	u, err := q.UserByID(ctx, inv.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, ErrInvalidInvitation
	}
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled || !Pending(u) {
		return nil, nil, ErrInvalidInvitation
	}
	return inv, u, nil
}

// UserEntry is a user as instance administrators list them: with their
// status and, while invited, when their link expires.
type UserEntry struct {
	User            *store.User
	Status          string
	InviteExpiresAt *time.Time
	// InviteExpired says the link has expired: the administrator makes a
	// new one.
	InviteExpired bool
}

// UserEntries lists every account with its status, for instance
// administrators.
func (s *Service) UserEntries(ctx context.Context, actor *Principal) ([]UserEntry, error) {
	users, err := s.ListUsers(ctx, actor)
	if err != nil {
		return nil, err
	}
	pending, err := s.st.Reader().PendingInvitations(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]UserEntry, 0, len(users))
	now := s.now()
	for _, u := range users {
		e := EntryOf(u, pending)
		e.InviteExpired = e.InviteExpiresAt != nil && !now.Before(*e.InviteExpiresAt)
		out = append(out, e)
	}
	return out, nil
}

// EntryOf is u's entry given the expiries of pending invitations.
func EntryOf(u *store.User, pending map[string]time.Time) UserEntry {
	e := UserEntry{User: u, Status: StatusActive}
	if Pending(u) {
		e.Status = StatusInvited
		if exp, ok := pending[u.ID]; ok {
			e.InviteExpiresAt = &exp
		}
	}
	if u.Disabled {
		e.Status = StatusDisabled
	}
	return e
}
