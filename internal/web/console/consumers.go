package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// consumerRoutes are the pages of service consumers: inbound access,
// managed like credentials (the actions of their API twins in api.go).
func (c *Console) consumerRoutes() []httpx.Route {
	u := httpx.User
	const cons = "/projects/{p}/consumers/{c}"
	return []httpx.Route{
		{Method: "GET", Path: "/projects/{p}/consumers", Access: u, Action: access.ViewProject, Handler: c.consumersPage},
		{Method: "POST", Path: "/projects/{p}/consumers", Access: u, Action: access.ManageCredentials, Handler: c.consumersPost, Form: true},
		{Method: "GET", Path: cons, Access: u, Action: access.ViewProject, Handler: c.consumerPage},
		{Method: "POST", Path: cons, Access: u, Action: access.ManageCredentials, Handler: c.consumerSave, Form: true},
		{Method: "POST", Path: cons + "/auth", Access: u, Action: access.ManageCredentials, Handler: c.consumerAuthSave, Form: true},
		{Method: "POST", Path: cons + "/secret", Access: u, Action: access.ManageCredentials, Handler: c.consumerRotate, Form: true},
		{Method: "POST", Path: cons + "/delete", Access: u, Action: access.ManageCredentials, Handler: c.consumerDelete, Form: true},
	}
}

// consumerPage is what the service-consumer pages show.
type consumerPage struct {
	ProjectID  string
	List       []consumerRow
	Consumer   *consumerRow
	Flows      []flowItem
	Algorithms []string
	Styles     []string
	CanManage  bool
	// Auth is what the auth settings form shows: the stored settings, or
	// the values posted when a change was refused.
	Auth authForm
	// EditOpen and AuthOpen open the form a refused change came from.
	EditOpen, AuthOpen bool
	// Chosen are the flows and algorithms ticked on a form shown again.
	Chosen map[string]bool
	// Secret is a generated secret, on the one page that shows it; Curl
	// is the ready call that uses it.
	Secret string
	Curl   []string
}

// consumerRow is a consumer as the pages show it: never a stored secret.
type consumerRow struct {
	ID, Name, Type, Username string
	Flows                    []string
	AllowedIPs               []string
	PerSecond                float64
	Burst                    int
	FailedAuths              int64
	Algorithms               []string
	PublicKey, JWKSURL       string
	Issuer, Audience         string
	MaxAge, Leeway           int
	Style, Header, TSHeader  string
	MaxSkew                  int
	SecretSet                bool
}

func (c *Console) consumerData(r *http.Request) (consumerPage, map[string]string, error) {
	g := access.GrantFrom(r.Context())
	d := consumerPage{ProjectID: g.Project.ID, Algorithms: consumer.Algorithms,
		Styles: []string{consumer.StyleGeneric, consumer.StyleGitHub, consumer.StyleShopify}, CanManage: access.Can(g.Role, access.ManageCredentials), Chosen: map[string]bool{}}
	flows, names, err := c.projectFlows(r, g.Project.ID)
	d.Flows = flows
	return d, names, err
}

func consumerRowOf(v *consumer.Consumer, names map[string]string) consumerRow {
	row := consumerRow{ID: v.Row.ID, Name: v.Row.Name, Type: v.Settings.Type, Username: v.Row.Username,
		PerSecond: v.RateLimit.PerSecond, Burst: v.RateLimit.Burst, FailedAuths: v.Row.FailedAuths,
		Algorithms: v.Settings.Algorithms, PublicKey: v.Settings.PublicKey, JWKSURL: v.Settings.JWKSURL, SecretSet: v.SecretSet,
		Issuer: v.Settings.Issuer, Audience: v.Settings.Audience, MaxAge: v.Settings.MaxAgeSeconds, Leeway: v.Settings.LeewaySeconds,
		Style: v.Settings.Style, Header: v.Settings.Header, TSHeader: v.Settings.TimestampHeader, MaxSkew: v.Settings.MaxSkewSeconds}
	for _, f := range v.Flows {
		n := names[f]
		if n == "" {
			n = f
		}
		row.Flows = append(row.Flows, n)
	}
	for _, p := range v.AllowedIPs {
		row.AllowedIPs = append(row.AllowedIPs, p.String())
	}
	return row
}

