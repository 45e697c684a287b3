package account

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/store"
)

// LoginRequest is what a person types to log in.
type LoginRequest struct {
	Email, Password string
	// TOTP is the 6-digit code, or a recovery code, for accounts with
	// two-factor login.
	TOTP   string
	Client Client
}

// LoginResult is a new session. Token goes into the cookie and is never
// stored; CSRFToken must accompany unsafe requests made with the cookie.
type LoginResult struct {
	User      *store.User
	Session   *store.Session
	Token     string
	CSRFToken string
}

// Login checks the credentials and opens a new session, with a new ID
// every time (no fixation). Unknown emails and wrong passwords get the same
// error after the same work. Failures are throttled per account and per IP.
func (s *Service) Login(ctx context.Context, req LoginRequest) (*LoginResult, error) {
	email := strings.ToLower(strings.TrimSpace(req.Email))
	acctKey, ipKey := "acct:"+email, "ip:"+req.Client.IP
	if err := s.allow(acctKey, ipKey); err != nil {
		return nil, err
	}
	// The whole check runs in a hash slot, and the throttle is asked again
	// once the slot is ours: attempts that queued behind others are
	// refused if those others used up the budget.
	release, err := s.hashSlot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if err := s.allow(acctKey, ipKey); err != nil {
		return nil, err
	}
	fail := func(u *store.User, reason string, err error) (*LoginResult, error) {
		s.ipThrottle.Fail(ipKey)
		s.acctThrot.Fail(acctKey)
		ev := audit.Event{IP: req.Client.IP, Action: audit.ActionLogin, Outcome: audit.Failure, Detail: map[string]any{"reason": reason}}
		// The attempted email is recorded only when it names an account:
		// people type passwords into the email field, and that must not
		// land in the log.
		if u != nil {
			ev.ActorID, ev.ActorEmail, ev.Target = u.ID, u.Email, "user:"+u.ID
		}
		if aerr := s.st.InTx(ctx, func(q *store.Q) error { _, e := audit.Append(ctx, q, ev); return e }); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}

	u, err := s.st.Reader().UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		auth.DummyVerify(req.Password, s.cfg.Params)
		return fail(nil, "unknown account", ErrInvalidCredentials)
	}
	if err != nil {
		return nil, err
	}
	if Pending(u) {
		// Invited, no password chosen yet: the same work and answer as a
		// wrong password, so the login form tells nothing of invitations.
		auth.DummyVerify(req.Password, s.cfg.Params)
		return fail(u, "invitation not accepted", ErrInvalidCredentials)
	}
	ok, rehash, err := auth.VerifyPassword(req.Password, u.PasswordHash, s.cfg.Params)
	if err != nil {
		s.log.Error("stored password hash is unreadable", "user_id", u.ID, "err", err)
	}
	if !ok {
		return fail(u, "wrong password", ErrInvalidCredentials)
	}
	if u.Disabled {
		return fail(u, "account disabled", ErrAccountDisabled)
	}
	usedRecovery := false
	if u.TOTPEnabled {
		if strings.TrimSpace(req.TOTP) == "" {
			// Not a failure of the password: no throttle, no event.
			return nil, ErrTOTPRequired
		}
		usedRecovery, err = s.checkSecondFactor(ctx, u, req.TOTP)
		if err != nil {
			if errors.Is(err, ErrInvalidTOTP) {
				return fail(u, "wrong two-factor code", err)
			}
			return nil, err
		}
	}
	s.acctThrot.Reset(acctKey)

	var res *LoginResult
	err = s.st.InTx(ctx, func(q *store.Q) error {
		if rehash {
			// Raw, not s.hashPassword: this login already holds a slot.
			h, err := auth.HashPassword(req.Password, s.cfg.Params)
			if err != nil {
				return fmt.Errorf("account: rehash password: %w", err)
			}
			if err := q.SetPasswordHash(ctx, u.ID, h, false); err != nil {
				return err
			}
		}
		detail := map[string]any{}
		if usedRecovery {
			detail["recovery_code"] = true
		}
		if _, err := audit.Append(ctx, q, audit.Event{ActorID: u.ID, ActorEmail: u.Email, IP: req.Client.IP,
			Action: audit.ActionLogin, Target: "user:" + u.ID, Outcome: audit.Success, Detail: detail}); err != nil {
			return err
		}
		res, err = s.newSession(ctx, q, u, req.Client)
		return err
	})
	return res, err
}

