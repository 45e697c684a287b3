package console

import (
	"net/http"
	"net/url"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/connection"
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
	st, err := c.Services.Connections.FinishConsent(r.Context(), principalOf(r), c.Services.Projects.Resolve,
		connection.Answer{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), ErrorDescription: q.Get("error_description")}, clientOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+st.ProjectID+"/connections/"+st.ConnectionID+"?notice=connected", http.StatusSeeOther)
}
