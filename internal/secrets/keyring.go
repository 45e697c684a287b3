package secrets

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// Options tunes a Keyring; the zero value is fine.
type Options struct {
	Logger *slog.Logger
	// BatchSize is how many rows a rotation re-encrypts per transaction
	// (default 200).
	BatchSize int
	// RefreshEvery is how often Seal looks for a term another process
	// added (default one minute), so a node keeps sealing under the newest
	// term after `sluice keys rotate` ran elsewhere.
	RefreshEvery time.Duration
}

// Keyring holds the data keys, one per term, and seals and opens stored
// secrets with them. The newest term seals; every term decrypts, so a
// rotation never makes a stored secret unreadable. Terms are never
// deleted. A Keyring is safe for concurrent use.
type Keyring struct {
	st     *store.Store
	master cipher.AEAD
	from   string
	opts   Options
	log    *slog.Logger
	reg    *Registry

	mu        sync.RWMutex
	keys      map[uint32]cipher.AEAD
	current   uint32
	refreshed time.Time // wall clock of the last load, for RefreshEvery

	refreshMu sync.Mutex // one refresh at a time
	queue     JobInserter

	// afterBatch, when set, runs after each committed rotation batch
	// (tests interrupt a rotation with it).
	afterBatch func(table string)
}

// OpenKeyring loads the keyring of st's database, unsealing every term
// with the master key, and creates term 1 when the keyring is empty. A
// term that does not unseal stops here with ErrWrongMasterKey: a Sluice
// started with the wrong key must not run, let alone seal new secrets
// under a second keyring.
func OpenKeyring(ctx context.Context, st *store.Store, mk MasterKey, opts Options) (*Keyring, error) {
	if len(mk.key) != keySize {
		return nil, errors.New("secrets: no master key")
	}
	master, err := newAEAD(mk.key)
	if err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 200
	}
	if opts.RefreshEvery <= 0 {
		opts.RefreshEvery = time.Minute
	}
	k := &Keyring{st: st, master: master, from: mk.from, opts: opts, log: opts.Logger,
		reg: &Registry{}, keys: map[uint32]cipher.AEAD{}}
	if err := k.Refresh(ctx); err != nil {
		return nil, err
	}
	if k.current == 0 {
		if err := k.createFirstTerm(ctx); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// createFirstTerm makes term 1. Two nodes starting at once on an empty
// database race; the loser finds the winner's term on reload.
func (k *Keyring) createFirstTerm(ctx context.Context) error {
	key, sealedKey, err := k.newDataKey(1)
	if err != nil {
		return err
	}
	defer clear(key)
	err = k.st.InTx(ctx, func(q *store.Q) error {
		return q.InsertKeyringTerm(ctx, &store.KeyringTerm{Term: 1, SealedKey: sealedKey})
	})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("secrets: create the keyring: %w", err)
	}
	if err := k.Refresh(ctx); err != nil {
		return err
	}
	if k.current == 0 {
		return errors.New("secrets: the keyring is still empty after creating term 1")
	}
	return nil
}

// termAAD binds a sealed data key to its term, so a key cannot be moved
// to another term.
func termAAD(term uint32) []byte {
	return []byte("sluice/keyring/term/" + strconv.FormatUint(uint64(term), 10))
}

// newDataKey draws a random data key and seals it under the master key for
// term: base64std(version || nonce || GCM(master, key)).
func (k *Keyring) newDataKey(term uint32) (key []byte, sealedKey string, err error) {
	key = make([]byte, keySize)
	if _, err := rand.Read(key); err != nil {
		return nil, "", fmt.Errorf("secrets: generate data key: %w", err)
	}
	nonce, err := newNonce()
	if err != nil {
		return nil, "", err
	}
	raw := append([]byte{formatVersion}, nonce...)
	raw = sealAEAD(k.master, raw, nonce, key, termAAD(term))
	return key, base64.StdEncoding.EncodeToString(raw), nil
}

// unsealDataKey opens a stored data key; failure means another master key.
func (k *Keyring) unsealDataKey(term uint32, sealedKey string) (cipher.AEAD, error) {
	raw, err := base64.StdEncoding.Strict().DecodeString(sealedKey)
	if err != nil || len(raw) < 1+nonceSize+tagSize || raw[0] != formatVersion {
		return nil, ErrDecrypt
	}
	key, err := openAEAD(k.master, raw[1:1+nonceSize], raw[1+nonceSize:], termAAD(term))
	if err != nil {
		return nil, err
	}
	defer clear(key)
	return newAEAD(key)
}

