// Package app is the composition root: it turns a Config into a running
// Sluice — store, migrations, keyring, queue, account service, HTTP
// server — and shuts them down in order.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/blob"
	"github.com/sluice-dev/sluice/internal/config"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/flow"
	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/queue"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web"
	"github.com/sluice-dev/sluice/internal/web/api"
	"github.com/sluice-dev/sluice/internal/web/console"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// NewLogger builds the process logger from the config.
func NewLogger(c *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(orDefault(c.LogLevel, "info"))))
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// OpenStore opens the configured database, creating the data directory.
func OpenStore(ctx context.Context, c *config.Config) (*store.Store, error) {
	return openStore(ctx, c, store.Options{})
}

func openStore(ctx context.Context, c *config.Config, opts store.Options) (*store.Store, error) {
	if err := os.MkdirAll(c.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory %s: %w", c.DataDir, err)
	}
	if c.Postgres() {
		return store.OpenPostgres(ctx, c.DatabaseURL, opts)
	}
	return store.OpenSQLite(ctx, c.SQLitePath(), opts)
}

// Migrate applies Sluice's and River's migrations.
func Migrate(ctx context.Context, st *store.Store) ([]int, error) {
	applied, err := st.Migrate(ctx)
	if err != nil {
		return applied, err
	}
	return applied, queue.Migrate(ctx, st)
}

