// Package peertest is test support: it starts the independent peers that
// outbound HTTP authentication is tested against — servers no one here
// wrote, in ../testdata/peers — on loopback, for tests in any package. Import
// it from _test.go files only.
//
//   - an OAuth 1.0a verifier: python3-oauthlib's SignatureOnlyEndpoint
//     (StartOAuth1Verifier);
//   - an NTLM acceptor: gss-ntlmssp through python3-gssapi
//     (StartNTLMAcceptor);
//   - an OAuth 2.0 authorization server: oidc-provider from npm
//     (StartOAuth2Server, Consent).
//
// .ci/run installs them. Locally a missing peer skips the test that needs
// it; in CI (CI=true) it fails it. Every peer listens on 127.0.0.1, prints
// its port on its first line and exits when its stdin closes: Start closes
// it when the test ends.
package peertest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// Missing skips the test because a peer is missing, or fails it in CI
// (CI=true), where .ci/run should have installed it.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("peer missing in CI (.ci/run should have installed it): "+format, args...)
	}
	t.Skipf("peer missing (run .ci/run or install it to run this test): "+format, args...)
}

// DebianPython returns Debian's python3, which sees the python3-* packages
// .ci/run installs (a pyenv python3 first on PATH would not), after
// checking that it can import modules. SLUICE_TEST_PYTHON overrides it.
func DebianPython(t testing.TB, modules ...string) string {
	t.Helper()
	py := os.Getenv("SLUICE_TEST_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if _, err := exec.LookPath(py); err != nil {
		Missing(t, "%s not found", py)
	}
	out, err := exec.Command(py, "-c", "import "+strings.Join(modules, ", ")).CombinedOutput()
	if err != nil {
		Missing(t, "%s cannot import %s: %s", py, strings.Join(modules, ", "), bytes.TrimSpace(out))
	}
	return py
}

// Start starts cmd, returns the first line it prints, and stops it when
// the test ends: it closes the peer's stdin (each peer exits on EOF) and
// kills it if it is still there 5 seconds later. When the test failed, the
// peer's stderr is logged.
func Start(t testing.TB, name string, cmd *exec.Cmd) string {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", name, stderr.String())
		}
	})
	lines := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, _ := r.ReadString('\n')
		lines <- strings.TrimSpace(line)
		_, _ = r.WriteTo(io.Discard)
	}()
	select {
	case line := <-lines:
		if line == "" {
			<-done
			t.Fatalf("%s exited before it was ready:\n%s", name, stderr.String())
		}
		return line
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start within 60 s", name)
	}
	return ""
}

// peersPath is where the peers live, relative to the module root.
const peersPath = "internal/connectors/http/httpauth/testdata/peers"

// Dir is the absolute path of the peers' directory (httpauth's
// testdata/peers), found beside this file, or else under the module root
// above the working directory (for binaries built with -trimpath).
func Dir(t testing.TB) string {
	t.Helper()
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "testdata", "peers")
		if _, err := os.Stat(d); err == nil {
			return d
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(d, filepath.FromSlash(peersPath))
		}
		if filepath.Dir(d) == d {
			t.Fatalf("peertest: no go.mod above %s: cannot find %s", wd, peersPath)
		}
	}
}

// Script is the absolute path of a peer's script in Dir.
func Script(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join(Dir(t), name)
}

// LoopbackTLS writes a throwaway certificate for 127.0.0.1 and returns the
// PEM files and a client TLS config that trusts it.
func LoopbackTLS(t testing.TB) (certFile, keyFile string, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sluice test peer"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// writeFile writes data to a file in the test's temporary directory
// (mode 0600: it holds the peers' secrets).
func writeFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}
