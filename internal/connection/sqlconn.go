package connection

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sluice-dev/sluice/internal/netguard"
)

// SQLDB is a database connection of a project, ready to be opened: its
// kind ("postgres" or "mysql") and an Open that builds a *sql.DB reaching
// the database through the project's egress guard.
type SQLDB struct {
	Kind string
	Open func(ctx context.Context) (*sql.DB, error)
}

// ErrNotSQL is returned by OpenSQL for a connection that is not a
// database (postgres or mysql).
var ErrNotSQL = errors.New("is not a database connection (postgres or mysql)")

// OpenSQL loads the connection name of a project and returns how to open
// it as a *sql.DB. Its secrets are unsealed now; the guarded dialer is
// made by each Open.
func (s *Service) OpenSQL(ctx context.Context, projectID, name string) (*SQLDB, error) {
	c, err := s.st.Reader().ConnectionByName(ctx, projectID, name)
	if err != nil {
		return nil, err
	}
	if c.Kind != "postgres" && c.Kind != "mysql" {
		return nil, fmt.Errorf("connection %q (%s) %w", name, c.Kind, ErrNotSQL)
	}
	if s.Network == nil {
		return nil, errors.New("connection: no network to reach databases")
	}
	sec, err := s.open(c)
	if err != nil {
		return nil, err
	}
	v := s.view(c, sec)
	kind := c.Kind
	return &SQLDB{Kind: kind, Open: func(ctx context.Context) (*sql.DB, error) {
		dial, err := s.Network.Dialer(ctx, projectID)
		if err != nil {
			return nil, err
		}
		if kind == "postgres" {
			return postgresDB(v, sec, dial)
		}
		return mysqlDB(v, sec, dial)
	}}, nil
}

// errCAPEM is a settings.ca_pem that holds no certificate.
var errCAPEM = errors.New("settings.ca_pem holds no usable certificate")

type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// postgresConfig is the pgx config of a postgres connection.
func postgresConfig(v *Connection, sec Secrets, dial dialFunc) (*pgx.ConnConfig, error) {
	host := net.JoinHostPort(str(v, "host"), strconv.Itoa(port(v, 5432)))
	u := &url.URL{Scheme: "postgres", Host: host, Path: "/" + str(v, "database"), User: url.User(str(v, "user"))}
	q := url.Values{"sslmode": {str(v, "sslmode")}}
	u.RawQuery = q.Encode()
	cfg, err := pgx.ParseConfig(u.String())
	if err != nil {
		return nil, fmt.Errorf("the settings do not make a valid connection: %w", err)
	}
	cfg.Password = sec.get("secrets.password")
	cfg.ConnectTimeout = durationSetting(v, "connect_timeout", 10*time.Second)
	cfg.DialFunc = dial
	// The guard resolves names itself, at dial time; pgx must not
	// resolve them first.
	cfg.LookupFunc = netguard.PassthroughLookup
	if ca := str(v, "ca_pem"); ca != "" && cfg.TLSConfig != nil {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, errCAPEM
		}
		cfg.TLSConfig.RootCAs = pool
	}
	return cfg, nil
}

func postgresDB(v *Connection, sec Secrets, dial dialFunc) (*sql.DB, error) {
	cfg, err := postgresConfig(v, sec, dial)
	if err != nil {
		return nil, err
	}
	return stdlib.OpenDB(*cfg), nil
}

// mysqlConfig is the driver config of a mysql connection; strict mode
// makes a bad value an error rather than a silent truncation.
func mysqlConfig(v *Connection, sec Secrets, dial dialFunc) (*mysql.Config, error) {
	host := net.JoinHostPort(str(v, "host"), strconv.Itoa(port(v, 3306)))
	cfg := mysql.NewConfig()
	cfg.Net, cfg.Addr, cfg.User, cfg.Passwd, cfg.DBName = "tcp", host, str(v, "user"), sec.get("secrets.password"), str(v, "database")
	cfg.Timeout = durationSetting(v, "connect_timeout", 10*time.Second)
	cfg.DialFunc = dial
	cfg.ParseTime = true
	cfg.Params = map[string]string{"sql_mode": "'STRICT_ALL_TABLES'"}
	switch str(v, "tls") {
	case "true":
		tc := &tls.Config{ServerName: str(v, "host"), MinVersion: tls.VersionTLS12}
		if ca := str(v, "ca_pem"); ca != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(ca)) {
				return nil, errCAPEM
			}
			tc.RootCAs = pool
		}
		cfg.TLS = tc
	case "skip-verify", "preferred":
		cfg.TLSConfig = str(v, "tls")
	}
	return cfg, nil
}

func mysqlDB(v *Connection, sec Secrets, dial dialFunc) (*sql.DB, error) {
	cfg, err := mysqlConfig(v, sec, dial)
	if err != nil {
		return nil, err
	}
	c, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("the settings do not make a valid connection: %w", err)
	}
	return sql.OpenDB(c), nil
}
