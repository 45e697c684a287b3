package auth

import "errors"

// ErrInvalidHash reports a stored password hash that is not a well-formed
// argon2id PHC string with parameters inside Sluice's safety bounds. A row
// that fails this way was corrupted or tampered with; it never verifies.
var ErrInvalidHash = errors.New("auth: invalid password hash")

// ErrInvalidParams reports argon2id parameters outside Sluice's safety
// bounds, given to HashPassword.
var ErrInvalidParams = errors.New("auth: invalid argon2id parameters")

// ErrPasswordTooLong reports a password longer than MaxPasswordLen bytes
// given to HashPassword.
var ErrPasswordTooLong = errors.New("auth: password longer than the maximum length")

// PolicyError reports a password that CheckPasswordPolicy refuses. Reason
// is written for the person choosing the password: it says what is wrong
// and how to fix it.
type PolicyError struct {
	Reason string
}

// Error returns the user-facing reason.
func (e *PolicyError) Error() string { return e.Reason }
