package connection

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth"
)

// Diagnosis is the answer of a connection test: where it stopped and what
// a user can do about it. It never holds a secret.
type Diagnosis struct {
	OK      bool   `json:"ok"`
	Stage   string `json:"stage"` // egress, dns, tcp, tls, auth, http, database
	Status  int    `json:"status,omitempty"`
	Message string `json:"message"`
}

// Network is how tests (and later runs) reach other systems: through the
// project's egress guard, with the connection's TLS settings and auth.
type Network interface {
	// HTTPClient is a client for an http connection: egress guard, TLS
	// settings, auth signer.
	HTTPClient(ctx context.Context, projectID string, c *Connection, sec Secrets) (*http.Client, error)
	// Dialer dials for a database connection through the egress guard.
	Dialer(ctx context.Context, projectID string) (func(ctx context.Context, network, addr string) (net.Conn, error), error)
	// BaseTransport is the guarded transport with the connection's TLS
	// settings and no auth (token endpoints).
	BaseTransport(ctx context.Context, projectID string, c *Connection, sec Secrets) (http.RoundTripper, error)
	// Classify names the stage of a network error the guard produced
	// ("egress" for a refused destination), or "".
	Classify(err error) (stage, message string)
}

// Test proves a connection and answers with a diagnosis.
func (s *Service) Test(ctx context.Context, projectID, id string) (*Diagnosis, error) {
	c, err := s.st.Reader().ConnectionByID(ctx, projectID, id)
	if err != nil {
		return nil, err
	}
	sec, err := s.open(c)
	if err != nil {
		return nil, err
	}
	v := s.view(c, sec)
	var d *Diagnosis
	switch c.Kind {
	case "http":
		d = s.testHTTP(ctx, projectID, v, sec)
	case "postgres":
		d = s.testPostgres(ctx, projectID, v, sec)
	case "mysql":
		d = s.testMySQL(ctx, projectID, v, sec)
	default:
		return nil, fmt.Errorf("connection: no test for kind %q", c.Kind)
	}
	d.Message = redact(d.Message, sec)
	return d, nil
}

// redact removes every secret value from a message, whatever a library
// put in it.
func redact(msg string, sec Secrets) string {
	for _, v := range sec {
		if p := v.Reveal(); len(p) >= 4 {
			msg = strings.ReplaceAll(msg, p, "[REDACTED]")
		}
	}
	return msg
}

func durationSetting(v *Connection, name string, def time.Duration) time.Duration {
	if s, ok := v.Settings[name].(string); ok {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
	}
	return def
}

func (s *Service) testHTTP(ctx context.Context, projectID string, v *Connection, sec Secrets) *Diagnosis {
	ctx, cancel := context.WithTimeout(ctx, durationSetting(v, "timeout", 30*time.Second))
	defer cancel()
	hc, err := s.Network.HTTPClient(ctx, projectID, v, sec)
	if err != nil {
		return &Diagnosis{Stage: "auth", Message: "the connection's settings cannot be used: " + err.Error()}
	}
	method, path := "GET", "/"
	if t, ok := v.Settings["test"].(map[string]any); ok {
		if m, ok := t["method"].(string); ok && m != "" {
			method = m
		}
		if p, ok := t["path"].(string); ok && p != "" {
			path = p
		}
	}
	base, _ := v.Settings["base_url"].(string)
	target, err := url.Parse(base + "/" + strings.TrimLeft(path, "/"))
	if err != nil {
		return &Diagnosis{Stage: "http", Message: "settings.test.path does not make a valid URL with base_url: " + err.Error()}
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
	if err != nil {
		return &Diagnosis{Stage: "http", Message: err.Error()}
	}
	if hs, ok := v.Settings["headers"].(map[string]any); ok {
		for k, x := range hs {
			if s, ok := x.(string); ok {
				req.Header.Set(k, s)
			}
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return s.networkDiagnosis(err, target.Host)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &Diagnosis{Stage: "auth", Status: resp.StatusCode, Message: fmt.Sprintf("%s %s answered %s: the system refused the credentials; check the auth settings and secrets", method, target.Path, resp.Status)}
	case resp.StatusCode >= 400:
		return &Diagnosis{Stage: "http", Status: resp.StatusCode, Message: fmt.Sprintf("%s %s answered %s: check base_url and settings.test.path", method, target.Path, resp.Status)}
	}
	return &Diagnosis{OK: true, Stage: "http", Status: resp.StatusCode, Message: fmt.Sprintf("%s %s answered %s", method, target.Path, resp.Status)}
}

// networkDiagnosis names the stage a connection attempt failed at.
func (s *Service) networkDiagnosis(err error, host string) *Diagnosis {
	if stage, msg := s.Network.Classify(err); stage != "" {
		return &Diagnosis{Stage: stage, Message: msg}
	}
	var tokErr *httpauth.TokenError
	if errors.As(err, &tokErr) {
		return &Diagnosis{Stage: "auth", Status: tokErr.Status, Message: "the token endpoint refused the credentials: " + tokErr.Error() + "; check the auth settings and secrets"}
	}
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &dnsErr):
		return &Diagnosis{Stage: "dns", Message: fmt.Sprintf("the name %s could not be resolved: check the host name", dnsErr.Name)}
	case errors.As(err, &unknownCA), errors.As(err, &verify) && errors.As(verify.Err, &unknownCA):
		return &Diagnosis{Stage: "tls", Message: fmt.Sprintf("the certificate of %s is signed by an authority this server does not trust: add its CA in settings.tls.ca_pem", host)}
	case errors.As(err, &hostErr):
		return &Diagnosis{Stage: "tls", Message: fmt.Sprintf("the certificate of %s is not valid for that name: %v", host, hostErr)}
	case errors.As(err, &invalid):
		return &Diagnosis{Stage: "tls", Message: fmt.Sprintf("the certificate of %s is not valid: %v", host, invalid)}
	case errors.As(err, &verify), errors.As(err, &alert):
		return &Diagnosis{Stage: "tls", Message: fmt.Sprintf("the TLS handshake with %s failed: %v", host, err)}
	case errors.As(err, &record):
		return &Diagnosis{Stage: "tls", Message: fmt.Sprintf("%s did not answer TLS: is the URL http:// rather than https://, or the port wrong?", host)}
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &opErr) && opErr.Timeout():
		return &Diagnosis{Stage: "tcp", Message: fmt.Sprintf("%s did not answer in time: check the host, the port and any firewall between", host)}
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return &Diagnosis{Stage: "tcp", Message: fmt.Sprintf("could not connect to %s: %v; check the host and the port", host, opErr.Err)}
	}
	return &Diagnosis{Stage: "tcp", Message: fmt.Sprintf("the request to %s failed: %v", host, err)}
}

