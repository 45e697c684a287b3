// Package console is the web console: server-rendered HTML pages that use
// the same account service and the same guard as the JSON API. Pages carry
// no inline script or style, so the strict CSP holds.
package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/pipeline"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/runs"
	"github.com/sluice-dev/sluice/internal/secrets"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Console serves the pages.
type Console struct {
	Accounts   *account.Service
	TLS        bool
	SessionMax time.Duration
	// Services are what the project pages read and change, the same
	// services the API uses (app sets them).
	Services Services
	tmpl     *template.Template
}

// Services are the services behind the project pages.
type Services struct {
	Projects    *project.Service
	Pipelines   *pipeline.Service
	Runs        *runs.Service
	ConsoleLogs *consolelog.Service
	Connections *connection.Service
	Consumers   *consumer.Service
	Scheduler   *runs.Scheduler
	Store       *store.Store
	// Keyring is the keys page's (its status and rotations).
	Keyring *secrets.Keyring
	// BaseURL is the URL users reach Sluice at.
	BaseURL func() string
}

// New parses the templates.
func New(accounts *account.Service, tls bool, sessionMax time.Duration) *Console {
	t := template.Must(template.New("").Funcs(template.FuncMap{
		// can says whether the page's grant allows an action of DESIGN §4
		// ("project.configure"): controls a role may not use are not
		// shown (the server refuses them anyway).
		"can": func(g *access.Grant, action string) bool {
			return g != nil && access.Can(g.Role, access.Action(action))
		},
		// has says whether a list holds a value (checked boxes).
		"has": func(list []string, v string) bool { return slices.Contains(list, v) },
	}).ParseFS(templateFS, "templates/*.html"))
	return &Console{Accounts: accounts, TLS: tls, SessionMax: sessionMax, tmpl: t}
}

// Routes is the console's part of the server's route table.
func (c *Console) Routes() []httpx.Route {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	routes := []httpx.Route{
		{Method: "GET", Path: "/{$}", Access: httpx.Public, Handler: c.home},
		{Method: "GET", Path: "/setup", Access: httpx.Public, Handler: c.setupPage},
		{Method: "POST", Path: "/setup", Access: httpx.Public, Handler: c.setupPost, Form: true},
		{Method: "GET", Path: "/login", Access: httpx.Public, Handler: c.loginPage},
		{Method: "POST", Path: "/login", Access: httpx.Public, Handler: c.loginPost, Form: true},
		{Method: "POST", Path: "/logout", Access: httpx.User, Handler: c.logoutPost, Form: true},
		{Method: "GET", Path: "/static/", Access: httpx.Public, Handler: files.ServeHTTP},
	}
	// Project pages (projects*.go), run pages (runs.go), connections
	// (connections*.go), service consumers (consumers.go), members,
	// settings and the activity log (access.go, settings.go,
	// activity.go), groups (groups.go), the account (account.go).
	routes = append(routes, c.projectRoutes()...)
	routes = append(routes, c.runRoutes()...)
	routes = append(routes, c.connectionRoutes()...)
	routes = append(routes, c.consumerRoutes()...)
	routes = append(routes, c.accessRoutes()...)
	routes = append(routes, c.groupRoutes()...)
	// Users and invitations (users.go).
	routes = append(routes, c.userRoutes()...)
	// The keyring and the instance's activity log (keys.go, activity.go).
	routes = append(routes, c.adminRoutes()...)
	return append(routes, c.accountRoutes()...)
}

