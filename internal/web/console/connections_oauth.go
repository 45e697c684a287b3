package console

import (
	"net/http"
	"net/url"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// oauthCallbackPath is where the authorization server sends the browser
// back to the console.
const oauthCallbackPath = "/oauth2/callback"

// oauthConnect starts an OAuth 2.0 authorization-code consent for a
// connection (as POST /api/v1/.../oauth2/authorize) and answers a page
// with the link to the authorization server. It does not redirect there:
// the CSP's form-action 'self' (rightly) stops a form post that lands on
// another site, so the user follows a link instead.
func (c *Console) oauthConnect(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	link, expires, err := c.Services.Connections.Authorize(r.Context(), principalOf(r), g.Project.ID, r.PathValue("c"), c.Services.BaseURL()+oauthCallbackPath)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	host := link
	if u, err := url.Parse(link); err == nil {
		host = u.Host
	}
	c.render(w, r, http.StatusOK, "conn-oauth.html", page{Title: "Connect with OAuth 2.0",
		Data: map[string]any{"Link": link, "Host": host, "Expires": expires, "Back": "/projects/" + g.Project.ID + "/connections/" + r.PathValue("c")}})
}

// oauthCallbackPage finishes a consent the console started: the user who
// started it must be the one coming back and may still manage the
// project's credentials; then back to the connection's page.
func (c *Console) oauthCallbackPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p := principalOf(r)
	pend, err := c.Services.Connections.TakeConsent(r.Context(), p, q.Get("state"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	g, err := c.Services.Projects.Resolve(r.Context(), p, pend.State.ProjectID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	if !access.Can(g.Role, access.ManageCredentials) {
		c.Fail(w, r, httpx.Forbidden("your role on this project no longer allows changing its credentials"))
		return
	}
	if e := q.Get("error"); e != "" {
		c.Fail(w, r, httpx.BadRequest("consent_refused", "the authorization server refused the consent ("+clipText(e, 60)+"): "+clipText(q.Get("error_description"), 200)))
		return
	}
	if err := c.Services.Connections.CompleteConsent(r.Context(), p, pend, q.Get("code"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+pend.State.ProjectID+"/connections/"+pend.State.ConnectionID+"?notice=connected", http.StatusSeeOther)
}

func clipText(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
