package secrets

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// DevKeyFile is the name of the master key file generated in the data
// directory when no master key is configured (development only).
const DevKeyFile = "master.key"

// MasterKey is the 32-byte key that seals the keyring's data keys. It
// prints as [REDACTED] everywhere, like Value.
type MasterKey struct {
	key []byte
	// from says where the key came from, for error messages (never the
	// key itself).
	from string
}

// From describes where the key was read from ("SLUICE_MASTER_KEY", a
// file path).
func (m MasterKey) From() string { return m.from }

// String implements fmt.Stringer.
func (m MasterKey) String() string { return Redacted }

// GoString implements fmt.GoStringer.
func (m MasterKey) GoString() string { return "secrets.MasterKey{" + Redacted + "}" }

// Format prints [REDACTED] for every verb.
func (m MasterKey) Format(f fmt.State, verb rune) { Value{}.Format(f, verb) }

// MarshalJSON implements json.Marshaler: "[REDACTED]".
func (m MasterKey) MarshalJSON() ([]byte, error) { return Value{}.MarshalJSON() }

// LogValue implements slog.LogValuer.
func (m MasterKey) LogValue() slog.Value { return slog.StringValue(Redacted) }

// ParseMasterKey decodes a master key given as base64 (standard or URL
// alphabet, padded or not) or as 64 hex digits; surrounding whitespace is
// ignored. The error never quotes the input.
func ParseMasterKey(s string) (MasterKey, error) {
	s = strings.TrimSpace(s)
	var key []byte
	if len(s) == 2*keySize {
		if b, err := hex.DecodeString(s); err == nil {
			key = b
		}
	}
	if key == nil {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
			if b, err := enc.Strict().DecodeString(s); err == nil && len(b) == keySize {
				key = b
				break
			}
		}
	}
	if len(key) != keySize {
		return MasterKey{}, errors.New("the master key must be 32 random bytes written as base64 (44 characters) or hex (64 characters); make one with `openssl rand -base64 32`")
	}
	if subtle.ConstantTimeCompare(key, make([]byte, keySize)) == 1 {
		return MasterKey{}, errors.New("the master key is all zero bytes: make a random one with `openssl rand -base64 32`")
	}
	return MasterKey{key: key}, nil
}

// MasterKeySource is where LoadMasterKey looks for the key.
type MasterKeySource struct {
	// Env is the value of SLUICE_MASTER_KEY (environment only: a key on a
	// command line is visible to every user of the machine).
	Env Value
	// File is --master-key-file.
	File string
	// DataDir is where a development key is generated when neither Env nor
	// File is given.
	DataDir string
	Logger  *slog.Logger
}

// LoadMasterKey reads the master key from SLUICE_MASTER_KEY or
// --master-key-file. With neither, it uses DATA_DIR/master.key, creating
// it (mode 0600) on first use with a warning: fine for development, but in
// production the key belongs outside the data directory and its backups.
func LoadMasterKey(src MasterKeySource) (MasterKey, error) {
	log := src.Logger
	if log == nil {
		log = slog.Default()
	}
	env := strings.TrimSpace(src.Env.Reveal())
	switch {
	case env != "" && src.File != "":
		return MasterKey{}, errors.New("both SLUICE_MASTER_KEY and --master-key-file are set: give the master key one way only")
	case env != "":
		k, err := ParseMasterKey(env)
		if err != nil {
			return MasterKey{}, fmt.Errorf("SLUICE_MASTER_KEY: %w", err)
		}
		k.from = "SLUICE_MASTER_KEY"
		return k, nil
	case src.File != "":
		return readKeyFile(src.File, "--master-key-file "+src.File)
	}
	return devKey(src.DataDir, log)
}

// readKeyFile reads a key file, refusing one that other users can read.
func readKeyFile(path, from string) (MasterKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file: %w", err)
	}
	if !info.Mode().IsRegular() {
		return MasterKey{}, fmt.Errorf("master key file %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return MasterKey{}, fmt.Errorf("master key file %s is open to other users (mode %04o): make it readable by Sluice's user only, e.g. chmod 600 %s", path, perm, path)
	}
	b, err := io.ReadAll(io.LimitReader(f, 1024))
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	k, err := ParseMasterKey(string(b))
	clear(b)
	if err != nil {
		return MasterKey{}, fmt.Errorf("master key file %s: %w", path, err)
	}
	k.from = from
	return k, nil
}

// devKey uses DATA_DIR/master.key, generating it if it does not exist.
func devKey(dataDir string, log *slog.Logger) (MasterKey, error) {
	if dataDir == "" {
		return MasterKey{}, errors.New("no master key: set SLUICE_MASTER_KEY or --master-key-file")
	}
	path := filepath.Join(dataDir, DevKeyFile)
	from := "the development key file " + path + " (no SLUICE_MASTER_KEY or --master-key-file was given)"
	if _, err := os.Stat(path); err == nil {
		return readKeyFile(path, from)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return MasterKey{}, fmt.Errorf("create data directory %s: %w", dataDir, err)
	}
	key := make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return MasterKey{}, fmt.Errorf("generate master key: %w", err)
	}
	// O_EXCL: if another process created the file first, use its key
	// rather than overwrite it.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return readKeyFile(path, from)
	}
	if err != nil {
		return MasterKey{}, fmt.Errorf("create development master key %s: %w", path, err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return MasterKey{}, fmt.Errorf("write development master key %s: %w", path, err)
	}
	log.Warn("development master key generated at " + path + "; set SLUICE_MASTER_KEY or --master-key-file in production")
	return MasterKey{key: key, from: from}, nil
}