// page is what every template gets.
type page struct {
	Title   string
	User    *account.Principal
	CSRF    string
	Error   string
	Fields  map[string]string // field name → problem
	Values  map[string]string // values to put back in the form
	Notice  string
	Message string
	// Grant is the caller's role on the page's project (project pages).
	Grant *access.Grant
	// Data is what a page shows beyond the common parts.
	Data any
	// Refresh makes the browser reload the page every 5 seconds (work in
	// progress shown without script).
	Refresh bool
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if p.User == nil {
		p.User = account.PrincipalFrom(r.Context())
	}
	if p.User != nil {
		p.CSRF = p.User.CSRFToken()
	}
	if p.Grant == nil {
		p.Grant = access.GrantFrom(r.Context())
	}
	var b strings.Builder
	if err := c.tmpl.ExecuteTemplate(&b, name, p); err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// Fail answers a page request that the guard refused: to the login page
// when a session is needed, else an error page.
func (c *Console) Fail(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, account.ErrUnauthenticated) {
		httpx.ClearSessionCookie(w, c.TLS)
		// The whole address, query included, so a link to filtered runs
		// still shows them after logging in (safeNext checks it there).
		http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	status, msg := problem(r, err)
	c.render(w, r, status, "error.html", page{Title: "Error", Error: msg})
}

// problem is the status and message the API gives for err, so pages and
// API agree on what an error means.
func problem(r *http.Request, err error) (int, string) {
	e := httpx.Describe(r, err)
	return e.Status, e.Message
}

func (c *Console) home(w http.ResponseWriter, r *http.Request) {
	p := account.PrincipalFrom(r.Context())
	if p == nil {
		needed, err := c.Accounts.SetupNeeded(r.Context())
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		if needed {
			c.render(w, r, http.StatusOK, "setup-needed.html", page{Title: "Set up Sluice"})
			return
		}
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	// The notice is a code, never text from the URL: a link must not be
	// able to put its own words on the page.
	notice := ""
	if r.URL.Query().Get("notice") == "welcome" {
		notice = "Setup is complete: your account is the instance administrator."
	}
	c.render(w, r, http.StatusOK, "home.html", page{Title: "Sluice", Notice: notice})
}

func (c *Console) setupPage(w http.ResponseWriter, r *http.Request) {
	needed, err := c.Accounts.SetupNeeded(r.Context())
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	if !needed {
		http.Redirect(w, r, "/login?notice=setup-done", http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "setup.html", page{Title: "Set up Sluice", Values: map[string]string{"token": r.URL.Query().Get("token")}})
}

func (c *Console) setupPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	res, err := c.Accounts.Setup(r.Context(), account.SetupRequest{Token: f.Get("token"), Email: f.Get("email"),
		Password: f.Get("password"), Name: f.Get("name"), Client: clientOf(r)})
	if err != nil {
		c.formError(w, r, "setup.html", "Set up Sluice", err, map[string]string{"token": f.Get("token"), "email": f.Get("email"), "name": f.Get("name")})
		return
	}
	httpx.SetSessionCookie(w, c.TLS, res.Token, c.SessionMax)
	http.Redirect(w, r, "/?notice=welcome", http.StatusSeeOther)
}

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if account.PrincipalFrom(r.Context()) != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	notice := ""
	switch r.URL.Query().Get("notice") {
	case "setup-done":
		notice = "Setup is already complete: log in."
	case "logged-out":
		notice = "You have logged out."
	}
	c.render(w, r, http.StatusOK, "login.html", page{Title: "Log in", Notice: notice,
		Values: map[string]string{"next": safeNext(r.URL.Query().Get("next"))}})
}

func (c *Console) loginPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	res, err := c.Accounts.Login(r.Context(), account.LoginRequest{Email: f.Get("email"), Password: f.Get("password"),
		TOTP: f.Get("totp"), Client: clientOf(r)})
	if err != nil {
		vals := map[string]string{"email": f.Get("email"), "next": safeNext(f.Get("next"))}
		// The password was right and the second factor is missing or
		// wrong: the page asks for the code beside its field.
		switch {
		case errors.Is(err, account.ErrTOTPRequired):
			vals["totp_required"] = "Enter your password again with the 6-digit code from your authenticator app (or a recovery code)."
		case errors.Is(err, account.ErrInvalidTOTP):
			vals["totp_required"] = "That code is wrong, expired or already used: enter your password again with the code your app shows now."
		}
		if vals["totp_required"] != "" {
			// The problem is said beside the code's field, in the page's
			// words rather than the API's.
			c.render(w, r, http.StatusUnauthorized, "login.html", page{Title: "Log in", Values: vals})
			return
		}
		c.formError(w, r, "login.html", "Log in", err, vals)
		return
	}
	httpx.SetSessionCookie(w, c.TLS, res.Token, c.SessionMax)
	http.Redirect(w, r, safeNext(f.Get("next")), http.StatusSeeOther)
}

func (c *Console) logoutPost(w http.ResponseWriter, r *http.Request) {
	if err := c.Accounts.Logout(r.Context(), account.PrincipalFrom(r.Context()), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	httpx.ClearSessionCookie(w, c.TLS)
	http.Redirect(w, r, "/login?notice=logged-out", http.StatusSeeOther)
}

// formError shows a form again with the error next to its field.
func (c *Console) formError(w http.ResponseWriter, r *http.Request, tmpl, title string, err error, values map[string]string) {
	e := httpx.Describe(r, err)
	status, msg := e.Status, e.Message
	if e.RetryAfter > 0 || status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(httpx.RetryAfterSeconds(e.RetryAfter), 10))
	}
	fields := map[string]string{}
	var invalid *account.InvalidInputError
	if errors.As(err, &invalid) {
		// The message continues the field's name ("is required"); next
		// to the field it must read as a sentence of its own.
		if name := strings.ReplaceAll(invalid.Field, "_", " "); name != "" {
			fields[invalid.Field] = strings.ToUpper(name[:1]) + name[1:] + " " + invalid.Message
		}
		msg = ""
	}
	c.render(w, r, status, tmpl, page{Title: title, Error: msg, Fields: fields, Values: values})
}

// safeNext keeps a post-login redirect on this site: only a path on this
// host (query kept) is allowed, anything else becomes "/". Browsers read
// a backslash as a slash and drop tabs and newlines before resolving a
// Location, so "/\evil" and "/<tab>/evil" would leave the site like
// "//evil": control characters and backslashes are refused anywhere in the
// path, not just at its start, and so is a path that decodes to "//".
func safeNext(next string) string {
	if next == "" || len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		strings.Contains(u.Path, "\\") || strings.HasPrefix(u.Path, "//") {
		return "/"
	}
	return next
}

func clientOf(r *http.Request) account.Client {
	return account.ClientOf(httpx.ClientIPFrom(r.Context()), r.UserAgent())
}

// parseForm reads a posted form; a body over the size limit is a 413 like
// anywhere else, other failures a 400.
func parseForm(r *http.Request) error {
	err := r.ParseForm()
	var tooBig *http.MaxBytesError
	if err == nil || errors.As(err, &tooBig) {
		return err
	}
	return httpx.BadRequest("malformed_form", "the form could not be read: submit it again from the page")
}
