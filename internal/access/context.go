package access

import (
	"context"

	"github.com/sluice-dev/sluice/internal/store"
)

// Grant is what the guard resolved for a project route: the project and
// the caller's role on it, read from the database for this request.
type Grant struct {
	Project *store.Project
	Role    Role
}

type grantKey struct{}

// WithGrant returns ctx carrying g.
func WithGrant(ctx context.Context, g *Grant) context.Context {
	return context.WithValue(ctx, grantKey{}, g)
}

// GrantFrom is the project grant the guard put on the request, or nil off
// project routes.
func GrantFrom(ctx context.Context) *Grant {
	g, _ := ctx.Value(grantKey{}).(*Grant)
	return g
}

// Allows reports whether the request's role may also take action, for a
// handler whose request mixes several kinds of change: it must be refused
// whole when any part is not allowed.
func (g *Grant) Allows(action Action) bool { return g != nil && Can(g.Role, action) }