func (c *Console) consumersPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	if r.URL.Query().Get("notice") == "deleted" {
		notice = "The service consumer was deleted: its credentials no longer work."
	}
	c.renderConsumers(w, r, http.StatusOK, page{Notice: notice, Values: map[string]string{"rate_per_second": fmt.Sprint(consumer.DefaultRatePerSec),
		"rate_burst": fmt.Sprint(consumer.DefaultBurst), "auth.type": consumer.AuthBasic, "auth.style": consumer.StyleGeneric,
		"auth.header": "X-Signature", "auth.timestamp_header": "X-Timestamp"}}, nil)
}

func (c *Console) renderConsumers(w http.ResponseWriter, r *http.Request, status int, p page, chosen map[string]bool) {
	d, names, err := c.consumerData(r)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	cs, err := c.Services.Consumers.List(r.Context(), d.ProjectID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, v := range cs {
		d.List = append(d.List, consumerRowOf(v, names))
	}
	if chosen != nil {
		d.Chosen = chosen
	}
	p.Title, p.Data = "Service consumers", d
	c.render(w, r, status, "consumers.html", p)
}

// rateOf reads a consumer form's rate limit; a value that is not a number
// is a problem in fields, by the path the service would name.
func rateOf(f url.Values, fields map[string]string) consumer.RateLimit {
	perSec, err := strconv.ParseFloat(strings.TrimSpace(f.Get("rate_per_second")), 64)
	if err != nil {
		fields["rate_limit.per_second"] = "Requests per second must be a number, such as 50"
	}
	burst, err := strconv.Atoi(strings.TrimSpace(f.Get("rate_burst")))
	if err != nil {
		fields["rate_limit.burst"] = "Burst must be a whole number, such as 100"
	}
	return consumer.RateLimit{PerSecond: perSec, Burst: burst}
}

// splitList reads a list typed one per line or separated by commas.
func splitList(s string) []string {
	out := []string{}
	for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' }) {
		out = append(out, x)
	}
	return out
}

func (c *Console) consumersPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	values := map[string]string{}
	for _, k := range []string{"name", "allowed_ips", "rate_per_second", "rate_burst", "auth.type", "auth.public_key", "auth.jwks_url", "auth.issuer",
		"auth.audience", "auth.max_age_seconds", "auth.leeway_seconds", "auth.style", "auth.header", "auth.timestamp_header", "auth.max_skew_seconds"} {
		values[k] = f.Get(k)
	}
	chosen := map[string]bool{}
	flows := f["flows"]
	for _, id := range flows {
		chosen[id] = true
	}
	fields := map[string]string{}
	rate := rateOf(f, fields)
	auth := authOf(f, f.Get("auth.type"), fields)
	for _, a := range f["auth.algorithms"] {
		chosen["alg:"+a] = true
	}
	if len(fields) > 0 {
		c.renderConsumers(w, r, http.StatusUnprocessableEntity, page{Error: "The service consumer was not created: see the fields below.", Fields: fields, Values: values}, chosen)
		return
	}
	name, ips := f.Get("name"), splitList(f.Get("allowed_ips"))
	if flows == nil {
		flows = []string{}
	}
	g := access.GrantFrom(r.Context())
	v, err := c.Services.Consumers.Create(r.Context(), principalOf(r), g.Project.ID, consumer.Input{Name: &name, Auth: auth, Flows: &flows,
		AllowedIPs: &ips, RateLimit: &rate}, clientOf(r))
	if err != nil {
		// "flows[0]" and "allowed_ips[2]" belong to their list's input,
		// "auth.jwks_url" to its field.
		fields := map[string]string{}
		status, msg := authProblems(r, err, fields)
		if msg == "" {
			msg = "The service consumer was not created: see the fields below."
		}
		c.renderConsumers(w, r, status, page{Error: msg, Fields: fields, Values: values}, chosen)
		return
	}
	c.renderSecretOnce(w, r, v, "created")
}

// consumerPageOf is a consumer page's data for v (read first when v is
// nil): the consumer's row and its auth settings as the form shows them.
func (c *Console) consumerPageOf(r *http.Request, v *consumer.Consumer) (consumerPage, *consumer.Consumer, error) {
	d, names, err := c.consumerData(r)
	if err != nil {
		return d, nil, err
	}
	if v == nil {
		if v, err = c.Services.Consumers.Get(r.Context(), d.ProjectID, r.PathValue("c")); err != nil {
			return d, nil, err
		}
	}
	row := consumerRowOf(v, names)
	d.Consumer, d.Auth = &row, authFormOf(v.Settings)
	return d, v, nil
}