func str(v *Connection, name string) string {
	s, _ := v.Settings[name].(string)
	return s
}

func port(v *Connection, def int) int {
	switch p := v.Settings["port"].(type) {
	case float64:
		return int(p)
	case int:
		return p
	}
	return def
}

func (s *Service) testPostgres(ctx context.Context, projectID string, v *Connection, sec Secrets) *Diagnosis {
	dial, err := s.Network.Dialer(ctx, projectID)
	if err != nil {
		return &Diagnosis{Stage: "egress", Message: err.Error()}
	}
	host := net.JoinHostPort(str(v, "host"), strconv.Itoa(port(v, 5432)))
	cfg, err := postgresConfig(v, sec, dial)
	if err != nil {
		return configDiagnosis(err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return postgresDiagnosis(s, err, host, v)
	}
	defer conn.Close(context.Background())
	var version string
	if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&version); err != nil {
		return postgresDiagnosis(s, err, host, v)
	}
	return &Diagnosis{OK: true, Stage: "database", Message: fmt.Sprintf("connected to PostgreSQL %s, database %s as %s", version, str(v, "database"), str(v, "user"))}
}

func postgresDiagnosis(s *Service, err error, host string, v *Connection) *Diagnosis {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01", "28000":
			return &Diagnosis{Stage: "auth", Message: fmt.Sprintf("PostgreSQL refused user %s: %s; check settings.user and secrets.password", str(v, "user"), pgErr.Message)}
		case "3D000":
			return &Diagnosis{Stage: "database", Message: fmt.Sprintf("database %s does not exist: check settings.database", str(v, "database"))}
		}
		return &Diagnosis{Stage: "database", Message: fmt.Sprintf("PostgreSQL error %s: %s", pgErr.Code, pgErr.Message)}
	}
	return s.networkDiagnosis(err, host)
}

func (s *Service) testMySQL(ctx context.Context, projectID string, v *Connection, sec Secrets) *Diagnosis {
	dial, err := s.Network.Dialer(ctx, projectID)
	if err != nil {
		return &Diagnosis{Stage: "egress", Message: err.Error()}
	}
	host := net.JoinHostPort(str(v, "host"), strconv.Itoa(port(v, 3306)))
	cfg, err := mysqlConfig(v, sec, dial)
	if err != nil {
		return configDiagnosis(err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return &Diagnosis{Stage: "database", Message: "the settings do not make a valid connection: " + err.Error()}
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var version string
	if err := db.QueryRowContext(ctx, "SELECT VERSION()").Scan(&version); err != nil {
		var myErr *mysql.MySQLError
		if errors.As(err, &myErr) {
			switch myErr.Number {
			case 1045:
				return &Diagnosis{Stage: "auth", Message: fmt.Sprintf("MySQL refused user %s: check settings.user and secrets.password", str(v, "user"))}
			case 1049:
				return &Diagnosis{Stage: "database", Message: fmt.Sprintf("database %s does not exist: check settings.database", str(v, "database"))}
			}
			return &Diagnosis{Stage: "database", Message: fmt.Sprintf("MySQL error %d: %s", myErr.Number, myErr.Message)}
		}
		return s.networkDiagnosis(err, host)
	}
	return &Diagnosis{OK: true, Stage: "database", Message: fmt.Sprintf("connected to MySQL/MariaDB %s, database %s as %s", version, str(v, "database"), str(v, "user"))}
}

// configDiagnosis is the diagnosis of settings that make no database
// config.
func configDiagnosis(err error) *Diagnosis {
	if errors.Is(err, errCAPEM) {
		return &Diagnosis{Stage: "tls", Message: err.Error()}
	}
	return &Diagnosis{Stage: "database", Message: err.Error()}
}
