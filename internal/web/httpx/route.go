package httpx

import (
	"net/http"

	"github.com/sluice-dev/sluice/internal/access"
)

// Access is who may reach a route before its handler runs. Finer rules
// (project roles) are checked by the handler through the access package.
type Access int

// The access levels of a route.
const (
	// Public routes need no login (health, setup, login).
	Public Access = iota
	// User routes need a session or an API key of an enabled user.
	User
	// Admin routes need an instance administrator.
	Admin
	// Consumer routes are called by other systems (dynamic calls): the
	// guard authenticates no user and a session or API key lends them
	// nothing; the handler verifies the service consumer's credentials.
	Consumer
)

func (a Access) String() string {
	switch a {
	case Public:
		return "public"
	case User:
		return "user"
	case Admin:
		return "admin"
	case Consumer:
		return "consumer"
	}
	return "unknown"
}

// Route is one row of the server's single route table.
type Route struct {
	Method  string
	Path    string
	Access  Access
	Handler http.HandlerFunc
	// Form marks console routes that take HTML form posts: they answer
	// errors as pages and carry the CSRF token in a form field.
	Form bool
	// Action is what a project route ({p} in its path) does. The guard
	// resolves the project and the caller's role and asks the access
	// matrix before the handler runs: no role is 404, a role without the
	// action 403. Every route with {p} must name one.
	Action access.Action
}

// Pattern is the ServeMux pattern of the route ("GET /api/v1/me").
func (r Route) Pattern() string { return r.Method + " " + r.Path }
