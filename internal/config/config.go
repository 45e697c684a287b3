// Package config turns command-line flags and SLUICE_* environment variables
// into one typed Config. There are no package-level settings: the result is
// passed to internal/app, which builds everything from it.
package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/secrets"
)

// Config is every setting Sluice reads at start-up.
type Config struct {
	Addr           string
	DataDir        string
	DatabaseURL    string
	TLSCert        string
	TLSKey         string
	InsecureHTTP   bool
	TrustedProxies string
	EgressAllow    string
	Workers        int
	NoWorker       bool
	PublicURL      string
	LogFormat      string
	LogLevel       string
	SessionIdle    time.Duration
	SessionMax     time.Duration
	ShutdownGrace  time.Duration
	// MasterKeyFile is --master-key-file; MasterKey is SLUICE_MASTER_KEY,
	// read from the environment only (a key on a command line is visible
	// to every user of the machine). Neither: a development key file in
	// the data directory.
	MasterKeyFile string
	MasterKey     secrets.Value
	// FilesDir is the only directory file reads and writes of flows may
	// touch (--files-dir; default: "files" in the data directory).
	FilesDir string
	// RunStuckAfter is how long a running run may go without a heartbeat
	// before the periodic sweep fails it (--run-stuck-after).
	RunStuckAfter time.Duration
	// PlanRetention overrides plans' retention days at start-up
	// (--plan-retention: free=7/3/90,standard=30/7/365, run-log /
	// console-log / activity-log days); PlanDays is it parsed.
	PlanRetention string
	PlanDays      []PlanDays
	// SMTPAddr (host:port), SMTPFrom and SMTPUsername configure the SMTP
	// server alert e-mail goes through; SMTPPassword is
	// SLUICE_SMTP_PASSWORD, read from the environment only. No SMTPAddr:
	// alerts go to webhooks only.
	SMTPAddr     string
	SMTPFrom     string
	SMTPUsername string
	SMTPPassword secrets.Value
	// BlobDir is where console logs are kept (--blob-dir; default: "blobs"
	// in the data directory), unless S3Bucket is set.
	BlobDir string
	// S3Endpoint, S3Region, S3Bucket, S3Prefix and S3PathStyle put console
	// logs in an S3-compatible bucket instead (--s3-*). S3AccessKeyID and
	// S3SecretAccessKey are SLUICE_S3_ACCESS_KEY_ID and
	// SLUICE_S3_SECRET_ACCESS_KEY, read from the environment only; with
	// neither, the AWS SDK's default credential chain applies.
	S3Endpoint        string
	S3Region          string
	S3Bucket          string
	S3Prefix          string
	S3PathStyle       bool
	S3AccessKeyID     string
	S3SecretAccessKey secrets.Value
}

// Postgres reports whether the configured database is PostgreSQL rather
// than the embedded SQLite file.
func (c *Config) Postgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// SQLitePath is the database file used when no --database-url is given.
func (c *Config) SQLitePath() string {
	return filepath.Join(c.DataDir, "sluice.db")
}

// TLS reports whether the server terminates TLS itself.
func (c *Config) TLS() bool { return c.TLSCert != "" }

// Set names which groups of flags a command accepts.
type Set int

// The flag groups.
const (
	// DB is the database location: every command needs it.
	DB Set = 1 << iota
	// Server is the HTTP listener and its security settings.
	Server
	// Worker is the queue worker pool.
	Worker
	// Logging is the log format and level.
	Logging
	// Keys is the master key that unlocks the keyring.
	Keys
)