// allow asks both login throttles.
func (s *Service) allow(acctKey, ipKey string) error {
	if ok, wait := s.ipThrottle.Allow(ipKey); !ok {
		return &ThrottledError{RetryAfter: wait}
	}
	if ok, wait := s.acctThrot.Allow(acctKey); !ok {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// checkSecondFactor accepts a current TOTP code (each step once) or an
// unused recovery code, reporting whether a recovery code was used.
func (s *Service) checkSecondFactor(ctx context.Context, u *store.User, code string) (bool, error) {
	code = strings.TrimSpace(code)
	if len(code) == 6 && strings.Trim(code, "0123456789") == "" {
		secret, err := s.openTOTP(ctx, u.ID, totpSecretField, u.TOTPSecret)
		if err != nil {
			return false, err
		}
		step, ok := auth.ValidateTOTP(secret, code, s.cfg.Now(), u.TOTPLastStep)
		if !ok {
			return false, ErrInvalidTOTP
		}
		// The conditional update makes the step single-use even when two
		// logins race with the same code.
		used, err := s.st.Writer().UseTOTPStep(ctx, u.ID, step)
		if err != nil {
			return false, err
		}
		if !used {
			return false, ErrInvalidTOTP
		}
		return false, nil
	}
	used, err := s.st.Writer().UseRecoveryCode(ctx, u.ID, hex.EncodeToString(auth.HashRecoveryCode(code)))
	if err != nil {
		return false, err
	}
	if !used {
		return false, ErrInvalidTOTP
	}
	return true, nil
}

// newSession opens a session for u inside q's transaction.
func (s *Service) newSession(ctx context.Context, q *store.Q, u *store.User, c Client) (*LoginResult, error) {
	token, hash, err := auth.NewSessionToken()
	if err != nil {
		return nil, fmt.Errorf("account: new session token: %w", err)
	}
	now := s.now()
	sess := &store.Session{
		TokenHash: hex.EncodeToString(hash), UserID: u.ID, CreatedAt: now, LastSeenAt: now,
		IdleExpiresAt: now.Add(s.cfg.SessionIdle), AbsoluteExpiresAt: now.Add(s.cfg.SessionMax),
		IP: c.IP, UserAgent: truncate(c.UserAgent, 300),
	}
	if err := q.CreateSession(ctx, sess); err != nil {
		return nil, err
	}
	return &LoginResult{User: u, Session: sess, Token: token, CSRFToken: CSRFToken(token)}, nil
}

// CSRFToken derives the anti-CSRF token of a session from its secret
// cookie value. It is never stored: the server recomputes it from the
// cookie, and a page on another origin can neither read the cookie nor
// the token.
func CSRFToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("sluice-csrf-v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// Logout ends the session.
func (s *Service) Logout(ctx context.Context, p *Principal, c Client) error {
	if p.Session == nil {
		return nil
	}
	return s.st.InTx(ctx, func(q *store.Q) error {
		if err := q.DeleteSession(ctx, p.User.ID, p.Session.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		_, err := audit.Append(ctx, q, audit.Event{ActorID: p.User.ID, ActorEmail: p.User.Email, IP: c.IP,
			Action: audit.ActionLogout, Target: "session:" + p.Session.ID, Outcome: audit.Success})
		return err
	})
}

// Principal is who a request acts for: a user, through a session cookie or
// an API key. Roles are not cached here: they are read on every request.
type Principal struct {
	User    *store.User
	Session *store.Session
	APIKey  *store.APIKey
	token   string
}

// CSRFToken is the token unsafe cookie requests must carry ("" for API
// keys, which need none: a browser never sends them on its own).
func (p *Principal) CSRFToken() string {
	if p.Session == nil {
		return ""
	}
	return CSRFToken(p.token)
}

// touchEvery bounds how often a session's or key's last use is written, so
// a busy client does not turn every read into a database write.
const touchEvery = time.Minute

// AuthenticateSession resolves a session cookie value.
func (s *Service) AuthenticateSession(ctx context.Context, token string) (*Principal, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrUnauthenticated
	}
	sess, u, err := s.st.Reader().SessionWithUser(ctx, hex.EncodeToString(auth.HashToken(token)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if !now.Before(sess.IdleExpiresAt) || !now.Before(sess.AbsoluteExpiresAt) {
		_ = s.st.Writer().DeleteSession(ctx, sess.UserID, sess.ID)
		return nil, ErrUnauthenticated
	}
	// A disabled user's sessions authenticate nothing (they are also
	// deleted when the user is disabled).
	if u.Disabled {
		return nil, ErrUnauthenticated
	}
	if now.Sub(sess.LastSeenAt) >= touchEvery {
		if err := s.st.Writer().TouchSession(ctx, sess.ID, now, now.Add(s.cfg.SessionIdle)); err != nil {
			return nil, err
		}
	}
	return &Principal{User: u, Session: sess, token: token}, nil
}

// AuthenticateAPIKey resolves a Bearer API key.
func (s *Service) AuthenticateAPIKey(ctx context.Context, key, ip string) (*Principal, error) {
	if !auth.LooksLikeAPIKey(key) {
		return nil, ErrUnauthenticated
	}
	k, u, err := s.st.Reader().APIKeyWithUser(ctx, hex.EncodeToString(auth.HashToken(key)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, err
	}
	now := s.now()
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return nil, ErrUnauthenticated
	}
	// A disabled user's keys authenticate nothing.
	if u.Disabled {
		return nil, ErrUnauthenticated
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) >= touchEvery || k.LastUsedIP != ip {
		if err := s.st.Writer().TouchAPIKey(ctx, k.ID, now, ip); err != nil {
			return nil, err
		}
	}
	return &Principal{User: u, APIKey: k}, nil
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
