package secrets

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// The stored form of a sealed secret (format version 1):
//
//	"sk1:" base64std( version (1 byte, = 1) || term (uint32, big-endian) ||
//	                  nonce (12 random bytes) || AES-256-GCM ciphertext || tag (16 bytes) )
//
// The prefix lets a reader tell a sealed value from a legacy plain one
// stored before the keyring existed. The GCM additional data binds the
// ciphertext to its header and to where it is stored:
//
//	version || term || len(table) || table || len(row) || row || len(field) || field
//
// with each length a uint32, big-endian, so no two (table, row, field)
// triples give the same bytes; a value copied to another row, field or
// table, or with its term or version changed, fails to open.
const (
	// Prefix starts every sealed value.
	Prefix = "sk1:"
	// formatVersion is the first byte of every sealed value.
	formatVersion byte = 1
	headerSize         = 1 + 4 + nonceSize
)

// AAD names where a sealed value is stored: its table, the ID of its row
// and its column (or field). Every part is required.
type AAD struct {
	Table, Row, Field string
}

func (a AAD) check() error {
	if a.Table == "" || a.Row == "" || a.Field == "" {
		return errors.New("secrets: a sealed value must be bound to a table, a row and a field")
	}
	return nil
}

// bytes is the additional data GCM authenticates for a value at a under
// the given version and term.
func (a AAD) bytes(version byte, term uint32) []byte {
	b := make([]byte, 0, 5+12+len(a.Table)+len(a.Row)+len(a.Field))
	b = append(b, version)
	b = binary.BigEndian.AppendUint32(b, term)
	for _, s := range [...]string{a.Table, a.Row, a.Field} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	return b
}

// IsSealed reports whether a stored value is a sealed one (rather than a
// legacy plain value, or empty).
func IsSealed(stored string) bool { return strings.HasPrefix(stored, Prefix) }

// sealed is a parsed ciphertext.
type sealed struct {
	version byte
	term    uint32
	nonce   []byte
	box     []byte // GCM ciphertext || tag
}

func (s sealed) encode() string {
	raw := make([]byte, 0, headerSize+len(s.box))
	raw = append(raw, s.version)
	raw = binary.BigEndian.AppendUint32(raw, s.term)
	raw = append(raw, s.nonce...)
	raw = append(raw, s.box...)
	return Prefix + base64.StdEncoding.EncodeToString(raw)
}

// parseSealed reads a stored value; anything malformed is ErrDecrypt.
func parseSealed(stored string) (sealed, error) {
	if !IsSealed(stored) {
		return sealed{}, wrapDecrypt("secrets: the stored value is not a sealed secret (no " + Prefix + " prefix)")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(stored[len(Prefix):])
	if err != nil {
		return sealed{}, wrapDecrypt("secrets: the sealed secret is not valid base64")
	}
	if len(raw) < headerSize+tagSize {
		return sealed{}, wrapDecrypt("secrets: the sealed secret is truncated")
	}
	if raw[0] != formatVersion {
		return sealed{}, wrapDecrypt(fmt.Sprintf("secrets: the sealed secret has format version %d; this Sluice reads version %d", raw[0], formatVersion))
	}
	return sealed{
		version: raw[0],
		term:    binary.BigEndian.Uint32(raw[1:5]),
		nonce:   raw[5:headerSize],
		box:     raw[headerSize:],
	}, nil
}

// TermOf reads the key term a sealed value names, without opening it.
func TermOf(stored string) (int, error) {
	s, err := parseSealed(stored)
	if err != nil {
		return 0, err
	}
	return int(s.term), nil
}
