// Package web assembles Sluice's HTTP server: one route table from the JSON
// API and the console, one middleware chain, and the authentication and
// CSRF guard every route passes through before its handler runs.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/auth"
	"github.com/sluice-dev/sluice/internal/netguard"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/web/api"
	"github.com/sluice-dev/sluice/internal/web/console"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// Pinger is something /readyz checks (the store, the queue).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps is what the server is built from.
type Deps struct {
	Accounts *account.Service
	Projects *project.Service
	API      *api.API
	Console  *console.Console
	Metrics  *httpx.Metrics
	Logger   *slog.Logger
	Proxies  *netguard.TrustedProxies
	// TLS says the server terminates TLS (Secure cookies, HSTS).
	TLS bool
	// Ready lists what /readyz checks, by name.
	Ready map[string]Pinger
}

// Server is the HTTP side of Sluice.
type Server struct {
	d      Deps
	routes []httpx.Route
	// pages are the console's routes, which answer a refusal with a page
	// (or a redirect to the login page); every other route, /healthz and
	// /metrics included, answers in JSON.
	pages map[string]bool
}

// New builds the server and its route table.
func New(d Deps) *Server {
	s := &Server{d: d}
	s.routes = append(s.routes,
		httpx.Route{Method: "GET", Path: "/healthz", Access: httpx.Public, Handler: s.healthz},
		httpx.Route{Method: "GET", Path: "/readyz", Access: httpx.Public, Handler: s.readyz},
		httpx.Route{Method: "GET", Path: "/metrics", Access: httpx.Public, Handler: d.Metrics.Handler().ServeHTTP},
	)
	s.routes = append(s.routes, d.API.Routes()...)
	pages := d.Console.Routes()
	s.pages = make(map[string]bool, len(pages))
	for _, rt := range pages {
		s.pages[rt.Pattern()] = true
	}
	s.routes = append(s.routes, pages...)
	for _, rt := range s.routes {
		// A project route without an action would skip the matrix: fail
		// at start-up, not in production.
		if strings.Contains(rt.Path, "{p}") && (rt.Action == "" || rt.Access == httpx.Public) {
			panic(fmt.Sprintf("web: route %s has {p} but names no access action", rt.Pattern()))
		}
		if rt.Action != "" && !strings.Contains(rt.Path, "{p}") {
			panic(fmt.Sprintf("web: route %s names an access action but has no {p}", rt.Pattern()))
		}
	}
	return s
}

// Routes is the server's route table, sorted by path: the one list every
// request is matched against (tests walk it to check each route's access).
func (s *Server) Routes() []httpx.Route {
	out := append([]httpx.Route(nil), s.routes...)
	sort.Slice(out, func(i, j int) bool { return out[i].Pattern() < out[j].Pattern() })
	return out
}

// Handler is the whole server: middleware around a ServeMux holding every
// route behind the guard.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.Pattern(), s.guard(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteError(w, r, httpx.NotFound("no such page or API route: check the method and path (the API is under /api/v1, see docs/api.md)"))
	})
	var h http.Handler = mux
	h = httpx.MaxBody(httpx.MaxBodyBytes)(h)
	h = httpx.SecurityHeaders(s.d.TLS)(h)
	h = httpx.Recover(h)
	h = s.d.Metrics.Middleware(h)
	h = httpx.Logger(s.d.Logger)(h)
	h = httpx.ClientIP(s.d.Proxies)(h)
	h = httpx.RequestID(h)
	return h
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	checks := map[string]string{}
	ok := true
	for name, p := range s.d.Ready {
		if err := p.Ping(r.Context()); err != nil {
			httpx.LoggerFrom(r.Context()).Warn("readiness check failed", "check", name, "error", err)
			checks[name], ok = "unavailable", false
		} else {
			checks[name] = "ok"
		}
	}
	status := http.StatusOK
	if !ok {
		status = http.StatusServiceUnavailable
	}
	httpx.WriteJSON(w, status, map[string]any{"ready": ok, "checks": checks})
}

