package console

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// connectionRoutes are the pages of connections.
// Each asks the guard for the action of its API twin (api.go): every
// member sees them and tests connections, owners and administrators
// create, change and delete them.
func (c *Console) connectionRoutes() []httpx.Route {
	u := httpx.User
	const conn = "/projects/{p}/connections/{c}"
	return []httpx.Route{
		{Method: "GET", Path: "/projects/{p}/connections", Access: u, Action: access.ViewProject, Handler: c.connectionsPage},
		{Method: "POST", Path: "/projects/{p}/connections", Access: u, Action: access.ManageCredentials, Handler: c.connectionsPost, Form: true},
		{Method: "GET", Path: conn, Access: u, Action: access.ViewProject, Handler: c.connectionPage},
		{Method: "POST", Path: conn, Access: u, Action: access.ManageCredentials, Handler: c.connectionSave, Form: true},
		{Method: "POST", Path: conn + "/delete", Access: u, Action: access.ManageCredentials, Handler: c.connectionDelete, Form: true},
		{Method: "POST", Path: conn + "/test", Access: u, Action: access.RunFlows, Handler: c.connectionTest, Form: true},
		// OAuth 2.0 consent (connections_oauth.go): the button sends the
		// browser to the authorization server, which sends it back to the
		// callback; the callback names no project, the pending consent does.
		{Method: "POST", Path: conn + "/oauth2/connect", Access: u, Action: access.ManageCredentials, Handler: c.oauthConnect, Form: true},
		{Method: "GET", Path: "/oauth2/callback", Access: u, Handler: c.oauthCallbackPage},
	}
}

// formField is one input of a form generated from a field spec. Name is
// the input's name and the path the service names in its problems
// ("settings.base_url", "auth.token").
type formField struct {
	Name, Label, Doc string
	// Input is text, number, checkbox, select, textarea or password.
	Input    string
	Options  []string
	Value    string
	Checked  bool
	Required bool
	// SecretSet says a write-only field has a stored value.
	SecretSet bool
	Error     string
}

// ID is the field's element ID.
func (f formField) ID() string { return "f-" + strings.ReplaceAll(f.Name, ".", "-") }

// authScheme is one outbound HTTP auth type the form offers, with its
// fields. The signer's Config has no field spec, so the common schemes are
// listed here; others are configured through the API and kept as they are.
type authScheme struct {
	Type, Label string
	Fields      []connection.Field
}

var authSchemes = []authScheme{
	{Type: "none", Label: "None"},
	{Type: "bearer", Label: "Bearer token", Fields: []connection.Field{
		{Name: "token", Type: connection.TypeString, Doc: "sent as Authorization: Bearer <token>"}}},
	{Type: "basic", Label: "Basic (user name and password)", Fields: []connection.Field{
		{Name: "username", Type: connection.TypeString},
		{Name: "password", Type: connection.TypeString}}},
	{Type: "api_key", Label: "API key", Fields: []connection.Field{
		{Name: "in", Type: connection.TypeEnum, Enum: []string{"header", "query"}, Doc: "where the key goes"},
		{Name: "name", Type: connection.TypeString, Doc: "the header or query parameter name, such as X-Api-Key"},
		{Name: "api_key", Type: connection.TypeString}}},
}

// authGroup is a scheme's inputs on the page.
type authGroup struct {
	Type, Label string
	Fields      []formField
}

// connForm is the generated form of one connection kind.
type connForm struct {
	Kind     *connection.Kind
	Settings []formField
	Secrets  []formField
	// Auth is for kinds with HTTP auth: the chosen type and each scheme's
	// inputs; OtherAuth names a stored type the form does not offer.
	HTTPAuth  bool
	AuthType  string
	AuthError string
	Auth      []authGroup
	OtherAuth string
}

