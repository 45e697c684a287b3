package netguard

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// ClientTLSOptions are a connection's outbound TLS settings.
type ClientTLSOptions struct {
	// CABundlePEM holds extra CA certificates (PEM, one or more
	// "CERTIFICATE" blocks), typically a company CA for an on-premise
	// system. They are added to a copy of the system roots, not used
	// instead of them, so a connection keeps working when its host moves
	// to a publicly trusted certificate.
	CABundlePEM []byte
	// ClientCertPEM and ClientKeyPEM are a client certificate (with its
	// chain) and its private key, for servers that require mutual TLS. Give
	// both or neither.
	ClientCertPEM []byte
	ClientKeyPEM  []byte
	// InsecureSkipVerify turns off certificate verification, which lets
	// anyone on the path read and change the traffic, credentials
	// included. It exists for test systems with broken certificates; it
	// is an explicit per-connection choice that the API and console show
	// as insecure, and never a default.
	InsecureSkipVerify bool
}

// ClientTLSConfig returns the TLS settings for an outbound connection: TLS
// 1.2 at least (Go prefers 1.3 when the server has it), certificates
// verified against the system roots plus CABundlePEM, and the client
// certificate if one is given. Errors say which input is wrong and never
// repeat key material.
func ClientTLSConfig(opts ClientTLSOptions) (*tls.Config, error) {
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: opts.InsecureSkipVerify, //nolint:gosec // explicit, flagged per connection
	}
	if len(opts.CABundlePEM) > 0 {
		certs, err := parseCABundle(opts.CABundlePEM)
		if err != nil {
			return nil, fmt.Errorf("client TLS: CA bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		cfg.RootCAs = pool
	}
	switch {
	case len(opts.ClientCertPEM) > 0 && len(opts.ClientKeyPEM) > 0:
		pair, err := tls.X509KeyPair(opts.ClientCertPEM, opts.ClientKeyPEM)
		if err != nil {
			return nil, fmt.Errorf("client TLS: client certificate and key: %w", err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	case len(opts.ClientCertPEM) > 0:
		return nil, errors.New("client TLS: a client certificate was given without its private key")
	case len(opts.ClientKeyPEM) > 0:
		return nil, errors.New("client TLS: a client private key was given without its certificate")
	}
	return cfg, nil
}

// parseCABundle reads every PEM block, refusing anything that is not a
// certificate: x509.CertPool.AppendCertsFromPEM would skip a bad block
// silently and leave the user wondering why verification fails.
func parseCABundle(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			// Name the type only: the block may be a private key.
			return nil, fmt.Errorf("PEM block %d is a %q, not a CERTIFICATE", n, block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("PEM block %d: %w", n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block found")
	}
	return certs, nil
}
