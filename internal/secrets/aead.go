package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
)

// The AEAD every key in Sluice uses: AES-256-GCM from the standard library
// with 96-bit nonces and 128-bit tags. This file is the only place that
// builds one, and the Wycheproof test runs its vectors through the same
// three functions the keyring calls.
const (
	keySize   = 32 // AES-256
	nonceSize = 12 // 96 bits: GCM's standard nonce, never derived by GHASH
	tagSize   = 16
)

// newAEAD builds AES-256-GCM over key, refusing any other key size.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != keySize {
		return nil, fmt.Errorf("secrets: an AES-256 key is %d bytes, not %d", keySize, len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secrets: aes: %w", err)
	}
	a, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets: gcm: %w", err)
	}
	return a, nil
}

// newNonce draws a fresh random 96-bit nonce. With random nonces a key must
// seal fewer than 2^32 values; a term is rotated long before that.
func newNonce() ([]byte, error) {
	n := make([]byte, nonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("secrets: random nonce: %w", err)
	}
	return n, nil
}

// sealAEAD appends the GCM seal of plain (ciphertext || tag) to dst.
func sealAEAD(a cipher.AEAD, dst, nonce, plain, aad []byte) []byte {
	return a.Seal(dst, nonce, plain, aad)
}

// openAEAD opens sealed (ciphertext || tag). Any failure, a wrong nonce
// length included, is ErrDecrypt: never a panic, never partial plaintext.
func openAEAD(a cipher.AEAD, nonce, sealed, aad []byte) ([]byte, error) {
	if len(nonce) != a.NonceSize() || len(sealed) < a.Overhead() {
		return nil, ErrDecrypt
	}
	plain, err := a.Open(nil, nonce, sealed, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return plain, nil
}