// connPage is what the connection pages show.
type connPage struct {
	ProjectID string
	Kinds     []string
	Kind      string
	List      []connRow
	Conn      *connRow
	Form      connForm
	Name      string
	Diagnosis *connection.Diagnosis
	CanManage bool
	CanTest   bool
	// CanConnect shows the OAuth 2.0 connect button: an authorization-code
	// connection, and a role that manages credentials.
	CanConnect bool
}

// connRow is a connection in a list: never its secrets.
type connRow struct {
	ID, Name, Kind, Target string
	Auth                   string
	Insecure               []string
}

func rowOf(v *connection.Connection) connRow {
	r := connRow{ID: v.Row.ID, Name: v.Row.Name, Kind: v.Row.Kind, Insecure: connection.Insecure(v)}
	if u, ok := v.Settings["base_url"].(string); ok {
		r.Target = u
	} else if h, ok := v.Settings["host"].(string); ok {
		r.Target = fmt.Sprintf("%s:%v/%v", h, v.Settings["port"], v.Settings["database"])
	}
	if t, ok := v.Auth["type"].(string); ok {
		r.Auth = t
	}
	return r
}

// buildForm generates the inputs of a kind from its field spec, filled
// from values (form names → text) and marking stored secrets.
func buildForm(kind *connection.Kind, values map[string]string, secretSet map[string]bool, fields map[string]string) connForm {
	f := connForm{Kind: kind, HTTPAuth: kind.HTTPAuth}
	f.Settings = specInputs("settings.", kind.Settings, values, fields)
	for _, s := range kind.Secrets {
		name := "secrets." + s.Name
		f.Secrets = append(f.Secrets, formField{Name: name, Label: labelOf(s.Name), Doc: s.Doc, Input: "password",
			SecretSet: secretSet[name], Error: fields[name]})
	}
	if kind.HTTPAuth {
		f.AuthType = values["auth.type"]
		f.AuthError = fields["auth"] + fields["auth.type"]
		known := false
		for _, sc := range authSchemes {
			known = known || sc.Type == f.AuthType
			g := authGroup{Type: sc.Type, Label: sc.Label}
			for _, fl := range sc.Fields {
				name := "auth." + fl.Name
				ff := formField{Name: name, Label: labelOf(fl.Name), Doc: fl.Doc, Input: "text", Options: fl.Enum, Error: fields[name]}
				switch {
				case isAuthSecretField(fl.Name):
					ff.Input = "password"
					ff.SecretSet = secretSet[name] && f.AuthType == sc.Type
				case fl.Type == connection.TypeEnum:
					ff.Input = "select"
				}
				if ff.Input != "password" && f.AuthType == sc.Type {
					ff.Value = values[name]
				}
				g.Fields = append(g.Fields, ff)
			}
			f.Auth = append(f.Auth, g)
		}
		if !known {
			f.OtherAuth = f.AuthType
		}
		if f.AuthType == "" {
			f.AuthType = "none"
		}
	}
	return f
}

func isAuthSecretField(name string) bool {
	for _, s := range connection.AuthSecretFields {
		if s == name {
			return true
		}
	}
	return false
}

// specInputs turns fields (objects flattened with dotted names) into inputs.
func specInputs(prefix string, spec []connection.Field, values, problems map[string]string) []formField {
	var out []formField
	for _, fl := range spec {
		name := prefix + fl.Name
		if fl.Type == connection.TypeObject {
			for _, sub := range specInputs(name+".", fl.Fields, values, problems) {
				sub.Label = labelOf(fl.Name) + ": " + sub.Label
				out = append(out, sub)
			}
			continue
		}
		ff := formField{Name: name, Label: labelOf(fl.Name), Doc: fl.Doc, Required: fl.Required, Value: values[name], Error: problems[name]}
		if fl.Default != nil && ff.Doc == "" {
			ff.Doc = fmt.Sprintf("default %v", fl.Default)
		} else if fl.Default != nil {
			ff.Doc += fmt.Sprintf(" (default %v)", fl.Default)
		}
		switch fl.Type {
		case connection.TypeInt:
			ff.Input = "number"
		case connection.TypeBool:
			ff.Input, ff.Checked = "checkbox", values[name] == "true"
		case connection.TypeEnum:
			ff.Input, ff.Options = "select", fl.Enum
			if ff.Value == "" && fl.Default != nil {
				ff.Value = fmt.Sprint(fl.Default)
			}
		case connection.TypeMap:
			ff.Input = "textarea"
			ff.Doc += " — one per line, as Name: value"
		case connection.TypePEM:
			ff.Input = "textarea"
		default:
			ff.Input = "text"
		}
		out = append(out, ff)
	}
	return out
}

