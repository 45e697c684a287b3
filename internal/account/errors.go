package account

import (
	"errors"
	"fmt"
	"time"
)

// Errors callers branch on; the web layer maps each to one status.
var (
	// ErrInvalidCredentials answers an unknown email and a wrong password
	// alike, so the answer does not tell which accounts exist.
	ErrInvalidCredentials = errors.New("invalid email or password")
	// ErrTOTPRequired means the password was right and the account needs
	// its second factor.
	ErrTOTPRequired = errors.New("this account uses two-factor login: send the 6-digit code from your authenticator app, or a recovery code, as \"totp\"")
	// ErrInvalidTOTP means the second factor was wrong, expired or reused.
	ErrInvalidTOTP = errors.New("the two-factor code is wrong, expired or already used: enter the current code from your authenticator app, or an unused recovery code")
	// ErrAccountDisabled means an administrator disabled the account.
	ErrAccountDisabled = errors.New("this account is disabled: ask an instance administrator to enable it")
	// ErrUnauthenticated means no valid session or API key came with the
	// request: missing, unknown, expired or revoked.
	ErrUnauthenticated = errors.New("authentication required: log in, or send an API key as \"Authorization: Bearer <key>\"")
	// ErrSetupDone means the instance already has an account.
	ErrSetupDone = errors.New("setup is already complete: log in, or ask an instance administrator for an account")
	// ErrSetupToken means the setup token is missing or wrong.
	ErrSetupToken = errors.New("the setup token is wrong: use the link printed in the server log at start-up")
	// ErrWrongPassword means a re-entered current password did not match.
	ErrWrongPassword = errors.New("the current password is wrong")
	// ErrLastAdmin protects the instance from losing its last administrator.
	ErrLastAdmin = errors.New("this is the last active instance administrator: make another user an administrator first")
	// ErrTOTPState means a two-factor operation does not fit the account's
	// current state (confirming with nothing pending, enabling twice).
	ErrTOTPState = errors.New("two-factor login is not in a state that allows this")
	// ErrInvalidInvitation answers a wrong, expired or used invitation
	// link alike, so the answer does not tell which.
	ErrInvalidInvitation = errors.New("this invitation link is invalid or has expired: ask your administrator for a new one")
	// ErrInvitationAccepted means the user has set a password already, so
	// there is nothing to invite them to.
	ErrInvitationAccepted = errors.New("this user has already accepted their invitation and set a password: they log in with it (an invitation link is only for users who have not)")
)

// InvalidInputError is a field the caller must fix.
type InvalidInputError struct {
	Field   string
	Message string
}

// Error reads as a sentence: "email is not a valid email address ...".
func (e *InvalidInputError) Error() string { return fmt.Sprintf("%s %s", e.Field, e.Message) }

// ThrottledError means too many failed logins from this IP or for this
// account; try again after RetryAfter.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed login attempts: try again in %d seconds", int((e.RetryAfter+time.Second-1)/time.Second))
}
