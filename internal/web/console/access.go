package console

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/audit"
	"github.com/sluice-dev/sluice/internal/project"
	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// accessRoutes are the pages of members, project settings (settings.go)
// and the activity log (activity.go). Each names the action of its API
// twin (api.go), so a page and the API never disagree about who may do
// what.
func (c *Console) accessRoutes() []httpx.Route {
	u := httpx.User
	return []httpx.Route{
		{Method: "GET", Path: "/projects/{p}/members", Access: u, Action: access.ViewProject, Handler: c.membersPage},
		{Method: "POST", Path: "/projects/{p}/members", Access: u, Action: access.ManageAccess, Handler: c.membersPost, Form: true},
		// Inviting a colleague by email (an instance administrator's) and
		// granting them the role in one step (users.go).
		{Method: "POST", Path: "/projects/{p}/members/invite", Access: u, Action: access.ManageAccess, Handler: c.membersInvitePost, Form: true},
		{Method: "POST", Path: "/projects/{p}/members/{m}/role", Access: u, Action: access.ManageAccess, Handler: c.memberRolePost, Form: true},
		{Method: "POST", Path: "/projects/{p}/members/{m}/revoke", Access: u, Action: access.ManageAccess, Handler: c.memberRevokePost, Form: true},
		{Method: "POST", Path: "/projects/{p}/transfer", Access: u, Action: access.OwnProject, Handler: c.transferPost, Form: true},
		{Method: "POST", Path: "/projects/{p}/delete", Access: u, Action: access.OwnProject, Handler: c.projectDeletePost, Form: true},
		{Method: "GET", Path: "/projects/{p}/settings", Access: u, Action: access.ConfigureProject, Handler: c.settingsPage},
		{Method: "POST", Path: "/projects/{p}/settings", Access: u, Action: access.ConfigureProject, Handler: c.settingsPost, Form: true},
		{Method: "GET", Path: "/projects/{p}/activity", Access: u, Action: access.ViewAudit, Handler: c.activityPage},
	}
}

// memberRow is one member as the members page shows it.
type memberRow struct {
	ID, Kind, UserID, Email, Name, Role string
	Owner                               bool
}

// membersData is what members.html shows.
type membersData struct {
	Members []memberRow
	// Users are the members a project may be transferred to (users with
	// a grant of their own).
	Users []memberRow
	Roles []string
	// Groups are the groups a role may be granted to (every user may
	// read their names, as through GET /api/v1/groups).
	Groups []*store.Group
	// Invited is the link of a colleague just invited, shown once.
	Invited *inviteOnce
}

func (c *Console) membersPage(w http.ResponseWriter, r *http.Request) {
	p := page{}
	switch r.URL.Query().Get("notice") {
	case "granted":
		p.Notice = "Access granted."
	case "role":
		p.Notice = "Role switched."
	case "revoked":
		p.Notice = "Access revoked."
	case "transferred":
		p.Notice = "Ownership transferred: you are now an administrator of this project."
	}
	c.renderMembers(w, r, http.StatusOK, p)
}

