// Package store is Sluice's metadata store: users, sessions, API keys, the
// audit log and, later, projects, flows and runs. It runs on an embedded
// SQLite file or on PostgreSQL with the same SQL: statements use $1-style
// placeholders, which both drivers accept, and the few differences between
// the dialects live in the per-dialect migrations.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the SQL database behind a Store.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store holds the database pools. On SQLite, writes go through a pool of
// exactly one connection, so writers queue in Go instead of failing with
// SQLITE_BUSY, while reads use a separate read-only pool that WAL lets run
// beside the writer. On PostgreSQL both are the same pool.
type Store struct {
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	pgx     *pgxpool.Pool // PostgreSQL only: for River's pgx driver
	now     func() time.Time
	// stmts caches prepared statements of the hottest reads (see
	// Q.queryRow); database/sql keeps one per pool connection.
	stmts sync.Map // query string → *sql.Stmt
	// wstmts caches prepared statements of the hottest writes on the
	// SQLite write pool (Q.execPrepared); wanted holds those asked for
	// inside a transaction, prepared after it (the write pool's one
	// connection is the transaction's until then).
	wstmts sync.Map // query string → *sql.Stmt
	wanted sync.Map // query string → struct{}
}

// Options tunes Open; the zero value is fine.
type Options struct {
	// Now replaces the clock, for tests.
	Now func() time.Time
	// ReadConns bounds the read pool (default 8 on SQLite, 20 on PostgreSQL).
	ReadConns int
}

// OpenSQLite opens (creating if needed) the SQLite database at path.
func OpenSQLite(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)&_time_format=sqlite&_txlock=immediate"
	write, err := sql.Open("sqlite", base)
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	if err := setAutoVacuum(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, err)
	}
	// The database file holds password hashes and sessions: only the
	// owner may read it.
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		if _, err := os.Stat(f); err == nil {
			_ = os.Chmod(f, 0o600)
		}
	}
	read, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open sqlite read pool: %w", err)
	}
	n := opts.ReadConns
	if n <= 0 {
		n = 8
	}
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	return newStore(SQLite, write, read, nil, opts), nil
}