// renderSecretOnce shows a consumer with the secret Sluice just generated:
// the one page that ever shows it, never cached.
func (c *Console) renderSecretOnce(w http.ResponseWriter, r *http.Request, v *consumer.Consumer, what string) {
	d, _, err := c.consumerPageOf(r, v)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d.Secret = v.Secret
	if v.Secret != "" {
		base := strings.TrimRight(c.Services.BaseURL(), "/")
		flows := v.Flows
		if len(flows) == 0 {
			flows = []string{"FLOW_ID"}
		}
		for _, f := range flows {
			if cmd := curlFor(v, base+"/call/"+d.ProjectID+"/"+f); cmd != "" {
				d.Curl = append(d.Curl, cmd)
			}
		}
	}
	notice := "The service consumer is created."
	if what == "rotated" {
		notice = "A new secret is generated: the old one no longer works."
	}
	c.render(w, r, http.StatusOK, "consumer.html", page{Title: v.Row.Name, Notice: notice, Data: d})
}

func (c *Console) consumerPage(w http.ResponseWriter, r *http.Request) {
	d, v, err := c.consumerPageOf(r, nil)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, id := range v.Flows {
		d.Chosen[id] = true
	}
	notice := ""
	switch r.URL.Query().Get("notice") {
	case "saved":
		notice = "The changes are saved; they take effect on the next call."
	case "auth-saved":
		notice = "The authentication settings are saved; they take effect on the next call."
	}
	c.render(w, r, http.StatusOK, "consumer.html", page{Title: v.Row.Name, Data: d, Notice: notice})
}

// consumerSave changes which flows a consumer may call, from where, and
// how often (as PATCH .../consumers/{c}); problems are shown by field.
func (c *Console) consumerSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	fields := map[string]string{}
	rate := rateOf(f, fields)
	flows, ips := f["flows"], splitList(f.Get("allowed_ips"))
	if flows == nil {
		flows = []string{}
	}
	g := access.GrantFrom(r.Context())
	var err error
	if len(fields) == 0 {
		_, err = c.Services.Consumers.Update(r.Context(), principalOf(r), g.Project.ID, r.PathValue("c"),
			consumer.Input{Flows: &flows, AllowedIPs: &ips, RateLimit: &rate}, clientOf(r))
		if err == nil {
			http.Redirect(w, r, "/projects/"+g.Project.ID+"/consumers/"+r.PathValue("c")+"?notice=saved", http.StatusSeeOther)
			return
		}
	}
	status, msg := http.StatusUnprocessableEntity, "Nothing was saved: see the fields below."
	if err != nil {
		var probs map[string]string
		status, msg, probs = formProblems(r, err)
		for k, m := range probs {
			if i := strings.IndexByte(k, '['); i > 0 {
				k = k[:i]
			}
			fields[k] = m
		}
		if msg == "" {
			msg = "Nothing was saved: see the fields below."
		}
	}
	d, v, derr := c.consumerPageOf(r, nil)
	if derr != nil {
		c.Fail(w, r, derr)
		return
	}
	d.EditOpen = true
	for _, id := range flows {
		d.Chosen[id] = true
	}
	values := map[string]string{"allowed_ips": f.Get("allowed_ips"), "rate_per_second": f.Get("rate_per_second"), "rate_burst": f.Get("rate_burst")}
	c.render(w, r, status, "consumer.html", page{Title: v.Row.Name, Data: d, Error: msg, Fields: fields, Values: values})
}

func (c *Console) consumerRotate(w http.ResponseWriter, r *http.Request) {
	v, err := c.Services.Consumers.RotateSecret(r.Context(), principalOf(r), access.GrantFrom(r.Context()).Project.ID, r.PathValue("c"), clientOf(r))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	c.renderSecretOnce(w, r, v, "rotated")
}

func (c *Console) consumerDelete(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	if err := c.Services.Consumers.Delete(r.Context(), principalOf(r), g.Project.ID, r.PathValue("c"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/consumers?notice=deleted", http.StatusSeeOther)
}
