package secrets

import "errors"

// Errors callers branch on. None of them ever holds a key or a secret.
var (
	// ErrDecrypt means a ciphertext cannot be opened: it is truncated,
	// tampered with, sealed for another row, field or table, or under a
	// term this keyring does not have. Nothing of its content is returned.
	ErrDecrypt = errors.New("secrets: the stored secret cannot be decrypted (damaged, moved from another row or field, or sealed under a key this database does not have)")
	// ErrUnknownTerm means a ciphertext names a key term the keyring does
	// not hold. It wraps ErrDecrypt.
	ErrUnknownTerm = wrapDecrypt("secrets: the stored secret was sealed under an unknown key term")
	// ErrWrongMasterKey means the keyring in the database was sealed under
	// another master key: start-up stops rather than read garbage.
	ErrWrongMasterKey = errors.New("the master key does not match this database's keyring: start Sluice with the master key it was created with (SLUICE_MASTER_KEY / --master-key-file)")
	// ErrNoQueue means Rotate was called on a keyring that cannot enqueue
	// the re-encryption job.
	ErrNoQueue = errors.New("secrets: the keyring has no job queue to run the rotation on")
)

// decryptError is an error that is also ErrDecrypt.
type decryptError struct{ msg string }

func (e *decryptError) Error() string        { return e.msg }
func (e *decryptError) Is(target error) bool { return target == ErrDecrypt }

func wrapDecrypt(msg string) error { return &decryptError{msg: msg} }
