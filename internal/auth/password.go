package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters of a password hash.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are the RFC 9106 / OWASP minimums for argon2id: 19 MiB of
// memory, two passes, one lane, a 128-bit salt and a 256-bit key.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on argon2id parameters. Stored hashes are parsed against them so
// that a tampered row cannot make one login allocate gigabytes or spin for
// minutes; HashPassword uses the same bounds so it never writes a hash that
// VerifyPassword would refuse.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 20
	maxThreads   = 16
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
)

// b64 is the PHC string encoding: standard alphabet, no padding. Strict
// rejects non-canonical trailing bits, so one hash has one spelling.
var b64 = base64.RawStdEncoding.Strict()

// validate reports whether p is inside the safety bounds.
func (p Params) validate() error {
	switch {
	case p.Memory > maxMemoryKiB:
		return fmt.Errorf("memory %d KiB exceeds %d KiB", p.Memory, maxMemoryKiB)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time %d outside 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("threads %d outside 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads):
		return fmt.Errorf("memory %d KiB below 8 KiB per thread", p.Memory)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length %d outside %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length %d outside %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// HashPassword hashes password with argon2id under p and a fresh random
// salt, returning a PHC string such as
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func HashPassword(password string, p Params) (string, error) {
	if len(password) > MaxPasswordLen {
		return "", ErrPasswordTooLong
	}
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("%w: %v", ErrInvalidParams, err)
	}
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: unable to read salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return formatPHC(p, salt, key), nil
}

// VerifyPassword reports whether password matches the PHC string phc, and
// whether the hash should be recomputed because its memory, time, threads
// or key length differ from current. A malformed or out-of-bounds phc
// returns ErrInvalidHash. A password longer than MaxPasswordLen never
// matches and is not hashed.
func VerifyPassword(password, phc string, current Params) (ok bool, needsRehash bool, err error) {
	stored, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, false, err
	}
	if len(password) > MaxPasswordLen {
		return false, false, nil
	}
	got := argon2.IDKey([]byte(password), salt, stored.Time, stored.Memory, stored.Threads, stored.KeyLen)
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	needsRehash = stored.Memory != current.Memory || stored.Time != current.Time ||
		stored.Threads != current.Threads || stored.KeyLen != current.KeyLen
	return true, needsRehash, nil
}

// DummyVerify spends the time of a failed VerifyPassword under p. Call it
// when a login names an unknown account, so the answer and its timing are
// the same as for a wrong password.
//
// The dummy hash is built from an all-zero salt and key rather than being
// computed once and cached: it goes through exactly the same parse, derive
// and compare steps, no password can match it (that would need an argon2
// preimage of zero), and there is no first-call cost that would itself be a
// timing signal. Parameters outside the safety bounds are replaced by
// DefaultParams.
func DummyVerify(password string, p Params) {
	if p.validate() != nil {
		// Stored hashes are always within bounds, so the defaults are the
		// closest stand-in for a real row.
		p = DefaultParams
	}
	_, _, _ = VerifyPassword(password, dummyPHC(p), p)
}

// dummyPHC returns a well-formed hash under p that no password matches.
func dummyPHC(p Params) string {
	return formatPHC(p, make([]byte, p.SaltLen), make([]byte, p.KeyLen))
}

// formatPHC writes the PHC string for an argon2id hash.
func formatPHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$%s$%s$%s",
		argon2.Version, formatCost(p), b64.EncodeToString(salt), b64.EncodeToString(key))
}

// formatCost writes the m,t,p segment in its one canonical spelling.
func formatCost(p Params) string {
	return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads)
}

// parsePHC parses an argon2id PHC string strictly: exact field order, no
// optional fields, canonical numbers and base64, parameters within bounds.
func parsePHC(phc string) (Params, []byte, []byte, error) {
	fail := func(why string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrInvalidHash, why)
	}
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" {
		return fail("not a PHC string")
	}
	if parts[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("unsupported argon2 version")
	}
	var p Params
	for i, field := range strings.Split(parts[3], ",") {
		name, value, found := strings.Cut(field, "=")
		n, err := strconv.ParseUint(value, 10, 32)
		if !found || i > 2 || name != [...]string{"m", "t", "p"}[i] || err != nil {
			return fail("malformed parameters")
		}
		switch name {
		case "m":
			p.Memory = uint32(n)
		case "t":
			p.Time = uint32(n)
		case "p":
			if n > 255 {
				return fail("malformed parameters")
			}
			p.Threads = uint8(n)
		}
	}
	// Re-spelling the parameters rejects leading zeros, a missing field and
	// any other non-canonical form the loop let through.
	if formatCost(p) != parts[3] {
		return fail("malformed parameters")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return fail("malformed salt")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return fail("malformed hash")
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.validate(); err != nil {
		return fail(err.Error())
	}
	return p, salt, key, nil
}
