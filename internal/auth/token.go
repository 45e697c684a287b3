package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
)

// APIKeyPrefix starts every API key, so a leaked key is recognisable by
// secret scanners and LooksLikeAPIKey can tell keys from session tokens.
const APIKeyPrefix = "slk_"

// tokenBytes is the entropy of every opaque secret: 256 bits.
const tokenBytes = 32

// tokenEncoding is URL- and cookie-safe, without padding. Strict refuses
// non-canonical trailing bits, so one secret has one spelling.
var tokenEncoding = base64.RawURLEncoding.Strict()

// encodedTokenLen is the length of tokenBytes once encoded (43).
var encodedTokenLen = tokenEncoding.EncodedLen(tokenBytes)

// randomToken returns tokenBytes random bytes, encoded.
func randomToken() (string, error) {
	b := make([]byte, tokenBytes)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("auth: unable to read random bytes: %w", err)
	}
	return tokenEncoding.EncodeToString(b), nil
}

// NewSessionToken returns a new session token for the cookie and the hash
// to store in its place.
func NewSessionToken() (plain string, hash []byte, err error) {
	plain, err = randomToken()
	if err != nil {
		return "", nil, err
	}
	return plain, HashToken(plain), nil
}

// NewAPIKey returns a new API key, "slk_" followed by 256 random bits, and
// the hash to store in its place. The plain key is shown to its owner once.
func NewAPIKey() (plain string, hash []byte, err error) {
	t, err := randomToken()
	if err != nil {
		return "", nil, err
	}
	plain = APIKeyPrefix + t
	return plain, HashToken(plain), nil
}

// HashToken returns the SHA-256 of a session token or API key, the form in
// which they are stored and looked up. A fast unsalted hash is enough here,
// unlike for passwords: the secrets carry 256 random bits, so there is
// nothing to guess and no dictionary to precompute.
func HashToken(plain string) []byte {
	sum := sha256.Sum256([]byte(plain))
	return sum[:]
}

// LooksLikeAPIKey reports whether s has the shape of an API key: the
// prefix followed by exactly 32 bytes in canonical unpadded base64url. It
// lets the caller skip a store lookup for anything else; it proves nothing
// about the key being valid.
func LooksLikeAPIKey(s string) bool {
	rest, ok := strings.CutPrefix(s, APIKeyPrefix)
	if !ok || len(rest) != encodedTokenLen {
		return false
	}
	b, err := tokenEncoding.DecodeString(rest)
	return err == nil && len(b) == tokenBytes
}

// NewSetupToken returns a one-time token, 256 random bits in base64url,
// that lets the first visitor create the initial owner account.
func NewSetupToken() (string, error) { return randomToken() }

// NewCSRFToken returns a CSRF token, 256 random bits in base64url.
func NewCSRFToken() (string, error) { return randomToken() }

// EqualTokens compares two secrets in time that depends only on their
// lengths. An empty token never equals anything, so a missing form field
// cannot match a missing cookie.
func EqualTokens(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
