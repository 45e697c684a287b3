// Package apptest starts a real Sluice server for black-box tests: the
// whole app (store, migrations, queue, HTTP) on a loopback port, on SQLite
// or PostgreSQL, with a controllable clock, a captured log and a small
// client that behaves like a browser or like curl.
package apptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/app"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

// CheapParams make argon2id fast enough for tests that log in hundreds of
// times. Production parameters are tested on their own.
var CheapParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Clock is a settable clock shared by the server's account service.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now is the current fake time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// Buffer is a goroutine-safe bytes.Buffer for captured output.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String is everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Options shape an Instance.
type Options struct {
	Dialect store.Dialect
	// TLS serves HTTPS with a fresh self-signed certificate.
	TLS bool
	// Account overrides parts of the account service config; Params
	// default to CheapParams and Now to the instance Clock.
	Account account.Config
	// Register adds job workers.
	Register func(*river.Workers)
	// Args are extra serve flags.
	Args []string
	// RealClock uses time.Now instead of the settable clock.
	RealClock bool
	// NoWorker runs no queue workers in this instance (an API node beside
	// separate worker nodes).
	NoWorker bool
}

// Instance is a running server.
type Instance struct {
	URL   string
	App   *app.App
	Clock *Clock
	// Logs is everything the server logged; Out what it printed.
	Logs *Buffer
	Out  *Buffer
	// Where is the SQLite path or PostgreSQL URL of its database.
	Where string
	// CA trusts the server's certificate (TLS only).
	CA *x509.CertPool

	stop     context.CancelFunc
	done     chan error
	stopOnce sync.Once
	stopErr  error
}

// Stop shuts the server down as SIGTERM would and returns what Serve
// returned. The test's cleanup calls it too; calling it twice is fine.
func (i *Instance) Stop() error {
	i.stopOnce.Do(func() {
		i.stop()
		i.stopErr = <-i.done
	})
	return i.stopErr
}

// Start runs a server until the test ends.
func Start(t testing.TB, o Options) *Instance {
	t.Helper()
	if o.Dialect == "" {
		o.Dialect = store.SQLite
	}
	dir := t.TempDir()
	args := []string{"--addr", "127.0.0.1:0", "--data-dir", dir, "--log-level", "debug", "--shutdown-grace", "10s"}
	// The clock (shared by the store and the account service) starts at
	// the real time: River schedules jobs by the database's own clock.
	inst := &Instance{Clock: &Clock{t: time.Now().UTC().Truncate(time.Second)}, Logs: &Buffer{}, Out: &Buffer{}}
	if o.Dialect == store.Postgres {
		inst.Where = storetest.CreateDatabase(t)
		args = append(args, "--database-url", inst.Where)
	} else {
		inst.Where = filepath.Join(dir, "sluice.db")
	}
	if o.TLS {
		cert, key, pool := selfSigned(t, dir)
		args = append(args, "--tls-cert", cert, "--tls-key", key)
		inst.CA = pool
	}
	args = append(args, o.Args...)
	// Without a master key in the args, the instance generates a
	// development key file in its temporary data directory, as a first
	// `sluice serve` does.
	c, _, err := config.Parse("serve", config.DB|config.Server|config.Worker|config.Logging|config.Keys, args, func(string) string { return "" })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	acfg := o.Account
	if acfg.Params == (auth.Params{}) {
		acfg.Params = CheapParams
	}
	var now func() time.Time
	if acfg.Now == nil && !o.RealClock {
		now = inst.Clock.Now
	}
	acfg.SessionIdle, acfg.SessionMax = orDur(acfg.SessionIdle, c.SessionIdle), orDur(acfg.SessionMax, c.SessionMax)
	log := app.NewLogger(c, inst.Logs)
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, c, log, !o.NoWorker, app.Options{AccountConfig: &acfg, Register: o.Register, QueuePoll: 50 * time.Millisecond, Now: now})
	if err != nil {
		cancel()
		t.Fatalf("start app: %v", err)
	}
	a.Out = inst.Out
	if err := a.BuildServer(); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	if err := a.PrintSetupLink(ctx); err != nil {
		cancel()
		a.Close()
		t.Fatal(err)
	}
	inst.App = a
	inst.URL = a.BaseURL()
	inst.stop, inst.done = cancel, make(chan error, 1)
	go func() { inst.done <- a.Serve(ctx) }()
	t.Cleanup(func() {
		if err := inst.Stop(); err != nil {
			t.Errorf("server shutdown: %v", err)
		}
	})
	return inst
}

func orDur(a, b time.Duration) time.Duration {
	if a > 0 {
		return a
	}
	return b
}

var setupLink = regexp.MustCompile(`/setup\?token=([A-Za-z0-9_-]+)`)

// SetupToken is the token of the setup link the server printed.
func (i *Instance) SetupToken(t testing.TB) string {
	t.Helper()
	m := setupLink.FindAllStringSubmatch(i.Out.String(), -1)
	if len(m) == 0 {
		t.Fatalf("no setup link printed; output: %q", i.Out.String())
	}
	return m[len(m)-1][1]
}

// Setup creates the first (admin) account through the API and returns its
// logged-in client.
func (i *Instance) Setup(t testing.TB, email, password string) *Client {
	t.Helper()
	c := i.NewClient()
	r := c.Do(t, "POST", "/api/v1/setup", map[string]any{"token": i.SetupToken(t), "email": email, "password": password, "name": "Admin"})
	if r.Status != http.StatusCreated {
		t.Fatalf("setup: %d %s", r.Status, r.Body)
	}
	c.CSRF = r.String("csrf_token")
	return c
}

// Login logs a new client in and fails the test if that does not work.
func (i *Instance) Login(t testing.TB, email, password string) *Client {
	t.Helper()
	c := i.NewClient()
	r := c.Do(t, "POST", "/api/v1/auth/login", map[string]any{"email": email, "password": password})
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", email, r.Status, r.Body)
	}
	c.CSRF = r.String("csrf_token")
	return c
}

// CreateUser has admin create an account.
func (i *Instance) CreateUser(t testing.TB, admin *Client, email, password string, isAdmin bool) string {
	t.Helper()
	r := admin.Do(t, "POST", "/api/v1/users", map[string]any{"email": email, "password": password, "name": email, "admin": isAdmin})
	if r.Status != http.StatusCreated {
		t.Fatalf("create user %s: %d %s", email, r.Status, r.Body)
	}
	return r.String("id")
}

// APIKey creates an API key for c and returns a client that uses only it.
func (i *Instance) APIKey(t testing.TB, c *Client, days int) (*Client, string) {
	t.Helper()
	r := c.Do(t, "POST", "/api/v1/me/api-keys", map[string]any{"name": "test", "expires_in_days": days})
	if r.Status != http.StatusCreated {
		t.Fatalf("create api key: %d %s", r.Status, r.Body)
	}
	k := i.NewClient()
	k.Bearer = r.String("token")
	return k, r.String("id")
}

func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// tlsConfig is the client side of a TLS instance.
func (i *Instance) tlsConfig() *tls.Config {
	if i.CA == nil {
		return nil
	}
	return &tls.Config{RootCAs: i.CA, MinVersion: tls.VersionTLS12}
}

// TLSClientConfig is a client TLS config trusting the instance; callers may
// change it (for example to try TLS 1.1).
func (i *Instance) TLSClientConfig() *tls.Config { return i.tlsConfig() }
