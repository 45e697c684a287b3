package consumer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// parsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", or PKCS #1
// "RSA PUBLIC KEY"): RSA of at least 2048 bits, ECDSA P-256 or P-384, or
// Ed25519.
func parsePublicKey(s string) (crypto.PublicKey, error) {
	block, rest := pem.Decode([]byte(s))
	if block == nil || strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("must be one PEM block (-----BEGIN PUBLIC KEY-----)")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, fmt.Errorf("is a PEM %q block: give the public key (-----BEGIN PUBLIC KEY-----), never a private key or certificate", block.Type)
	}
	if err != nil {
		return nil, errors.New("is not a readable public key: " + err.Error())
	}
	return checkKey(key)
}

func checkKey(key any) (crypto.PublicKey, error) {
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, fmt.Errorf("is an RSA key of %d bits: at least 2048 are needed", k.N.BitLen())
		}
		return k, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return nil, errors.New("is an EC key on a curve other than P-256 or P-384")
		}
		return k, nil
	case ed25519.PublicKey:
		return k, nil
	}
	return nil, fmt.Errorf("is a %T key: use RSA, EC (P-256, P-384) or Ed25519", key)
}

// keyFits reports whether key may verify alg.
func keyFits(key crypto.PublicKey, alg string) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve == elliptic.P256() || alg == "ES384" && k.Curve == elliptic.P384()
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

func keyFitsAlgorithms(pemText string, algs []string) string {
	key, err := parsePublicKey(pemText)
	if err != nil {
		return err.Error()
	}
	for _, alg := range algs {
		if !keyFits(key, alg) {
			return fmt.Sprintf("does not fit algorithm %s (an RSA key is for RS*/PS*, P-256 for ES256, P-384 for ES384, Ed25519 for EdDSA)", alg)
		}
	}
	return ""
}

// jwk is one key of a JWKS document (RFC 7517).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func b64(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}

// publicKey turns a JWK into a public key; private members are ignored.
func (k jwk) publicKey() (crypto.PublicKey, error) {
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA members")
		}
		ev := int(new(big.Int).SetBytes(e).Int64())
		return checkKey(&rsa.PublicKey{N: new(big.Int).SetBytes(n), E: ev})
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve = elliptic.P256()
		case "P-384":
			curve = elliptic.P384()
		default:
			return nil, errors.New("unsupported curve")
		}
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		size := (curve.Params().BitSize + 7) / 8
		if err1 != nil || err2 != nil || len(x) != size || len(y) != size {
			return nil, errors.New("bad EC members")
		}
		raw := append([]byte{4}, append(x, y...)...)
		pk, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, err
		}
		return pk, nil
	case "OKP":
		x, err := b64(k.X)
		if k.Crv != "Ed25519" || err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad OKP members")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, errors.New("unsupported kty")
}

// maxJWKSBytes bounds a JWKS document.
const maxJWKSBytes = 1 << 20

// jwksSet is one consumer's cached JWKS.
type jwksSet struct {
	url     string
	keys    map[string]crypto.PublicKey // by kid ("" for keys without one)
	fetched time.Time
}

// jwksCache caches JWKS documents per consumer. A document is refetched
// after jwksTTL, or on an unknown kid at most once per jwksMinRefresh.
type jwksCache struct {
	mu    sync.Mutex
	slots map[string]*jwksSlot // by consumer ID
}

// jwksSlot is one consumer's cached JWKS and the lock its fetches hold.
type jwksSlot struct {
	mu  sync.Mutex
	set *jwksSet
}

const (
	jwksTTL        = time.Hour
	jwksMinRefresh = time.Minute
)

// fetchJWKS downloads and parses a JWKS document; keys it cannot use are
// skipped.
func fetchJWKS(ctx context.Context, client *http.Client, url string) (map[string]crypto.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("JWKS answered HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("JWKS document is over 1 MiB")
	}
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS document is not JSON: %w", err)
	}
	out := map[string]crypto.PublicKey{}
	for _, k := range doc.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			continue
		}
		out[k.Kid] = pk
	}
	return out, nil
}
