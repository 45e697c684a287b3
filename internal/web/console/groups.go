package console

import (
	"net/http"
	"strings"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// groupRoutes are the instance administrator's pages of user groups
// (projects grant roles to groups on their members page).
func (c *Console) groupRoutes() []httpx.Route {
	a := httpx.Admin
	return []httpx.Route{
		{Method: "GET", Path: "/groups", Access: a, Handler: c.groupsPage},
		{Method: "POST", Path: "/groups", Access: a, Handler: c.groupsPost, Form: true},
		{Method: "GET", Path: "/groups/{id}", Access: a, Handler: c.groupPage},
		{Method: "POST", Path: "/groups/{id}/members", Access: a, Handler: c.groupMemberAdd, Form: true},
		{Method: "POST", Path: "/groups/{id}/members/{user}/remove", Access: a, Handler: c.groupMemberRemove, Form: true},
		{Method: "POST", Path: "/groups/{id}/delete", Access: a, Handler: c.groupDelete, Form: true},
	}
}

type groupsData struct {
	Groups  []*store.Group
	Group   *store.Group
	Members []*store.GroupMember
	// Users are the instance's users not yet in the group, to add.
	Users []*store.User
}

func (c *Console) groupsPage(w http.ResponseWriter, r *http.Request) {
	c.renderGroups(w, r, http.StatusOK, page{Notice: map[string]string{"deleted": "The group is deleted; its grants went with it."}[r.URL.Query().Get("notice")]})
}

func (c *Console) renderGroups(w http.ResponseWriter, r *http.Request, status int, p page) {
	gs, err := c.Accounts.Groups(r.Context())
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	p.Title, p.Data = "Groups", groupsData{Groups: gs}
	c.render(w, r, status, "groups.html", p)
}

func (c *Console) groupsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	name := r.PostForm.Get("name")
	g, err := c.Accounts.CreateGroup(r.Context(), principalOf(r), name, clientOf(r))
	if err != nil {
		status, msg := problem(r, err)
		c.renderGroups(w, r, status, page{Fields: map[string]string{"name": msg}, Values: map[string]string{"name": name}})
		return
	}
	http.Redirect(w, r, "/groups/"+g.ID, http.StatusSeeOther)
}

func (c *Console) groupPage(w http.ResponseWriter, r *http.Request) {
	c.renderGroup(w, r, http.StatusOK, page{})
}

func (c *Console) renderGroup(w http.ResponseWriter, r *http.Request, status int, p page) {
	g, members, err := c.Accounts.Group(r.Context(), r.PathValue("id"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	users, err := c.Accounts.ListUsers(r.Context(), principalOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	in := map[string]bool{}
	for _, m := range members {
		in[m.UserID] = true
	}
	d := groupsData{Group: g, Members: members}
	for _, u := range users {
		if !in[u.ID] {
			d.Users = append(d.Users, u)
		}
	}
	p.Title, p.Data = "Group "+g.Name, d
	c.render(w, r, status, "group.html", p)
}

func (c *Console) groupMemberAdd(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	id := r.PathValue("id")
	if err := c.Accounts.AddGroupMember(r.Context(), principalOf(r), id, strings.TrimSpace(r.PostForm.Get("user_id")), clientOf(r)); err != nil {
		status, msg := problem(r, err)
		c.renderGroup(w, r, status, page{Fields: map[string]string{"user_id": msg}})
		return
	}
	http.Redirect(w, r, "/groups/"+id, http.StatusSeeOther)
}

func (c *Console) groupMemberRemove(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := c.Accounts.RemoveGroupMember(r.Context(), principalOf(r), id, r.PathValue("user"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/groups/"+id, http.StatusSeeOther)
}

func (c *Console) groupDelete(w http.ResponseWriter, r *http.Request) {
	if err := c.Accounts.DeleteGroup(r.Context(), principalOf(r), r.PathValue("id"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/groups?notice=deleted", http.StatusSeeOther)
}