// OpenKeyring loads the master key (SLUICE_MASTER_KEY, --master-key-file,
// or in development a key file generated in the data directory) and opens
// the keyring of the migrated store st, with every table that holds sealed
// secrets registered for key rotation. A wrong master key is an error:
// start-up stops before anything is read or sealed.
func OpenKeyring(ctx context.Context, c *config.Config, st *store.Store, log *slog.Logger) (*secrets.Keyring, error) {
	mk, err := secrets.LoadMasterKey(secrets.MasterKeySource{Env: c.MasterKey, File: c.MasterKeyFile, DataDir: c.DataDir, Logger: log})
	if err != nil {
		return nil, err
	}
	k, err := secrets.OpenKeyring(ctx, st, mk, secrets.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	for _, cols := range secretColumns() {
		if err := k.Registry().Add(cols); err != nil {
			return nil, err
		}
	}
	return k, nil
}

// secretColumns lists every table column that holds a sealed secret, so
// `sluice keys rotate` re-encrypts them all. A feature that stores secrets
// adds its table here.
func secretColumns() []secrets.Columns {
	return []secrets.Columns{
		account.TOTPColumns(),
		// Connection secrets: one sealed JSON object per connection,
		// bound to AAD{connections, <id>, secrets}.
		{Table: "connections", ID: "id", Term: "secrets_term", Secrets: []string{"secrets"}},
		// The secret that signs a project's alert webhooks.
		runs.AlertSecretColumns(),
		// A service consumer's JWT HS or HMAC secret.
		consumer.SecretColumns(),
	}
}

// OpenBlobs opens the blob store console logs go to: the S3 bucket when
// --s3-bucket is set, else --blob-dir (default DATA_DIR/blobs).
func OpenBlobs(ctx context.Context, c *config.Config) (blob.Store, error) {
	dir := c.BlobDir
	if dir == "" {
		dir = filepath.Join(c.DataDir, "blobs")
	}
	return blob.Open(ctx, blob.Options{Dir: dir, S3: blob.S3Options{
		Endpoint: c.S3Endpoint, Region: c.S3Region, Bucket: c.S3Bucket, Prefix: c.S3Prefix, PathStyle: c.S3PathStyle,
		AccessKeyID: c.S3AccessKeyID, SecretAccessKey: c.S3SecretAccessKey,
	}})
}

// App is a running Sluice process.
type App struct {
	Config   *config.Config
	Log      *slog.Logger
	Store    *store.Store
	Queue    *queue.Queue
	Keyring  *secrets.Keyring
	Accounts *account.Service
	Runs     *runs.Service
	// Scheduler fires flows' schedules; Alerts sends failure alerts.
	Scheduler *runs.Scheduler
	Alerts    *runs.Alerter
	// Connections is the project connections service; runs open their
	// database connections through it.
	Connections *connection.Service
	Metrics     *httpx.Metrics
	Server      *web.Server
	// Out is where the setup link is printed (stdout by default).
	Out io.Writer

	// Consumers manages service consumers; ConsumerAuth verifies their
	// calls (POST /call/{p}/{flow}).
	Consumers    *consumer.Service
	ConsumerAuth *consumer.Verifier

	// Blobs keeps console logs, sealed before they get there: files under
	// --blob-dir, or the --s3-bucket.
	Blobs blob.Store
	// ConsoleLogs keeps console logs (capture, sealed blobs, links).
	ConsoleLogs *consolelog.Service
	// Retention deletes what projects keep past their plans' retention.
	Retention *runs.Retention

	httpSrv  *http.Server
	listener net.Listener
}

// Options adjusts New for tests and benchmarks.
type Options struct {
	// AccountConfig overrides the account service settings (for example
	// cheaper argon2 parameters in tests).
	AccountConfig *account.Config
	// Register adds extra job workers (tests).
	Register func(*river.Workers)
	// QueuePoll overrides the queue's poll interval.
	QueuePoll time.Duration
	// RetentionEvery overrides how often the retention pass runs.
	RetentionEvery time.Duration
	// Now replaces the clock of the store and the account service (tests
	// that move time forward).
	Now func() time.Time
}

// New opens the store, migrates it and builds every part, without
// listening or working yet. work says whether this process runs jobs.
func New(ctx context.Context, c *config.Config, log *slog.Logger, work bool, opts Options) (*App, error) {
	if c.FilesDir != "" {
		// The only place file reads and writes of flows may touch.
		if err := os.MkdirAll(c.FilesDir, 0o700); err != nil {
			return nil, fmt.Errorf("create files directory %s: %w", c.FilesDir, err)
		}
	}
	st, err := openStore(ctx, c, store.Options{Now: opts.Now})
	if err != nil {
		return nil, err
	}
	a := &App{Config: c, Log: log, Store: st, Out: os.Stdout}
	if _, err := Migrate(ctx, st); err != nil {
		st.Close()
		return nil, fmt.Errorf("migrate: %w", err)
	}
	if err := ApplyPlanRetention(ctx, st, c.PlanDays); err != nil {
		st.Close()
		return nil, err
	}
	if a.Keyring, err = OpenKeyring(ctx, c, st, log); err != nil {
		st.Close()
		return nil, err
	}
	acfg := account.Config{SessionIdle: c.SessionIdle, SessionMax: c.SessionMax, Logger: log}
	if opts.AccountConfig != nil {
		acfg = *opts.AccountConfig
		acfg.Logger = log
	}
	if opts.Now != nil {
		acfg.Now = opts.Now
	}
	acfg.Keyring = a.Keyring
	a.Accounts = account.NewService(st, acfg)
	a.Metrics = httpx.NewMetrics()
	if a.Blobs, err = OpenBlobs(ctx, c); err != nil {
		st.Close()
		return nil, err
	}
	a.Runs = runs.NewService(st, c.FilesDir, log)
	a.ConsoleLogs = consolelog.New(st, a.Blobs, a.Keyring)
	a.ConsoleLogs.Log = log
	if opts.Now != nil {
		a.ConsoleLogs.Now = opts.Now
	}
	a.Runs.Console = a.ConsoleLogs
	a.Retention = runs.NewRetention(st, log)
	a.Retention.ConsoleLogs = a.ConsoleLogs
	a.Retention.Every = opts.RetentionEvery
	a.Metrics.Registry().MustRegister(a.Retention.Collectors()...)
	a.Connections = connection.NewService(st, a.Keyring)
	a.Connections.ValidateAuth = connection.ValidateHTTPAuth
	egressAllow := splitList(c.EgressAllow)
	if _, err := netguard.NewEgressPolicy(netguard.EgressOptions{Allow: egressAllow}); err != nil {
		st.Close()
		return nil, fmt.Errorf("--egress-allow: %w", err)
	}
	network := connection.NewGuardedNetwork(st, egressAllow, connection.HTTPAuth)
	network.SaveSecrets = a.Connections.SaveSecrets
	a.Connections.Network = network
	a.Consumers = consumer.NewService(st, a.Keyring)
	a.ConsumerAuth = consumer.NewVerifier(st, a.Keyring)
	a.Consumers.OnChange = a.ConsumerAuth.Forget
	a.ConsumerAuth.Log = log
	a.ConsumerAuth.ClientIP = func(r *http.Request) netip.Addr { return httpx.ClientIPFrom(r.Context()) }
	a.ConsumerAuth.JWKSClient = func(ctx context.Context, projectID string) (*http.Client, error) {
		p, err := network.Policy(ctx, projectID)
		if err != nil {
			return nil, err
		}
		return p.HTTPClient(nil, 10*time.Second), nil
	}
	a.Runs.Connections = runs.ProjectConnections{SQL: a.Connections, HTTP: a.Connections}
	a.Runs.StuckAfter = c.RunStuckAfter
	a.Scheduler = runs.NewScheduler(a.Runs)
	a.Alerts = runs.NewAlerter(st, log)
	a.Alerts.Policy = network.Policy
	a.Alerts.BaseURL = a.BaseURL
	a.Alerts.SetSealer(a.Keyring)
	if c.SMTPAddr != "" {
		a.Alerts.Mail = &runs.Mailer{Addr: c.SMTPAddr, From: c.SMTPFrom, Username: c.SMTPUsername, Password: c.SMTPPassword}
	}
	q, err := queue.New(st, queue.Options{
		Work: work, Workers: c.Workers, Logger: log, PollInterval: opts.QueuePoll,
		Register: func(w *river.Workers) {
			a.Accounts.Register(w)
			a.Keyring.Register(w)
			a.Runs.Register(w)
			a.Scheduler.Register(w)
			a.Alerts.Register(w)
			a.Retention.Register(w)
			if opts.Register != nil {
				opts.Register(w)
			}
		},
		Periodic:  append(append(append(a.Accounts.Periodic(), a.Scheduler.Periodic()...), a.Runs.Periodic()...), a.Retention.Periodic()...),
		OnJobDone: a.Metrics.JobDone,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	a.Queue = q
	a.Keyring.SetQueue(q)
	a.Runs.SetQueue(q)
	a.Runs.SetDynamic(runs.DynamicOptions{Sealer: a.Keyring})
	a.Metrics.SetQueueDepthFunc(q.Depth)
	return a, nil
}

// BuildServer builds the HTTP server (serve only).
func (a *App) BuildServer() error {
	c := a.Config
	proxies, err := netguard.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	sessionMax := a.Accounts.SessionMax()
	projects := project.NewService(a.Store, a.Accounts)
	connections := a.Connections
	pipelines := pipeline.NewService(a.Store)
	pipelines.Validate = ValidateFlow
	pipelines.CheckConnections = FlowConnections(a.Store)
	pipelines.OnFlowChange = a.Runs.ForgetFlows
	cons := console.New(a.Accounts, c.TLS(), sessionMax)
	cons.Services = console.Services{Projects: projects, Pipelines: pipelines, Runs: a.Runs, ConsoleLogs: a.ConsoleLogs,
		Connections: connections, Consumers: a.Consumers, Scheduler: a.Scheduler, Store: a.Store, BaseURL: a.BaseURL,
		Keyring: a.Keyring}
	a.Server = web.New(web.Deps{
		Accounts: a.Accounts,
		Projects: projects,
		API: &api.API{ConsumerAuth: a.ConsumerAuth, Accounts: a.Accounts, Projects: projects, Connections: connections, Consumers: a.Consumers, Pipelines: pipelines, Runs: a.Runs, Scheduler: a.Scheduler, Alerts: a.Alerts, ConsoleLogs: a.ConsoleLogs, Keyring: a.Keyring, Store: a.Store,
			TLS: c.TLS(), SessionMax: sessionMax, BaseURL: a.BaseURL},
		Console: cons,
		Metrics: a.Metrics,
		Logger:  a.Log,
		Proxies: proxies,
		TLS:     c.TLS(),
		Ready:   map[string]web.Pinger{"database": a.Store, "queue": a.Queue},
	})
	return nil
}

// Listen checks the address rules and opens the listener.
func (a *App) Listen() error {
	c := a.Config
	loop, err := netguard.IsLoopbackAddr(c.Addr)
	if err != nil {
		return fmt.Errorf("--addr %q: %w", c.Addr, err)
	}
	if !loop && !c.TLS() && !c.InsecureHTTP {
		return fmt.Errorf("--addr %s is reachable from other machines but TLS is off: give --tls-cert and --tls-key, or, only behind a TLS-terminating proxy, --insecure-http (with --trusted-proxies)", c.Addr)
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.Addr, err)
	}
	a.listener = ln
	a.httpSrv = &http.Server{
		Handler:           a.Server.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	if c.TLS() {
		a.httpSrv.TLSConfig = netguard.ServerTLSConfig()
	}
	return nil
}

// Addr is the address the server listens on (useful with port 0).
func (a *App) Addr() string { return a.listener.Addr().String() }

// BaseURL is the URL printed in links.
func (a *App) BaseURL() string {
	if a.Config.PublicURL != "" {
		return strings.TrimRight(a.Config.PublicURL, "/")
	}
	scheme := "http"
	if a.Config.TLS() {
		scheme = "https"
	}
	addr := a.Config.Addr
	if a.listener != nil {
		addr = a.listener.Addr().String()
	}
	return scheme + "://" + addr
}

// PrintSetupLink prints a one-time setup link while the instance has no
// user. The token is printed, never logged: log pipelines keep copies.
func (a *App) PrintSetupLink(ctx context.Context) error {
	token, err := a.Accounts.PrepareSetup(ctx)
	if err != nil || token == "" {
		return err
	}
	fmt.Fprintf(a.Out, "\n  Sluice has no account yet. Open this one-time link to create the first one:\n\n    %s/setup?token=%s\n\n  (or run: sluice admin create-user --email you@example.com --admin)\n\n", a.BaseURL(), token)
	return nil
}

// Serve runs until ctx is cancelled, then shuts down in order: stop taking
// requests and let those in flight finish, stop the queue (jobs in flight
// finish, or are cancelled and retried later), close the database.
func (a *App) Serve(ctx context.Context) error {
	if err := a.Queue.Start(ctx); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		var err error
		if a.Config.TLS() {
			err = a.httpSrv.ServeTLS(a.listener, a.Config.TLSCert, a.Config.TLSKey)
		} else {
			err = a.httpSrv.Serve(a.listener)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		errc <- err
	}()
	a.Log.Info("sluice listening", "url", a.BaseURL(), "database", string(a.Store.Dialect()), "workers", !a.Config.NoWorker)
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownGrace)
	defer cancel()
	err := errors.Join(serveErr, a.httpSrv.Shutdown(sctx), a.Queue.Stop(sctx))
	return errors.Join(err, a.closeBlobs(), a.Store.Close())
}

// Work runs only the queue workers until ctx is cancelled.
func (a *App) Work(ctx context.Context) error {
	if err := a.Queue.Start(ctx); err != nil {
		return err
	}
	a.Log.Info("sluice worker running", "database", string(a.Store.Dialect()), "workers", a.Config.Workers)
	<-ctx.Done()
	a.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), a.Config.ShutdownGrace)
	defer cancel()
	return errors.Join(a.Queue.Stop(sctx), a.closeBlobs(), a.Store.Close())
}

