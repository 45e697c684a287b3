package console

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/account"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// userRoutes are the instance administrator's users page (invite, disable,
// enable, a new link) and the invited colleague's public page, where the
// link's token is the credential. Each uses the account service of its API
// twin (POST /api/v1/users with "invite", PATCH /api/v1/users/{id},
// POST /api/v1/users/{id}/invitation, POST /api/v1/invitations/accept).
func (c *Console) userRoutes() []httpx.Route {
	a := httpx.Admin
	return []httpx.Route{
		{Method: "GET", Path: "/users", Access: a, Handler: c.usersPage},
		{Method: "POST", Path: "/users", Access: a, Handler: c.usersInvitePost, Form: true},
		{Method: "POST", Path: "/users/{id}/disable", Access: a, Handler: c.userDisablePost, Form: true},
		{Method: "POST", Path: "/users/{id}/enable", Access: a, Handler: c.userEnablePost, Form: true},
		{Method: "POST", Path: "/users/{id}/invitation", Access: a, Handler: c.userInvitationPost, Form: true},
		{Method: "GET", Path: "/invite", Access: httpx.Public, Handler: c.invitePage},
		{Method: "POST", Path: "/invite", Access: httpx.Public, Handler: c.invitePost, Form: true},
	}
}

// inviteOnce is an invitation link on the one page that shows it.
type inviteOnce struct {
	Email     string
	URL       string
	ExpiresAt time.Time
}

// onceOf is the link of inv as the page shows it.
func (c *Console) onceOf(inv *account.Invited) *inviteOnce {
	base := ""
	if c.Services.BaseURL != nil {
		base = c.Services.BaseURL()
	}
	return &inviteOnce{Email: inv.User.Email, URL: base + account.InvitationPath(inv.Token), ExpiresAt: inv.ExpiresAt}
}

// usersData is what users.html shows.
type usersData struct {
	Users   []account.UserEntry
	Invited *inviteOnce
}

func (c *Console) usersPage(w http.ResponseWriter, r *http.Request) {
	notice := map[string]string{
		"disabled": "The account is disabled: its sessions ended and its API keys stopped working.",
		"enabled":  "The account is enabled again.",
	}[r.URL.Query().Get("notice")]
	c.renderUsers(w, r, http.StatusOK, page{Notice: notice})
}

func (c *Console) renderUsers(w http.ResponseWriter, r *http.Request, status int, p page) {
	entries, err := c.Accounts.UserEntries(r.Context(), principalOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d, _ := p.Data.(usersData)
	d.Users = entries
	p.Title, p.Data = "Users", d
	c.render(w, r, status, "users.html", p)
}

func (c *Console) usersInvitePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	values := map[string]string{"email": f.Get("email"), "name": f.Get("name"), "admin": f.Get("admin")}
	inv, err := c.Accounts.Invite(r.Context(), principalOf(r), account.NewInvite{Email: f.Get("email"), Name: f.Get("name"),
		Admin: f.Get("admin") != ""}, clientOf(r))
	if err != nil {
		status, msg, fields := inviteProblems(r, err)
		c.renderUsers(w, r, status, page{Error: msg, Fields: fields, Values: values})
		return
	}
	c.renderUsers(w, r, http.StatusCreated, page{Data: usersData{Invited: c.onceOf(inv)}})
}

// inviteProblems places an invitation's error next to its field: an email
// already in use belongs beside the email.
func inviteProblems(r *http.Request, err error) (int, string, map[string]string) {
	if errors.Is(err, store.ErrConflict) {
		return http.StatusConflict, "", map[string]string{"email": "Email already belongs to a Sluice account: grant that account access instead."}
	}
	return formProblems(r, err)
}

func (c *Console) userDisablePost(w http.ResponseWriter, r *http.Request) {
	c.setDisabled(w, r, true)
}

func (c *Console) userEnablePost(w http.ResponseWriter, r *http.Request) {
	c.setDisabled(w, r, false)
}

// userRowFail shows a refused change of one user beside that user's row
// (the last administrator, say); an unknown user is the error page.
func (c *Console) userRowFail(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, store.ErrNotFound) {
		c.Fail(w, r, err)
		return
	}
	status, msg := problem(r, err)
	c.renderUsers(w, r, status, page{Fields: map[string]string{"user-" + id: msg}})
}

func (c *Console) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool) {
	id := r.PathValue("id")
	if _, err := c.Accounts.SetDisabled(r.Context(), principalOf(r), id, disabled, clientOf(r)); err != nil {
		c.userRowFail(w, r, id, err)
		return
	}
	notice := "enabled"
	if disabled {
		notice = "disabled"
	}
	http.Redirect(w, r, "/users?notice="+notice, http.StatusSeeOther)
}

func (c *Console) userInvitationPost(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	inv, err := c.Accounts.NewInvitation(r.Context(), principalOf(r), id, clientOf(r))
	if err != nil {
		c.userRowFail(w, r, id, err)
		return
	}
	c.renderUsers(w, r, http.StatusCreated, page{Data: usersData{Invited: c.onceOf(inv)}})
}

// inviteData is what invite.html shows: whom the link invites, or that it
// does not work (Invalid).
type inviteData struct {
	Email   string
	Invalid bool
}

func (c *Console) invitePage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	u, err := c.Accounts.CheckInvitation(r.Context(), token, clientOf(r))
	if err != nil {
		c.inviteFail(w, r, err, nil)
		return
	}
	c.render(w, r, http.StatusOK, "invite.html", page{Title: "Join Sluice", Data: inviteData{Email: u.Email},
		Values: map[string]string{"token": token, "name": u.Name}})
}