// guard authenticates the request, enforces the route's access level and,
// for unsafe requests that ride on the session cookie, the CSRF token and a
// same-origin Origin. API keys need no CSRF check: browsers never attach
// an Authorization header on their own.
func (s *Server) guard(rt httpx.Route) http.Handler {
	page := s.pages[rt.Pattern()]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fail := func(err error) {
			if page {
				s.d.Console.Fail(w, r, err)
				return
			}
			if errors.Is(err, account.ErrUnauthenticated) {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
			}
			httpx.WriteError(w, r, err)
		}
		if rt.Access == httpx.Consumer {
			// No user acts here: cookies and API keys are not looked at,
			// and there is nothing for a forged cross-site request to
			// borrow. The handler verifies the consumer.
			rt.Handler(w, r)
			return
		}
		p, viaCookie, err := s.authenticate(r)
		if rt.Access == httpx.Public && viaCookie && unsafe(r.Method) {
			// A public action (log in, set up) acts for nobody: the session
			// cookie lends it no authority, so it needs no CSRF token, and
			// a browser or cookie jar still holding a session (its own, or
			// one planted on it) can log in again and get a new one. Form
			// posts still need a same-origin Origin, and a foreign Origin
			// is refused on every route.
			p, viaCookie, err = nil, false, nil
		}
		if err != nil && (rt.Access != httpx.Public || !viaCookie) {
			// A bad API key is an error even on a public route; a stale
			// cookie on a public page (the login page) is simply ignored.
			fail(err)
			return
		}
		switch {
		case rt.Access == httpx.Public:
		case p == nil:
			fail(account.ErrUnauthenticated)
			return
		case rt.Access == httpx.Admin && !p.User.Admin:
			fail(account.ErrForbidden)
			return
		}
		if unsafe(r.Method) {
			if err := checkOrigin(r, viaCookie || rt.Form); err != nil {
				fail(err)
				return
			}
			if viaCookie && p != nil {
				if err := checkCSRF(r, p, rt.Form); err != nil {
					fail(err)
					return
				}
			}
		}
		ctx := r.Context()
		if p != nil {
			ctx = account.WithPrincipal(ctx, p)
		}
		if rt.Action != "" {
			// The project and the caller's role, read for this request;
			// no role answers exactly like a project that does not exist.
			g, err := s.d.Projects.Resolve(ctx, p, r.PathValue("p"))
			if err != nil {
				fail(err)
				return
			}
			if !access.Can(g.Role, rt.Action) {
				fail(&httpx.Error{Status: http.StatusForbidden, Code: "forbidden",
					Message: fmt.Sprintf("your role on this project (%s) does not allow this: ask the project's owner or an administrator", g.Role)})
				return
			}
			ctx = access.WithGrant(ctx, g)
		}
		rt.Handler(w, r.WithContext(ctx))
	})
}

// authenticate finds the principal of a request: a Bearer API key if the
// Authorization header is present, else the session cookie. viaCookie says
// which was used (true also when a cookie was present but invalid).
func (s *Server) authenticate(r *http.Request) (p *account.Principal, viaCookie bool, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, key, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || key == "" {
			return nil, false, account.ErrUnauthenticated
		}
		p, err = s.d.Accounts.AuthenticateAPIKey(r.Context(), strings.TrimSpace(key), httpx.ClientIPStringFrom(r.Context()))
		return p, false, err
	}
	token := httpx.SessionToken(r, s.d.TLS)
	if token == "" {
		return nil, false, nil
	}
	p, err = s.d.Accounts.AuthenticateSession(r.Context(), token)
	return p, true, err
}

func unsafe(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

var errCrossOrigin = httpx.Forbidden("cross-origin request refused: unsafe requests made with the session cookie must come from this site (send an Origin header matching it), or use an API key")

// checkOrigin refuses an unsafe request whose Origin (or, without one,
// Referer) names another site. required says the request must name its
// origin at all: cookie-authenticated requests and console form posts.
func checkOrigin(r *http.Request, required bool) error {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if ref := r.Header.Get("Referer"); ref != "" {
			origin = ref
		}
	}
	if origin == "" {
		if required {
			return errCrossOrigin
		}
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || !strings.EqualFold(u.Host, r.Host) || (u.Scheme != "http" && u.Scheme != "https") {
		return errCrossOrigin
	}
	return nil
}

var errCSRF = &httpx.Error{Status: http.StatusForbidden, Code: "csrf_token_invalid",
	Message: "missing or wrong CSRF token: send the csrf_token from the login answer in the X-CSRF-Token header"}

// checkCSRF compares the request's token with the session's.
func checkCSRF(r *http.Request, p *account.Principal, form bool) error {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" && form {
		got = r.PostFormValue("csrf_token")
	}
	if got == "" || !auth.EqualTokens(got, p.CSRFToken()) {
		return errCSRF
	}
	return nil
}
