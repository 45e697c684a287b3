package netguard

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// testPKI is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, all made fresh for each test run.
type testPKI struct {
	caPEM                    []byte
	serverCert               tls.Certificate
	clientCertPEM, clientKey []byte
	pool                     *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	caKey := mustKey(t)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "netguard test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(serial int64, tmpl *x509.Certificate) ([]byte, []byte) {
		key := mustKey(t)
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	srvCert, srvKey := issue(2, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	cliCert, cliKey := issue(3, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "sluice connector"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	pair, err := tls.X509KeyPair(srvCert, srvKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{
		caPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		serverCert:    pair,
		clientCertPEM: cliCert,
		clientKey:     cliKey,
		pool:          pool,
	}
}

func mustKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestClientTLSConfigInputs(t *testing.T) {
	pki := newTestPKI(t)
	other := newTestPKI(t)
	tests := []struct {
		name    string
		opts    ClientTLSOptions
		wantErr string // substring; empty means success
		secret  string // must not appear in the error
	}{
		{name: "defaults", opts: ClientTLSOptions{}},
		{name: "ca bundle", opts: ClientTLSOptions{CABundlePEM: pki.caPEM}},
		{name: "two cas", opts: ClientTLSOptions{CABundlePEM: append(append([]byte{}, pki.caPEM...), other.caPEM...)}},
		{name: "client pair", opts: ClientTLSOptions{ClientCertPEM: pki.clientCertPEM, ClientKeyPEM: pki.clientKey}},
		{name: "ca bundle not pem", opts: ClientTLSOptions{CABundlePEM: []byte("not a certificate")}, wantErr: "CA bundle: no PEM CERTIFICATE block found"},
		{name: "key in ca bundle", opts: ClientTLSOptions{CABundlePEM: append(append([]byte{}, pki.caPEM...), pki.clientKey...)}, wantErr: `PEM block 2 is a "PRIVATE KEY", not a CERTIFICATE`, secret: string(pki.clientKey[28:60])},
		{name: "broken certificate", opts: ClientTLSOptions{CABundlePEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}})}, wantErr: "CA bundle: PEM block 1:"},
		{name: "certificate without key", opts: ClientTLSOptions{ClientCertPEM: pki.clientCertPEM}, wantErr: "without its private key"},
		{name: "key without certificate", opts: ClientTLSOptions{ClientKeyPEM: pki.clientKey}, wantErr: "without its certificate"},
		{name: "key of another certificate", opts: ClientTLSOptions{ClientCertPEM: pki.clientCertPEM, ClientKeyPEM: other.clientKey}, wantErr: "client certificate and key:", secret: string(other.clientKey[28:60])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientTLSConfig(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
					t.Fatal("error repeats key material")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MinVersion != tls.VersionTLS12 {
				t.Errorf("MinVersion = %x, want TLS 1.2", cfg.MinVersion)
			}
			if cfg.InsecureSkipVerify {
				t.Error("verification off without being asked")
			}
			if (cfg.RootCAs != nil) != (len(tt.opts.CABundlePEM) > 0) {
				t.Errorf("RootCAs set = %v, want it only with a bundle", cfg.RootCAs != nil)
			}
			if (len(cfg.Certificates) == 1) != (len(tt.opts.ClientCertPEM) > 0) {
				t.Errorf("%d client certificates", len(cfg.Certificates))
			}
		})
	}
}

func TestClientTLSConfigKeepsSystemRoots(t *testing.T) {
	sys, err := x509.SystemCertPool()
	if err != nil {
		t.Skipf("no system roots here: %v", err)
	}
	pki := newTestPKI(t)
	cfg, err := ClientTLSConfig(ClientTLSOptions{CABundlePEM: pki.caPEM})
	if err != nil {
		t.Fatal(err)
	}
	// Subjects is deprecated for system pools on some platforms, but on
	// Linux it lists what was loaded, which is all this needs.
	if got, want := len(cfg.RootCAs.Subjects()), len(sys.Subjects())+1; got != want { //nolint:staticcheck
		t.Fatalf("pool holds %d subjects, want the %d system roots plus the bundle", got, want-1)
	}
}

func TestClientTLSHandshake(t *testing.T) {
	pki := newTestPKI(t)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.serverCert},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pki.pool,
		MinVersion:   tls.VersionTLS12,
	}
	// The refused handshakes are the point; keep them out of the output.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()

	tests := []struct {
		name      string
		opts      ClientTLSOptions
		wantErr   bool
		unknownCA bool
	}{
		{name: "bundle and client certificate", opts: ClientTLSOptions{CABundlePEM: pki.caPEM, ClientCertPEM: pki.clientCertPEM, ClientKeyPEM: pki.clientKey}},
		{name: "no bundle", opts: ClientTLSOptions{ClientCertPEM: pki.clientCertPEM, ClientKeyPEM: pki.clientKey}, wantErr: true, unknownCA: true},
		{name: "no client certificate", opts: ClientTLSOptions{CABundlePEM: pki.caPEM}, wantErr: true},
		{name: "verification skipped", opts: ClientTLSOptions{InsecureSkipVerify: true, ClientCertPEM: pki.clientCertPEM, ClientKeyPEM: pki.clientKey}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := ClientTLSConfig(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			p, _ := loopbackPolicy(t)
			resp, err := p.HTTPClient(cfg, 5*time.Second).Get(srv.URL)
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatal("request succeeded")
				}
				var uae x509.UnknownAuthorityError
				if tt.unknownCA && !errors.As(err, &uae) {
					t.Errorf("err = %v, want an unknown authority error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var buf [64]byte
			n, _ := resp.Body.Read(buf[:])
			if got := string(buf[:n]); got != "sluice connector" {
				t.Errorf("server saw client %q", got)
			}
		})
	}
}
