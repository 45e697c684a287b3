package httpauth

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/dghubble/oauth1"
)

// oauth1SignerFor picks the signature method. HMAC-SHA1, HMAC-SHA256 and
// RSA-SHA1 are dghubble/oauth1's; RSA-SHA256 and PLAINTEXT are below,
// through the same oauth1.Signer interface.
func oauth1SignerFor(o *OAuth1) (oauth1.Signer, error) {
	switch o.SignatureMethod {
	case HMACSHA1:
		return &oauth1.HMACSigner{ConsumerSecret: o.ConsumerSecret}, nil
	case HMACSHA256:
		return &oauth1.HMAC256Signer{ConsumerSecret: o.ConsumerSecret}, nil
	case RSASHA1, RSASHA256:
		key, err := parseRSAPrivateKey(o.PrivateKey)
		if err != nil {
			return nil, fmt.Errorf("httpauth: oauth1 private_key: %w", err)
		}
		if o.SignatureMethod == RSASHA1 {
			return &oauth1.RSASigner{PrivateKey: key}, nil
		}
		return &rsaSHA256Signer{key: key}, nil
	case Plaintext:
		return &plaintextSigner{consumerSecret: o.ConsumerSecret}, nil
	}
	return nil, fmt.Errorf("httpauth: unknown oauth1 signature method %q", o.SignatureMethod)
}

// rsaSHA256Signer is RSA-SHA256: RSASSA-PKCS1-v1_5 over the SHA-256 of the
// base string, as RSA-SHA1 (RFC 5849 §3.4.3) with the newer hash. It is
// not in RFC 5849; oauthlib, NetSuite and others accept it by this name.
type rsaSHA256Signer struct{ key *rsa.PrivateKey }

func (s *rsaSHA256Signer) Name() string { return RSASHA256 }

func (s *rsaSHA256Signer) Sign(_, message string) (string, error) {
	digest := sha256.Sum256([]byte(message))
	// PKCS #1 v1.5 signing is deterministic: it reads no randomness.
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// plaintextSigner is PLAINTEXT (RFC 5849 §3.4.4): the signature is the
// encoded consumer secret, '&' and the encoded token secret. It does not
// look at the base string. The transport refuses it over plain HTTP.
type plaintextSigner struct{ consumerSecret string }

func (s *plaintextSigner) Name() string { return Plaintext }

func (s *plaintextSigner) Sign(tokenSecret, _ string) (string, error) {
	return oauth1.PercentEncode(s.consumerSecret) + "&" + oauth1.PercentEncode(tokenSecret), nil
}

// parseRSAPrivateKey reads an unencrypted PEM RSA key (PKCS #1 or #8) of at
// least 2048 bits. Its errors never quote the key.
func parseRSAPrivateKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(text)))
	if block == nil {
		return nil, errors.New("is not a PEM key: paste it with its -----BEGIN PRIVATE KEY----- and -----END PRIVATE KEY----- lines")
	}
	if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
		return nil, errors.New("is encrypted with a passphrase: store it decrypted (openssl pkey -in key.pem -out plain.pem); it is encrypted at rest here")
	}
	var key *rsa.PrivateKey
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a readable PKCS #1 RSA key: export it again")
		}
		key = k
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, errors.New("is not a readable PKCS #8 key: export it again")
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("is a %T key, not RSA: RSA-SHA1 and RSA-SHA256 need an RSA key", k)
		}
		key = rk
	default:
		return nil, fmt.Errorf("is a PEM %q block, not a private key: paste the private key, not the certificate or public key", block.Type)
	}
	if bits := key.N.BitLen(); bits < 2048 {
		return nil, fmt.Errorf("is a %d-bit RSA key: use one of at least 2048 bits", bits)
	}
	return key, nil
}

var errBadForm = errors.New("httpauth: oauth1: the query or form body is not valid application/x-www-form-urlencoded text, so it cannot be signed")

// formParams returns the parameters of r's body when it is a single-part
// application/x-www-form-urlencoded body, which RFC 5849 §3.4.1.3.1 puts in
// the base string (NetSuite and Magento rely on it). The body is read
// through GetBody when there is one; otherwise it is read once and r gets a
// buffered copy.
func formParams(r *http.Request) ([]param, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, nil
	}
	var b []byte
	if r.GetBody != nil {
		rc, err := r.GetBody()
		if err != nil {
			return nil, fmt.Errorf("httpauth: oauth1: read the form body to sign it: %w", err)
		}
		b, err = readAtMost(rc, maxSignedBody)
		_ = rc.Close()
		if err != nil {
			return nil, err
		}
	} else {
		b, err = readAtMost(r.Body, maxSignedBody)
		_ = r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
		r.ContentLength = int64(len(b))
	}
	return parseFormEncoded(string(b))
}

func readAtMost(r io.Reader, n int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, n+1))
	if err != nil {
		return nil, fmt.Errorf("httpauth: oauth1: read the form body to sign it: %w", err)
	}
	if int64(len(b)) > n {
		return nil, fmt.Errorf("httpauth: oauth1: the form body is larger than %d MiB and cannot be signed", n>>20)
	}
	return b, nil
}