func (c *Console) renderMembers(w http.ResponseWriter, r *http.Request, status int, p page) {
	g := access.GrantFrom(r.Context())
	owner, err := c.Services.Store.Reader().UserByID(r.Context(), g.Project.OwnerID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	grants, err := c.Services.Projects.Members(r.Context(), g)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d := membersData{Roles: []string{store.RoleStandard, store.RoleAdmin},
		Members: []memberRow{{ID: project.OwnerMemberID, Kind: "user", UserID: owner.ID, Email: owner.Email, Name: owner.Name, Role: "owner", Owner: true}}}
	for _, gr := range grants {
		m := memberRow{ID: gr.ID, Kind: "user", UserID: gr.UserID, Email: gr.Email, Name: gr.Name, Role: gr.Role}
		if gr.GroupID != "" {
			m.Kind = "group"
		} else {
			d.Users = append(d.Users, m)
		}
		d.Members = append(d.Members, m)
	}
	if prev, ok := p.Data.(membersData); ok {
		d.Invited = prev.Invited
	}
	if access.Can(g.Role, access.ManageAccess) {
		if d.Groups, err = c.Accounts.Groups(r.Context()); err != nil {
			c.Fail(w, r, err)
			return
		}
	}
	p.Title = "Members · " + g.Project.Name
	p.Data = d
	c.render(w, r, status, "members.html", p)
}

// membersFail shows the members page again with a service error next to
// the field it concerns (fieldFor renames the API's fields to the form's).
func (c *Console) membersFail(w http.ResponseWriter, r *http.Request, err error, form string, values map[string]string) {
	if errors.Is(err, store.ErrNotFound) {
		// A member that is gone (or a project the caller lost): the same
		// page as anywhere else.
		c.Fail(w, r, err)
		return
	}
	// A refusal of the caller (a role lowered meanwhile) is the error
	// page; a wrong confirmation password belongs next to its field.
	if e := httpx.Describe(r, err); e.Status == http.StatusForbidden && e.Code != "wrong_password" {
		c.Fail(w, r, err)
		return
	}
	status, msg, fields := formProblems(r, err)
	out := map[string]string{}
	for f, m := range fields {
		out[form+"."+f] = m
		if strings.HasPrefix(form, "member-") {
			// A member's row has one place for its problems.
			msg = strings.TrimPrefix(msg+"; "+m, "; ")
		}
	}
	if msg != "" {
		// A problem without a field (already a member, wrong password)
		// still belongs to the form that caused it.
		out[form] = msg
	}
	c.renderMembers(w, r, status, page{Fields: out, Values: values})
}

func (c *Console) membersPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	who, group, role := strings.TrimSpace(f.Get("user")), strings.TrimSpace(f.Get("group_id")), f.Get("role")
	values := map[string]string{"grant.user": who, "grant.group_id": group, "grant.role": role}
	ng := project.NewGrant{GroupID: group, Role: role}
	switch {
	case who != "" && group != "":
		c.membersFail(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "user", Message: "cannot be given with a group: grant one of them at a time"}}}, "grant", values)
		return
	case strings.Contains(who, "@"):
		u, err := c.Services.Store.Reader().UserByEmail(r.Context(), strings.ToLower(who))
		if errors.Is(err, store.ErrNotFound) {
			c.membersFail(w, r, &project.ValidationError{Problems: []project.Problem{{Field: "user", Message: noAccountMessage(principalOf(r))}}}, "grant", values)
			return
		}
		if err != nil {
			c.Fail(w, r, err)
			return
		}
		ng.UserID = u.ID
	default:
		ng.UserID = who
	}
	if _, err := c.Services.Projects.Grant(r.Context(), principalOf(r), access.GrantFrom(r.Context()), ng, clientOf(r)); err != nil {
		c.membersFail(w, r, renameProblem(err, "user_id", "user"), "grant", values)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=granted", http.StatusSeeOther)
}

// renameProblem renames a validation problem's field from the API's name
// to the form's.
func renameProblem(err error, from, to string) error {
	var v *project.ValidationError
	if !errors.As(err, &v) {
		return err
	}
	ps := slices.Clone(v.Problems)
	for i := range ps {
		if ps[i].Field == from {
			ps[i].Field = to
		}
	}
	return &project.ValidationError{Problems: ps}
}

func (c *Console) memberRolePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	m := r.PathValue("m")
	if _, err := c.Services.Projects.SetRole(r.Context(), principalOf(r), access.GrantFrom(r.Context()), m, r.PostForm.Get("role"), clientOf(r)); err != nil {
		c.membersFail(w, r, err, "member-"+m, nil)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=role", http.StatusSeeOther)
}

func (c *Console) memberRevokePost(w http.ResponseWriter, r *http.Request) {
	m := r.PathValue("m")
	if err := c.Services.Projects.Revoke(r.Context(), principalOf(r), access.GrantFrom(r.Context()), m, clientOf(r)); err != nil {
		c.membersFail(w, r, err, "member-"+m, nil)
		return
	}
	http.Redirect(w, r, "/projects/"+r.PathValue("p")+"/members?notice=revoked", http.StatusSeeOther)
}

func (c *Console) transferPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	p, g := principalOf(r), access.GrantFrom(r.Context())
	to := r.PostForm.Get("user_id")
	// Handing the project over is as final as deleting it: the owner
	// confirms with their password, checked before anything changes.
	var err error
	if pw := r.PostForm.Get("password"); pw == "" {
		err = &project.ValidationError{Problems: []project.Problem{{Field: "password", Message: "is required: type your password to confirm the transfer"}}}
	} else {
		err = c.Accounts.ConfirmPassword(r.Context(), p, pw, audit.ActionProjectTransfer, g.Project.ID, clientOf(r))
	}
	if err == nil {
		_, err = c.Services.Projects.Transfer(r.Context(), p, g, to, clientOf(r))
	}
	if err != nil {
		c.membersFail(w, r, err, "transfer", map[string]string{"transfer.user_id": to})
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/members?notice=transferred", http.StatusSeeOther)
}

func (c *Console) projectDeletePost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	if err := c.Services.Projects.Delete(r.Context(), principalOf(r), g, r.PostForm.Get("password"), clientOf(r)); err != nil {
		c.membersFail(w, r, err, "delete", nil)
		return
	}
	http.Redirect(w, r, "/projects?notice=deleted", http.StatusSeeOther)
}