func (c *Console) invitePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	values := map[string]string{"token": f.Get("token"), "name": f.Get("name")}
	if f.Get("password") != f.Get("password2") {
		// Checked first: a typo must not use up the link.
		u, err := c.Accounts.CheckInvitation(r.Context(), f.Get("token"), clientOf(r))
		if err != nil {
			c.inviteFail(w, r, err, values)
			return
		}
		c.render(w, r, http.StatusUnprocessableEntity, "invite.html", page{Title: "Join Sluice", Data: inviteData{Email: u.Email},
			Values: values, Fields: map[string]string{"password2": "The two passwords differ: type the same password twice."}})
		return
	}
	res, err := c.Accounts.AcceptInvitation(r.Context(), account.AcceptRequest{Token: f.Get("token"), Password: f.Get("password"),
		Name: f.Get("name"), Client: clientOf(r)})
	if err != nil {
		c.inviteFail(w, r, err, values)
		return
	}
	httpx.SetSessionCookie(w, c.TLS, res.Token, c.SessionMax)
	http.Redirect(w, r, "/projects", http.StatusSeeOther)
}

// inviteFail shows a link that does not work as a page of its own, and
// other problems (a weak password) next to their field.
func (c *Console) inviteFail(w http.ResponseWriter, r *http.Request, err error, values map[string]string) {
	if errors.Is(err, account.ErrInvalidInvitation) {
		status, msg := problem(r, err)
		c.render(w, r, status, "invite.html", page{Title: "Invitation link", Error: msg, Data: inviteData{Invalid: true}})
		return
	}
	var invalid *account.InvalidInputError
	if errors.As(err, &invalid) {
		// The form stays, with the colleague's email: the link is good.
		email := ""
		if u, cerr := c.Accounts.CheckInvitation(r.Context(), values["token"], clientOf(r)); cerr == nil {
			email = u.Email
		}
		status, _, fields := formProblems(r, err)
		c.render(w, r, status, "invite.html", page{Title: "Join Sluice", Data: inviteData{Email: email}, Values: values, Fields: fields})
		return
	}
	e := httpx.Describe(r, err)
	status, msg := e.Status, e.Message
	if status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(httpx.RetryAfterSeconds(e.RetryAfter), 10))
		c.render(w, r, status, "invite.html", page{Title: "Invitation link", Error: msg, Data: inviteData{Invalid: true}})
		return
	}
	c.Fail(w, r, err)
}

// noAccountMessage is the grant form's answer to an email without an
// account: who can fix that depends on the caller.
func noAccountMessage(p *account.Principal) string {
	if p != nil && p.User.Admin {
		return "is not the email of a Sluice user: invite them with the form \"Invite a colleague by email\" below"
	}
	return "is not the email of a Sluice user: ask an instance administrator to invite them (from Users), then grant them access here"
}

// membersInvitePost invites a colleague by email and grants them the role
// on this project in one step, then shows their link once. Inviting is an
// instance administrator's (the account service refuses others); granting
// needs the access.manage role the route already checked. An email that
// already has an account is simply granted the role.
func (c *Console) membersInvitePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	p, g := principalOf(r), access.GrantFrom(r.Context())
	if !p.User.Admin {
		c.Fail(w, r, account.ErrForbidden)
		return
	}
	f := r.PostForm
	email, name, role := strings.TrimSpace(f.Get("email")), f.Get("name"), f.Get("role")
	values := map[string]string{"invite.email": email, "invite.name": name, "invite.role": role}
	// Everything is checked before the account exists, so bad input
	// leaves no half-made invitation behind.
	if role != store.RoleStandard && role != store.RoleAdmin {
		c.membersFail(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "role", Message: "must be standard or admin"}}}, "invite", values)
		return
	}
	norm, err := account.NormalizeEmail(email)
	if err != nil {
		c.membersFail(w, r, err, "invite", values)
		return
	}
	existing, err := c.Services.Store.Reader().UserByEmail(r.Context(), norm)
	switch {
	case err == nil:
		if _, err := c.Services.Projects.Grant(r.Context(), p, g, project.NewGrant{UserID: existing.ID, Role: role}, clientOf(r)); err != nil {
			c.membersFail(w, r, renameProblem(err, "user_id", "email"), "invite", values)
			return
		}
		http.Redirect(w, r, "/projects/"+g.Project.ID+"/members?notice=granted", http.StatusSeeOther)
		return
	case !errors.Is(err, store.ErrNotFound):
		c.Fail(w, r, err)
		return
	}
	inv, err := c.Accounts.Invite(r.Context(), p, account.NewInvite{Email: norm, Name: name}, clientOf(r))
	if err != nil {
		c.membersFail(w, r, err, "invite", values)
		return
	}
	if _, err := c.Services.Projects.Grant(r.Context(), p, g, project.NewGrant{UserID: inv.User.ID, Role: role}, clientOf(r)); err != nil {
		// The account exists now; say so, so the link is not lost.
		c.membersFail(w, r, fmt.Errorf("%s was invited but not given access (%w): grant it with the form above; their invitation link can be made again from Users", inv.User.Email, err), "invite", values)
		return
	}
	c.renderMembers(w, r, http.StatusCreated, page{Notice: "Invited " + inv.User.Email + " as " + role + ".", Data: membersData{Invited: c.onceOf(inv)}})
}
