package store

import (
	"context"
	"strings"
)

// prefixed qualifies a column list with a table alias for joins.
func prefixed(columns, alias string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

var (
	sessionWithUserQuery = `SELECT ` + prefixed(sessionColumns, "s") + `, ` + prefixed(userColumns, "u") +
		` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`
	apiKeyWithUserQuery = `SELECT ` + prefixed(apiKeyColumns, "k") + `, ` + prefixed(userColumns, "u") +
		` FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.token_hash = $1`
)

// SessionWithUser loads the session a cookie names and its user in one
// query: every cookie request starts with it. Expiry is the caller's to
// check.
func (q *Q) SessionWithUser(ctx context.Context, hash string) (*Session, *User, error) {
	s, u := &Session{}, &User{}
	if err := q.queryRowPrepared(ctx, sessionWithUserQuery, hash).Scan(append(s.dest(), u.dest()...)...); err != nil {
		return nil, nil, notFound(err, "session")
	}
	s.normalize()
	u.normalize()
	return s, u, nil
}

// APIKeyWithUser loads the key a Bearer token names and its user in one
// query: every API-key request starts with it. Expiry is the caller's to
// check.
func (q *Q) APIKeyWithUser(ctx context.Context, hash string) (*APIKey, *User, error) {
	var r apiKeyRow
	u := &User{}
	if err := q.queryRowPrepared(ctx, apiKeyWithUserQuery, hash).Scan(append(r.dest(), u.dest()...)...); err != nil {
		return nil, nil, notFound(err, "api key")
	}
	u.normalize()
	return r.key(), u, nil
}