// Parse reads flags for a command from args, with SLUICE_* environment
// variables as defaults (a flag given on the command line wins). getenv is
// os.Getenv in production and a map in tests.
func Parse(name string, set Set, args []string, getenv func(string) string) (*Config, *flag.FlagSet, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	env := func(flagName, def string) string {
		key := "SLUICE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var envErrs []error
	str := func(p *string, flagName, def, usage string) {
		fs.StringVar(p, flagName, env(flagName, def), usage+" (env SLUICE_"+strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))+")")
	}
	boolean := func(p *bool, flagName, usage string) {
		v := env(flagName, "false")
		b, err := strconv.ParseBool(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("environment variable for --%s: %q is not true or false", flagName, v))
		}
		fs.BoolVar(p, flagName, b, usage)
	}
	dur := func(p *time.Duration, flagName string, def time.Duration, usage string) {
		v := env(flagName, def.String())
		d, err := time.ParseDuration(v)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("environment variable for --%s: %q is not a duration such as 8h or 30m", flagName, v))
			d = def
		}
		fs.DurationVar(p, flagName, d, usage)
	}

	str(&c.DataDir, "data-dir", "./data", "directory for the SQLite database, key file and local blobs")
	str(&c.DatabaseURL, "database-url", "", "postgres://... to use PostgreSQL instead of the embedded SQLite file")
	if set&Logging != 0 {
		str(&c.LogFormat, "log-format", "text", "log format: text or json")
		str(&c.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
	}
	if set&Server != 0 {
		str(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
		str(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
		str(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
		boolean(&c.InsecureHTTP, "insecure-http", "allow plain HTTP on a non-loopback address (behind a TLS proxy only)")
		str(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDRs of proxies whose X-Forwarded-For is believed")
		str(&c.PublicURL, "public-url", "", "URL users reach Sluice at, used in printed links (default: derived from --addr)")
		boolean(&c.NoWorker, "no-worker", "do not run queue workers in this process")
		dur(&c.SessionIdle, "session-idle-timeout", 8*time.Hour, "a session unused this long ends")
		dur(&c.SessionMax, "session-max-age", 7*24*time.Hour, "a session ends this long after login, used or not")
	}
	if set&Keys != 0 {
		str(&c.MasterKeyFile, "master-key-file", "", "file holding the 32-byte master key that unlocks the keyring, as base64 or hex, readable by its owner only (the key itself can be given in SLUICE_MASTER_KEY; with neither, a development key is generated in the data directory)")
		c.MasterKey = secrets.NewValue(getenv("SLUICE_MASTER_KEY"))
	}
	if set&(Server|Worker) != 0 {
		workers := env("workers", "4")
		n, err := strconv.Atoi(workers)
		if err != nil {
			envErrs = append(envErrs, fmt.Errorf("environment variable for --workers: %q is not a number", workers))
		}
		fs.IntVar(&c.Workers, "workers", n, "number of jobs this process runs at once")
		dur(&c.ShutdownGrace, "shutdown-grace", 30*time.Second, "how long in-flight requests and jobs get to finish on SIGINT/SIGTERM")
		str(&c.EgressAllow, "egress-allow", "", "instance-wide egress allowlist added to every project's: CIDRs or host names, comma-separated (e.g. 127.0.0.0/8 in development)")
		str(&c.FilesDir, "files-dir", "", "the only directory file reads and writes of flows may touch; created with mode 0700 at start (default: DATA_DIR/files)")
		str(&c.PlanRetention, "plan-retention", "", "retention days of plans, set at start-up: PLAN=RUN_LOG/CONSOLE_LOG/ACTIVITY_LOG days, comma-separated, e.g. free=7/3/90,standard=30/7/365")
		dur(&c.RunStuckAfter, "run-stuck-after", 90*time.Minute, "a running run whose worker has not reported for this long is failed as stuck (keep it above an hour, when the queue takes up the job of a worker that died)")
		str(&c.SMTPAddr, "smtp-addr", "", "host:port of the SMTP server failure alerts are mailed through (STARTTLS required unless on loopback)")
		str(&c.SMTPFrom, "smtp-from", "", "sender address of alert e-mail, e.g. sluice@example.com")
		str(&c.SMTPUsername, "smtp-username", "", "user name for SMTP authentication (the password only in SLUICE_SMTP_PASSWORD)")
		c.SMTPPassword = secrets.NewValue(getenv("SLUICE_SMTP_PASSWORD"))
		str(&c.BlobDir, "blob-dir", "", "directory console logs are kept in, encrypted, unless --s3-bucket is set; created with mode 0700 (default: DATA_DIR/blobs)")
		str(&c.S3Endpoint, "s3-endpoint", "", "URL of an S3-compatible store for console logs, e.g. https://minio.example.com (default: AWS S3)")
		str(&c.S3Region, "s3-region", "", "region of the S3 bucket (default: the AWS SDK's, else us-east-1)")
		str(&c.S3Bucket, "s3-bucket", "", "keep console logs in this existing S3 bucket instead of --blob-dir (credentials only in SLUICE_S3_ACCESS_KEY_ID and SLUICE_S3_SECRET_ACCESS_KEY, else the AWS SDK's default chain)")
		str(&c.S3Prefix, "s3-prefix", "", "prefix of every object name in the S3 bucket, e.g. sluice/")
		boolean(&c.S3PathStyle, "s3-path-style", "address the bucket as ENDPOINT/BUCKET, as most self-hosted S3-compatible stores need")
		c.S3AccessKeyID = getenv("SLUICE_S3_ACCESS_KEY_ID")
		c.S3SecretAccessKey = secrets.NewValue(getenv("SLUICE_S3_SECRET_ACCESS_KEY"))
	}
	if err := errors.Join(envErrs...); err != nil {
		return nil, fs, err
	}
	if err := fs.Parse(args); err != nil {
		return nil, fs, err
	}
	if set&(Server|Worker) != 0 && c.FilesDir == "" {
		c.FilesDir = filepath.Join(c.DataDir, "files")
	}
	if set&(Server|Worker) != 0 && c.BlobDir == "" {
		c.BlobDir = filepath.Join(c.DataDir, "blobs")
	}
	if err := c.validate(set); err != nil {
		return nil, fs, err
	}
	return c, fs, nil
}

func (c *Config) validate(set Set) error {
	if c.DatabaseURL != "" && !c.Postgres() {
		return fmt.Errorf("--database-url %q: only postgres:// or postgresql:// URLs are supported; leave it empty to use SQLite in --data-dir", redactURL(c.DatabaseURL))
	}
	if c.DataDir == "" {
		return errors.New("--data-dir must not be empty")
	}
	if set&Server != 0 {
		if (c.TLSCert == "") != (c.TLSKey == "") {
			return errors.New("--tls-cert and --tls-key must be given together")
		}
		if c.SessionIdle <= 0 || c.SessionMax <= 0 || c.SessionIdle > c.SessionMax {
			return errors.New("--session-idle-timeout and --session-max-age must be positive, and the idle timeout no longer than the maximum age")
		}
		if c.PublicURL != "" {
			u, err := url.Parse(c.PublicURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("--public-url %q: give the full URL users open, such as https://sluice.example.com", c.PublicURL)
			}
		}
	}
	if set&(Server|Worker) != 0 {
		if err := c.checkFilesDir(); err != nil {
			return err
		}
	}
	if set&(Server|Worker) != 0 {
		if err := c.checkSMTP(); err != nil {
			return err
		}
		if err := c.checkS3(); err != nil {
			return err
		}
	}
	if set&(Server|Worker) != 0 {
		days, err := ParsePlanRetention(c.PlanRetention)
		if err != nil {
			return err
		}
		c.PlanDays = days
	}
	if set&(Server|Worker) != 0 && c.RunStuckAfter < time.Minute {
		return fmt.Errorf("--run-stuck-after %s: must be at least 1m (a run reports every second while it works)", c.RunStuckAfter)
	}
	if set&(Server|Worker) != 0 && (c.Workers < 1 || c.Workers > 1000) {
		return fmt.Errorf("--workers %d: must be between 1 and 1000", c.Workers)
	}
	switch c.LogFormat {
	case "", "text", "json":
	default:
		return fmt.Errorf("--log-format %q: use text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: use debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// checkSMTP checks the alert mail settings as a set.
func (c *Config) checkSMTP() error {
	if c.SMTPAddr == "" {
		if c.SMTPFrom != "" || c.SMTPUsername != "" || !c.SMTPPassword.IsZero() {
			return errors.New("--smtp-from, --smtp-username and SLUICE_SMTP_PASSWORD need --smtp-addr host:port of the SMTP server")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(c.SMTPAddr)
	if err != nil || host == "" || port == "" {
		return fmt.Errorf("--smtp-addr %q: want host:port, such as smtp.example.com:587", c.SMTPAddr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return fmt.Errorf("--smtp-addr %q: port %q must be a number from 1 to 65535", c.SMTPAddr, port)
	}
	if c.SMTPFrom == "" {
		return errors.New("--smtp-addr needs --smtp-from, the sender address of alert e-mail")
	}
	if a, err := mail.ParseAddress(c.SMTPFrom); err != nil || a.Name != "" || a.Address != c.SMTPFrom {
		return fmt.Errorf("--smtp-from %q: give a plain address such as sluice@example.com", c.SMTPFrom)
	}
	if (c.SMTPUsername == "") != c.SMTPPassword.IsZero() {
		return errors.New("--smtp-username and SLUICE_SMTP_PASSWORD must be given together (or neither, for a server that needs no login)")
	}
	return nil
}

// checkS3 checks the S3 blob store settings as a set; the endpoint and
// bucket themselves are checked when the store opens.
func (c *Config) checkS3() error {
	if c.S3Bucket == "" {
		if c.S3Endpoint != "" || c.S3Region != "" || c.S3Prefix != "" || c.S3PathStyle || c.S3AccessKeyID != "" || !c.S3SecretAccessKey.IsZero() {
			return errors.New("--s3-endpoint, --s3-region, --s3-prefix, --s3-path-style and the SLUICE_S3_* credentials need --s3-bucket, the bucket console logs go to")
		}
		return nil
	}
	if (c.S3AccessKeyID == "") != c.S3SecretAccessKey.IsZero() {
		return errors.New("SLUICE_S3_ACCESS_KEY_ID and SLUICE_S3_SECRET_ACCESS_KEY must be given together (or neither, for the AWS SDK's default credentials)")
	}
	return nil
}

// checkFilesDir refuses a files directory that would let flows read what
// Sluice keeps secret: the data directory (database, development key
// file) inside it, or the master key or TLS key file in it. Paths are
// compared as written, made absolute; symbolic links are not followed.
func (c *Config) checkFilesDir() error {
	if inside(c.FilesDir, c.DataDir) {
		return fmt.Errorf("--files-dir %s holds the data directory %s, so flows could read the database and keys: use a directory of its own, such as %s", c.FilesDir, c.DataDir, filepath.Join(c.DataDir, "files"))
	}
	for _, f := range []struct{ flag, path string }{{"--master-key-file", c.MasterKeyFile}, {"--tls-key", c.TLSKey}, {"--blob-dir", c.BlobDir}} {
		if f.path != "" && inside(c.FilesDir, f.path) {
			return fmt.Errorf("%s %s is inside --files-dir %s, where flows can read it: keep it elsewhere", f.flag, f.path, c.FilesDir)
		}
	}
	return nil
}

// inside reports whether path is dir or lies under it.
func inside(dir, path string) bool {
	d, err1 := filepath.Abs(dir)
	p, err2 := filepath.Abs(path)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// redactURL hides the password of a database URL so it can be shown in an
// error message.
func redactURL(s string) string {
	if i := strings.Index(s, "://"); i >= 0 {
		rest := s[i+3:]
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if colon := strings.Index(rest[:at], ":"); colon >= 0 {
				return s[:i+3] + rest[:colon] + ":[REDACTED]" + rest[at:]
			}
		}
	}
	return s
}

// RedactURL is redactURL for callers that print the database URL.
func RedactURL(s string) string { return redactURL(s) }

// Getenv is os.Getenv, named so callers need not import os for it.
func Getenv(key string) string { return os.Getenv(key) }