// Refresh loads terms added since the keyring was opened (by a rotation
// on another node or from the command line).
func (k *Keyring) Refresh(ctx context.Context) error {
	k.refreshMu.Lock()
	defer k.refreshMu.Unlock()
	terms, err := k.st.Reader().KeyringTerms(ctx)
	if err != nil {
		return fmt.Errorf("secrets: load the keyring: %w", err)
	}
	k.mu.RLock()
	known := make(map[uint32]bool, len(k.keys))
	for t := range k.keys {
		known[t] = true
	}
	k.mu.RUnlock()
	added := map[uint32]cipher.AEAD{}
	for _, t := range terms {
		if t.Term <= 0 || t.Term > math.MaxUint32 {
			return fmt.Errorf("secrets: the keyring holds an invalid term %d", t.Term)
		}
		term := uint32(t.Term)
		if known[term] {
			continue
		}
		a, err := k.unsealDataKey(term, t.SealedKey)
		if err != nil {
			k.log.Debug("keyring term does not unseal", "term", term)
			return fmt.Errorf("%w (the key given is from %s)", ErrWrongMasterKey, k.from)
		}
		added[term] = a
	}
	k.mu.Lock()
	for t, a := range added {
		k.keys[t] = a
		if t > k.current {
			k.current = t
		}
	}
	k.refreshed = time.Now()
	k.mu.Unlock()
	return nil
}

// refreshIfStale refreshes when the last load is older than RefreshEvery.
// A failure is logged and sealing goes on under the term known: that term
// still decrypts everywhere.
func (k *Keyring) refreshIfStale(ctx context.Context) {
	k.mu.RLock()
	stale := time.Since(k.refreshed) >= k.opts.RefreshEvery
	k.mu.RUnlock()
	if !stale {
		return
	}
	if err := k.Refresh(ctx); err != nil {
		k.log.Warn("keyring refresh failed; sealing under the newest term known", "err", err)
	}
}

// CurrentTerm is the term new secrets are sealed under.
func (k *Keyring) CurrentTerm() int {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return int(k.current)
}

// internalTimeout bounds the database reads that Seal and Open make on
// their own (they take no context): a refresh is one small query.
const internalTimeout = 10 * time.Second

// Seal encrypts plain under the current term, bound to aad. The result is
// what the database stores; TermOf tells which term sealed it.
func (k *Keyring) Seal(plain []byte, aad AAD) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), internalTimeout)
	defer cancel()
	return k.SealContext(ctx, plain, aad)
}

// SealContext is Seal with the context used for a refresh of the keyring.
func (k *Keyring) SealContext(ctx context.Context, plain []byte, aad AAD) (string, error) {
	ct, _, err := k.seal(ctx, plain, aad)
	return ct, err
}

// SealFor is Seal with the AAD spelled out, also returning the term, for
// callers that record it in a term column.
func (k *Keyring) SealFor(plain []byte, table, row, field string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), internalTimeout)
	defer cancel()
	return k.seal(ctx, plain, AAD{Table: table, Row: row, Field: field})
}

func (k *Keyring) seal(ctx context.Context, plain []byte, aad AAD) (string, int, error) {
	if err := aad.check(); err != nil {
		return "", 0, err
	}
	k.refreshIfStale(ctx)
	k.mu.RLock()
	term, a := k.current, k.keys[k.current]
	k.mu.RUnlock()
	if a == nil {
		return "", 0, errors.New("secrets: the keyring has no key to seal with")
	}
	return sealWith(a, term, plain, aad)
}

// sealWith seals plain with one data key.
func sealWith(a cipher.AEAD, term uint32, plain []byte, aad AAD) (string, int, error) {
	nonce, err := newNonce()
	if err != nil {
		return "", 0, err
	}
	s := sealed{version: formatVersion, term: term, nonce: nonce}
	s.box = sealAEAD(a, nil, nonce, plain, aad.bytes(formatVersion, term))
	return s.encode(), int(term), nil
}

// Open decrypts a sealed value stored at aad. A value that is malformed,
// tampered with, sealed for another place or under an unknown term is an
// error that Is ErrDecrypt; nothing of it is returned. A term this process
// has not seen yet is looked up in the database once.
func (k *Keyring) Open(stored string, aad AAD) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), internalTimeout)
	defer cancel()
	return k.OpenContext(ctx, stored, aad)
}

// OpenContext is Open with the context used for a refresh of the keyring.
func (k *Keyring) OpenContext(ctx context.Context, stored string, aad AAD) ([]byte, error) {
	if err := aad.check(); err != nil {
		return nil, err
	}
	s, err := parseSealed(stored)
	if err != nil {
		return nil, err
	}
	a := k.key(s.term)
	if a == nil {
		if err := k.Refresh(ctx); err != nil {
			return nil, err
		}
		if a = k.key(s.term); a == nil {
			return nil, fmt.Errorf("%w %d", ErrUnknownTerm, s.term)
		}
	}
	return openAEAD(a, s.nonce, s.box, aad.bytes(s.version, s.term))
}

// OpenFor is Open with the AAD spelled out.
func (k *Keyring) OpenFor(stored, table, row, field string) ([]byte, error) {
	return k.Open(stored, AAD{Table: table, Row: row, Field: field})
}

func (k *Keyring) key(term uint32) cipher.AEAD {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.keys[term]
}

// Registry lists the sealed columns a rotation re-encrypts.
func (k *Keyring) Registry() *Registry { return k.reg }