func labelOf(name string) string {
	s := strings.ReplaceAll(name, "_", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

// valuesOf flattens a stored connection into form names → text.
func valuesOf(v *connection.Connection) map[string]string {
	out := map[string]string{}
	var flat func(prefix string, m map[string]any)
	flat = func(prefix string, m map[string]any) {
		for k, x := range m {
			switch y := x.(type) {
			case map[string]any:
				if prefix+k == "settings.headers" {
					keys := make([]string, 0, len(y))
					for h := range y {
						keys = append(keys, h)
					}
					sort.Strings(keys)
					lines := make([]string, 0, len(keys))
					for _, h := range keys {
						lines = append(lines, fmt.Sprintf("%s: %v", h, y[h]))
					}
					out[prefix+k] = strings.Join(lines, "\n")
					continue
				}
				flat(prefix+k+".", y)
			default:
				out[prefix+k] = fmt.Sprint(y)
			}
		}
	}
	flat("settings.", v.Settings)
	flat("auth.", v.Auth)
	return out
}

// inputOf reads a posted connection form back into the service's input,
// guided by the kind's spec. Secrets left blank are not sent, so a stored
// one is kept. problems collects text the form could not turn into a
// value (a header line without a colon).
func inputOf(kind *connection.Kind, form map[string][]string, problems map[string]string) (map[string]any, map[string]*string, map[string]any) {
	get := func(k string) string {
		if v := form[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	settings := readSpec("settings.", kind.Settings, get, problems)
	sec := map[string]*string{}
	for _, s := range kind.Secrets {
		if v := get("secrets." + s.Name); v != "" {
			sec[s.Name] = &v
		}
	}
	var auth map[string]any
	if kind.HTTPAuth {
		t := get("auth.type")
		for _, sc := range authSchemes {
			if sc.Type != t {
				continue
			}
			auth = map[string]any{"type": t}
			for _, fl := range sc.Fields {
				v := get("auth." + fl.Name)
				if v == "" && isAuthSecretField(fl.Name) {
					continue // kept when the type stays the same
				}
				auth[fl.Name] = v
			}
		}
	}
	return settings, sec, auth
}

func readSpec(prefix string, spec []connection.Field, get func(string) string, problems map[string]string) map[string]any {
	out := map[string]any{}
	for _, fl := range spec {
		name := prefix + fl.Name
		if fl.Type == connection.TypeObject {
			if sub := readSpec(name+".", fl.Fields, get, problems); len(sub) > 0 {
				out[fl.Name] = sub
			}
			continue
		}
		raw := strings.TrimSpace(get(name))
		if fl.Type == connection.TypePEM {
			raw = get(name)
		}
		if raw == "" {
			continue
		}
		switch fl.Type {
		case connection.TypeInt:
			if n, err := strconv.Atoi(raw); err == nil {
				out[fl.Name] = float64(n)
			} else {
				out[fl.Name] = raw // the spec names the problem
			}
		case connection.TypeBool:
			out[fl.Name] = raw == "true"
		case connection.TypeMap:
			m := map[string]any{}
			for i, line := range strings.Split(raw, "\n") {
				line = strings.TrimSpace(line)
				if line == "" {
					continue
				}
				k, v, ok := strings.Cut(line, ":")
				if !ok || strings.TrimSpace(k) == "" {
					problems[name] = fmt.Sprintf("%s: line %d is not Name: value", labelOf(fl.Name), i+1)
					continue
				}
				m[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			out[fl.Name] = m
		default:
			out[fl.Name] = raw
		}
	}
	return out
}

// connFields turns the service's problems into messages by input name;
// a problem of no input on the form (an auth scheme set through the API)
// goes to the top of the page.
func connFields(r *http.Request, err error, form connForm) (int, string, map[string]string) {
	e := httpx.Describe(r, err)
	known := map[string]bool{"name": true, "kind": true, "auth": true, "auth.type": true}
	for _, fs := range [][]formField{form.Settings, form.Secrets} {
		for _, f := range fs {
			known[f.Name] = true
		}
	}
	for _, g := range form.Auth {
		for _, f := range g.Fields {
			known[f.Name] = true
		}
	}
	fields := map[string]string{}
	var other []string
	for _, d := range e.Details {
		if d.Field == "" {
			continue
		}
		name := d.Field
		if strings.HasPrefix(name, "settings.headers") {
			name = "settings.headers" // one header of the map
		}
		last := d.Field[strings.LastIndex(d.Field, ".")+1:]
		if known[name] {
			fields[name] = labelOf(last) + " " + d.Message
		} else {
			other = append(other, d.Field+" "+d.Message)
		}
	}
	msg := e.Message
	if len(fields) > 0 {
		msg = "The connection was not saved: see the fields below."
	}
	if len(other) > 0 {
		msg += " " + strings.Join(other, "; ")
	}
	return e.Status, msg, fields
}

func (c *Console) connData(r *http.Request) connPage {
	g := access.GrantFrom(r.Context())
	return connPage{ProjectID: g.Project.ID, Kinds: connection.KindNames(),
		CanManage: access.Can(g.Role, access.ManageCredentials), CanTest: access.Can(g.Role, access.RunFlows)}
}

func (c *Console) connectionsPage(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if connection.Kinds[kind] == nil {
		kind = "http"
	}
	notice := ""
	if r.URL.Query().Get("notice") == "deleted" {
		notice = "The connection was deleted."
	}
	c.renderConnections(w, r, http.StatusOK, kind, page{Notice: notice, Values: map[string]string{}})
}

func (c *Console) renderConnections(w http.ResponseWriter, r *http.Request, status int, kind string, p page) {
	d := c.connData(r)
	cs, err := c.Services.Connections.List(r.Context(), d.ProjectID)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	for _, v := range cs {
		d.List = append(d.List, rowOf(v))
	}
	d.Kind = kind
	d.Name = p.Values["name"]
	d.Form = buildForm(connection.Kinds[kind], p.Values, nil, p.Fields)
	p.Title, p.Data = "Connections", d
	c.render(w, r, status, "conn-list.html", p)
}

func (c *Console) connectionsPost(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	kindName := f.Get("kind")
	kind := connection.Kinds[kindName]
	if kind == nil {
		c.Fail(w, r, httpx.BadRequest("unknown_kind", "choose a connection kind from the list: "+strings.Join(connection.KindNames(), ", ")))
		return
	}
	problems := map[string]string{}
	settings, sec, auth := inputOf(kind, f, problems)
	name := f.Get("name")
	values := formValues(f)
	if len(problems) > 0 {
		c.renderConnections(w, r, http.StatusUnprocessableEntity, kindName, page{Error: "The connection was not saved: see the fields below.", Fields: problems, Values: values})
		return
	}
	v, err := c.Services.Connections.Create(r.Context(), principalOf(r), access.GrantFrom(r.Context()).Project.ID,
		connection.Input{Name: &name, Kind: &kindName, Settings: settings, Secrets: sec, Auth: auth}, clientOf(r))
	if err != nil {
		status, msg, fields := connFields(r, err, buildForm(kind, nil, nil, nil))
		c.renderConnections(w, r, status, kindName, page{Error: msg, Fields: fields, Values: values})
		return
	}
	http.Redirect(w, r, "/projects/"+v.Row.ProjectID+"/connections/"+v.Row.ID+"?notice=created", http.StatusSeeOther)
}

// formValues keeps what was typed to show the form again: never a secret.
func formValues(f map[string][]string) map[string]string {
	out := map[string]string{}
	for k, v := range f {
		if len(v) == 0 || strings.HasPrefix(k, "secrets.") || k == "csrf_token" {
			continue
		}
		if rest, ok := strings.CutPrefix(k, "auth."); ok && isAuthSecretField(rest) {
			continue
		}
		out[k] = v[0]
	}
	return out
}

func (c *Console) connectionPage(w http.ResponseWriter, r *http.Request) {
	notice := ""
	switch r.URL.Query().Get("notice") {
	case "created":
		notice = "The connection is saved. Press Test to check that Sluice can reach it."
	case "saved":
		notice = "The changes are saved."
	case "connected":
		notice = "Connected: the consent is stored, and the connection now refreshes its own tokens."
	}
	c.renderConnection(w, r, http.StatusOK, page{Notice: notice}, nil)
}

func (c *Console) renderConnection(w http.ResponseWriter, r *http.Request, status int, p page, diag *connection.Diagnosis) {
	d := c.connData(r)
	v, err := c.Services.Connections.Get(r.Context(), d.ProjectID, r.PathValue("c"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	row := rowOf(v)
	d.Conn, d.Kind, d.Diagnosis = &row, v.Row.Kind, diag
	d.CanConnect = d.CanManage && v.Auth["type"] == "oauth2" && v.Auth["grant"] == "authorization_code"
	values := valuesOf(v)
	d.Name = v.Row.Name
	if p.Values != nil {
		values = p.Values
		d.Name = p.Values["name"]
	}
	set := map[string]bool{}
	for _, k := range v.SecretKeys {
		set[k] = true
	}
	if t, _ := v.Auth["type"].(string); p.Values != nil && values["auth.type"] != t {
		set = map[string]bool{}
	}
	d.Form = buildForm(connection.Kinds[v.Row.Kind], values, set, p.Fields)
	p.Title, p.Data = v.Row.Name, d
	c.render(w, r, status, "conn-detail.html", p)
}

func (c *Console) connectionSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	v, err := c.Services.Connections.Get(r.Context(), g.Project.ID, r.PathValue("c"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	problems := map[string]string{}
	kind := connection.Kinds[v.Row.Kind]
	settings, sec, auth := inputOf(kind, f, problems)
	values := formValues(f)
	if len(problems) > 0 {
		c.renderConnection(w, r, http.StatusUnprocessableEntity, page{Error: "The changes were not saved: see the fields below.", Fields: problems, Values: values}, nil)
		return
	}
	name := f.Get("name")
	if _, err := c.Services.Connections.Update(r.Context(), principalOf(r), g.Project.ID, v.Row.ID,
		connection.Input{Name: &name, Settings: settings, Secrets: sec, Auth: auth}, clientOf(r)); err != nil {
		status, msg, fields := connFields(r, err, buildForm(kind, nil, nil, nil))
		c.renderConnection(w, r, status, page{Error: msg, Fields: fields, Values: values}, nil)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/connections/"+v.Row.ID+"?notice=saved", http.StatusSeeOther)
}

func (c *Console) connectionDelete(w http.ResponseWriter, r *http.Request) {
	g := access.GrantFrom(r.Context())
	if err := c.Services.Connections.Delete(r.Context(), principalOf(r), g.Project.ID, r.PathValue("c"), clientOf(r)); err != nil {
		c.Fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/projects/"+g.Project.ID+"/connections?notice=deleted", http.StatusSeeOther)
}

// connectionTest runs the same test as the API and shows its diagnosis
// on the connection's page.
func (c *Console) connectionTest(w http.ResponseWriter, r *http.Request) {
	d, err := c.Services.Connections.Test(r.Context(), access.GrantFrom(r.Context()).Project.ID, r.PathValue("c"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	c.renderConnection(w, r, http.StatusOK, page{}, d)
}