// Close releases everything without serving (after New for one-off
// commands, or when start-up fails).
func (a *App) Close() error {
	if a.listener != nil {
		a.listener.Close()
	}
	return errors.Join(a.closeBlobs(), a.Store.Close())
}

// closeBlobs releases the blob store's handle (a directory's root), if it
// holds one.
func (a *App) closeBlobs() error {
	if c, ok := a.Blobs.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// splitList reads a comma-separated flag value.
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// FlowConnections checks, for the pipeline service, that every connection
// a flow definition names is a connection of the project of a kind that
// serves its use (connection.CheckUses).
func FlowConnections(st *store.Store) pipeline.CheckConnectionsFunc {
	return func(ctx context.Context, projectID string, canonical []byte) ([]pipeline.Problem, error) {
		f, _, err := flow.ParseDefinition(canonical)
		if err != nil {
			return nil, err
		}
		refs := f.Connections()
		if len(refs) == 0 {
			return nil, nil
		}
		conns, err := st.Reader().ListConnections(ctx, projectID)
		if err != nil {
			return nil, err
		}
		kinds := make(map[string]string, len(conns))
		for _, c := range conns {
			kinds[c.Name] = c.Kind
		}
		found := connection.CheckUses(refs, func(name string) (string, bool) {
			k, ok := kinds[name]
			return k, ok
		}, func(name string) string {
			return fmt.Sprintf("the project has no connection %q; create it first or fix the name", name)
		})
		out := make([]pipeline.Problem, len(found))
		for i, p := range found {
			out[i] = pipeline.Problem{Path: p.Field, Message: p.Message}
		}
		return out, nil
	}
}

// ValidateFlow checks a flow definition with the flow format (internal/flow)
// for the pipeline service: every problem with its path and position, or
// the canonical JSON to store and the flow's name.
func ValidateFlow(raw json.RawMessage) ([]byte, string, []pipeline.Problem, error) {
	f, canon, err := flow.ParseDefinition(raw)
	var ve *flow.ValidationError
	if errors.As(err, &ve) {
		ps := make([]pipeline.Problem, len(ve.Problems))
		for i, p := range ve.Problems {
			ps[i] = pipeline.Problem{Path: p.Path, Line: p.Line, Column: p.Column, Message: p.Message}
		}
		return nil, "", ps, nil
	}
	if err != nil {
		return nil, "", nil, err
	}
	return canon, f.Name, nil, nil
}