// setAutoVacuum makes a new database (no table yet) incremental-vacuum,
// so retention can give freed pages back (ReclaimSpace). It is set once,
// not on every connection: the pragma would take a lock that waits for
// writers. A file made before keeps auto_vacuum NONE until one VACUUM.
func setAutoVacuum(ctx context.Context, db *sql.DB) error {
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master`).Scan(&tables); err != nil {
		return err
	}
	if tables > 0 {
		return nil
	}
	// WAL mode has written the file's header already: the empty
	// database's VACUUM (instant) makes the mode take hold.
	if _, err := db.ExecContext(ctx, `PRAGMA auto_vacuum = INCREMENTAL`); err != nil {
		return err
	}
	_, err := db.ExecContext(ctx, `VACUUM`)
	return err
}

// OpenPostgres connects to the PostgreSQL database at databaseURL.
func OpenPostgres(ctx context.Context, databaseURL string, opts Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("store: parse database URL: %w", errors.New(redactPGError(err.Error())))
	}
	if opts.ReadConns > 0 {
		cfg.MaxConns = int32(opts.ReadConns)
	} else if cfg.MaxConns < 20 {
		cfg.MaxConns = 20
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to postgres at %s:%d: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, err)
	}
	db := stdlib.OpenDBFromPool(pool)
	return newStore(Postgres, db, db, pool, opts), nil
}

func newStore(d Dialect, write, read *sql.DB, pool *pgxpool.Pool, opts Options) *Store {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Store{dialect: d, write: write, read: read, pgx: pool, now: now}
}

// redactPGError drops a password that pgx may echo back from a bad URL.
func redactPGError(s string) string {
	if i := strings.Index(s, "password="); i >= 0 {
		return s[:i] + "password=[REDACTED]"
	}
	return s
}

// Dialect reports which database this Store runs on.
func (s *Store) Dialect() Dialect { return s.dialect }

// WriteDB is the pool that writes go through (one connection on SQLite).
// River's drivers use it.
func (s *Store) WriteDB() *sql.DB { return s.write }

// PgxPool is the PostgreSQL pool, or nil on SQLite.
func (s *Store) PgxPool() *pgxpool.Pool { return s.pgx }

// Now is the store's clock, in UTC and truncated to microseconds, the
// precision both databases keep.
func (s *Store) Now() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

// Ping checks that the database answers, for /readyz.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("store: ping: %w", err)
	}
	return nil
}

// Close checkpoints the SQLite WAL into the main file and closes the pools.
// It is safe to call more than once.
func (s *Store) Close() error {
	if s.write == nil {
		return nil
	}
	var errs []error
	if s.dialect == SQLite {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if _, err := s.write.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
			errs = append(errs, fmt.Errorf("store: checkpoint: %w", err))
		}
		cancel()
	}
	for _, m := range []*sync.Map{&s.stmts, &s.wstmts} {
		m.Range(func(k, v any) bool {
			v.(*sql.Stmt).Close()
			m.Delete(k)
			return true
		})
	}
	if s.dialect == SQLite {
		errs = append(errs, s.read.Close())
	}
	errs = append(errs, s.write.Close())
	if s.pgx != nil {
		s.pgx.Close()
	}
	s.write, s.read = nil, nil
	return errors.Join(errs...)
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Q runs queries on one pool or inside one transaction. Every store method
// hangs off Q, so the same method works alone or as part of a larger
// transaction that also writes an audit event or enqueues a job.
type Q struct {
	q       querier
	tx      *sql.Tx
	dialect Dialect
	now     func() time.Time
	st      *Store // set on the read pool's Q, for prepared statements
	ws      *Store // set inside InTx, for execPrepared
}

// queryRowPrepared runs a read that every request makes through a prepared
// statement, so SQLite does not parse the same SQL each time (profiling
// showed parsing as a fifth of the CPU of an authenticated request). Off
// the read pool, or if preparing fails, it runs the query as usual.
func (q *Q) queryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row {
	if q.st == nil {
		return q.q.QueryRowContext(ctx, query, args...)
	}
	if v, ok := q.st.stmts.Load(query); ok {
		return v.(*sql.Stmt).QueryRowContext(ctx, args...)
	}
	stmt, err := q.st.read.PrepareContext(ctx, query)
	if err != nil {
		return q.q.QueryRowContext(ctx, query, args...)
	}
	if v, loaded := q.st.stmts.LoadOrStore(query, stmt); loaded {
		stmt.Close()
		stmt = v.(*sql.Stmt)
	}
	return stmt.QueryRowContext(ctx, args...)
}

// Reader is a Q on the read pool: for reads outside a transaction.
func (s *Store) Reader() *Q { return &Q{q: s.read, dialect: s.dialect, now: s.Now, st: s} }

// Writer is a Q on the write pool in autocommit mode: for single writes.
func (s *Store) Writer() *Q { return &Q{q: s.write, dialect: s.dialect, now: s.Now} }

// InTx runs fn in one transaction on the write pool, committing when fn
// returns nil and rolling back otherwise (or when fn panics).
func (s *Store) InTx(ctx context.Context, fn func(q *Q) error) (err error) {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(&Q{q: tx, tx: tx, dialect: s.dialect, now: s.Now, ws: s}); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		// database/sql rolls a transaction back by itself when its context
		// ends; say so rather than report a confusing ErrTxDone.
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("store: commit: %w", ctxErr)
		}
		return fmt.Errorf("store: commit: %w", err)
	}
	s.prepareWanted(ctx)
	return nil
}

// prepared gives query's statement bound to q's transaction, parsed once
// for the store: on SQLite, inside InTx, once the statement was prepared
// (after the first transaction that asked for it). Otherwise it gives nil
// and the query is to be run as usual; PostgreSQL's driver caches
// prepared statements itself. The statement closes with the transaction.
func (q *Q) prepared(ctx context.Context, query string) *sql.Stmt {
	if q.tx == nil || q.ws == nil || q.dialect != SQLite {
		return nil
	}
	if v, ok := q.ws.wstmts.Load(query); ok {
		return q.tx.StmtContext(ctx, v.(*sql.Stmt))
	}
	q.ws.wanted.Store(query, struct{}{})
	return nil
}

// prepareWanted prepares on the write pool the statements execPrepared
// was asked for; a failure leaves the query to run unprepared.
func (s *Store) prepareWanted(ctx context.Context) {
	s.wanted.Range(func(k, _ any) bool {
		s.wanted.Delete(k)
		query := k.(string)
		if _, ok := s.wstmts.Load(query); ok {
			return true
		}
		stmt, err := s.write.PrepareContext(ctx, query)
		if err != nil {
			return true
		}
		if _, loaded := s.wstmts.LoadOrStore(query, stmt); loaded {
			stmt.Close()
		}
		return true
	})
}

// Tx is the transaction this Q runs in, or nil outside one. The queue uses
// it to enqueue a job that commits or rolls back with the row changes.
func (q *Q) Tx() *sql.Tx { return q.tx }

// Dialect is the database the queries run on.
func (q *Q) Dialect() Dialect { return q.dialect }

// Now is the store clock (UTC, microseconds).
func (q *Q) Now() time.Time { return q.now() }

// notFound turns sql.ErrNoRows into ErrNotFound with what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("store: %s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("store: %s: %w", what, err)
}

// isUniqueViolation reports whether err is a unique-constraint failure on
// either database, so callers can answer 409 rather than 500.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		return liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || liteErr.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}
