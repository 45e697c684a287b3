package netguard

import "crypto/tls"

// ServerTLSConfig returns the TLS settings for Sluice's listener: TLS 1.2 at
// least, so clients that cannot do 1.3 still connect, but only forward-secret
// AEAD suites for them (ECDHE with AES-GCM or ChaCha20-Poly1305), and
// X25519/P-256 for the key exchange. TLS 1.3 is preferred because Go
// negotiates the highest version both sides support; its suites are fixed by
// Go and all modern. A fresh value is returned each time so a caller can add
// certificates without touching anyone else's copy.
func ServerTLSConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256},
	}
}
