package web_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/consolelog"
	"github.com/sluice-dev/sluice/internal/engine"
	"github.com/sluice-dev/sluice/internal/store"
)

// The matrix test's principals and the state its cells run against: who
// sends each request (matrix_test.go holds the table itself).

// mxWho is a kind of principal: how a user relates to the project under test
// (or to the instance), or nobody at all.
type mxWho int

const (
	mxOwner         mxWho = iota // created the project; not an instance administrator
	mxAdmin                      // holds a direct admin grant
	mxStandard                   // holds a direct standard grant
	mxGroupAdmin                 // member of a group granted admin
	mxGroupStandard              // member of a group granted standard
	mxOutsider                   // a user with no grant
	mxInstanceAdmin              // the setup account: instance administrator, no grant on the project
	mxAnon                       // no credentials at all
)

// mxWhos lists every kind, in the order the table reads.
var mxWhos = []mxWho{mxOwner, mxAdmin, mxStandard, mxGroupAdmin, mxGroupStandard, mxOutsider, mxInstanceAdmin, mxAnon}

func (w mxWho) String() string {
	return [...]string{"owner", "admin", "standard", "group-admin", "group-standard", "outsider", "instance-admin", "anonymous"}[w]
}

// mxExpect is a row's expected status for each kind of principal. API-key
// principals expect what the session of the same user expects.
type mxExpect struct {
	Owner, Admin, Standard, GroupAdmin, GroupStandard, Outsider, InstanceAdmin, Anon int
}

// of is the status expected of kind w.
func (e mxExpect) of(w mxWho) int {
	return [...]int{e.Owner, e.Admin, e.Standard, e.GroupAdmin, e.GroupStandard, e.Outsider, e.InstanceAdmin, e.Anon}[w]
}

// mxPrincipal is who sends a cell's request, and with which credential: every
// user kind sends it once with a session cookie (as the console does) and
// once with an API key of the same user.
type mxPrincipal struct {
	kind   mxWho
	viaKey bool
}

func (p mxPrincipal) String() string {
	switch {
	case p.kind == mxAnon:
		return "anonymous"
	case p.viaKey:
		return p.kind.String() + "/api-key"
	}
	return p.kind.String() + "/session"
}

// mxPrincipals is every principal: 7 users × {session, API key} + anonymous.
func mxPrincipals() []mxPrincipal {
	var out []mxPrincipal
	for _, w := range mxWhos {
		out = append(out, mxPrincipal{kind: w})
		if w != mxAnon {
			out = append(out, mxPrincipal{kind: w, viaKey: true})
		}
	}
	return out
}

// matrixPW is every matrix user's password (apptest hashes it cheaply).
const matrixPW = "Amber-Falcon-Harbor-73"

// mxUser is a user and, unless made by newUser, a live session and an API
// key of theirs.
type mxUser struct {
	id, email, password string
	cookie, csrf        string // a logged-in session: its cookie and CSRF token
	key                 string // an API key
}

// mxFixture is one running instance with the shared principals: one account
// per user kind (the instance administrator is the setup account), the
// two groups, and a shared project laid out with every kind of member.
type mxFixture struct {
	inst *apptest.Instance
	// transport is shared by every client, so hundreds of cells reuse a
	// few connections instead of each opening its own.
	transport *http.Transport
	users     map[mxWho]*mxUser
	groups    map[mxWho]string // mxGroupAdmin and mxGroupStandard → their group's ID
	common    *mxWorld
	seq       atomic.Int64
	// echo is the loopback server the projects' http connection points
	// at, so a connection test has somewhere to go.
	echo *httptest.Server
}

// mxWorld is a project with the full membership layout: the owner, a direct
// admin and standard grant, a group granted admin and one granted standard,
// and who plays each kind there.
type mxWorld struct {
	project, name string
	// connection is an http connection of the project, with a secret.
	connection string
	// consumer is an HMAC service consumer of the project, allowed the
	// flow, with a secret.
	consumer string
	// pipe is a pipe of the project and flow a flow in it (version 1,
	// disabled).
	pipe, flow string
	users      map[mxWho]*mxUser
	groups     map[mxWho]string
	members    map[mxWho]string // the grants' member IDs, by the kind they make
}

// newMatrixFixture starts an instance on dialect d and lays out the shared
// principals and project.
func newMatrixFixture(t *testing.T, d store.Dialect) *mxFixture {
	t.Helper()
	inst := apptest.Start(t, apptest.Options{Dialect: d, Args: []string{"--egress-allow", "127.0.0.0/8"}})
	fx := &mxFixture{inst: inst, transport: &http.Transport{MaxIdleConnsPerHost: 32},
		users: map[mxWho]*mxUser{}, groups: map[mxWho]string{},
		echo: httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))}
	t.Cleanup(fx.echo.Close)
	t.Cleanup(fx.transport.CloseIdleConnections)
	c := fx.own(inst.Setup(t, adminEmail, adminPW))
	root := &mxUser{email: adminEmail, password: adminPW, cookie: sessionCookie(c), csrf: c.CSRF}
	r := c.Do(t, "GET", "/api/v1/me", nil)
	wantStatus(t, r, http.StatusOK, "setup account: me")
	root.id = r.String("user.id")
	root.key, _ = fx.newKey(t, root)
	fx.users[mxInstanceAdmin] = root
	for _, w := range []mxWho{mxOwner, mxAdmin, mxStandard, mxGroupAdmin, mxGroupStandard, mxOutsider} {
		fx.users[w] = fx.newAccount(t, false)
	}
	fx.groups[mxGroupAdmin] = fx.newGroup(t, fx.users[mxGroupAdmin].id)
	fx.groups[mxGroupStandard] = fx.newGroup(t, fx.users[mxGroupStandard].id)
	fx.common = fx.newWorld(t, mxAnon)
	return fx
}

// next is a number no other name in this instance uses.
func (fx *mxFixture) next() int64 { return fx.seq.Add(1) }

// own moves c onto the shared transport.
func (fx *mxFixture) own(c *apptest.Client) *apptest.Client {
	c.HTTP.CloseIdleConnections()
	c.HTTP.Transport = fx.transport
	return c
}

// client is a fresh client with no credentials.
func (fx *mxFixture) client() *apptest.Client { return fx.own(fx.inst.NewClient()) }

// session is a fresh browser-like client holding a's session.
func (fx *mxFixture) session(t *testing.T, a *mxUser) *apptest.Client {
	c := fx.own(clientWithCookie(t, fx.inst, a.cookie))
	c.CSRF = a.csrf
	return c
}

// keyClient is a fresh script-like client using a's API key only.
func (fx *mxFixture) keyClient(a *mxUser) *apptest.Client {
	c := fx.client()
	c.Bearer = a.key
	return c
}

// root is a session of the setup account, for arranging state.
func (fx *mxFixture) root(t *testing.T) *apptest.Client {
	return fx.session(t, fx.users[mxInstanceAdmin])
}

// login opens a new session of a and returns its client and session ID.
func (fx *mxFixture) login(t *testing.T, a *mxUser) (*apptest.Client, string) {
	t.Helper()
	r, c := login(t, fx.inst, a.email, a.password, "")
	wantStatus(t, r, http.StatusOK, "login "+a.email)
	fx.own(c)
	me := c.Do(t, "GET", "/api/v1/me", nil)
	wantStatus(t, me, http.StatusOK, "me after login")
	return c, me.String("session_id")
}

// newKey creates another API key of a, returning its token and ID.
func (fx *mxFixture) newKey(t *testing.T, a *mxUser) (string, string) {
	t.Helper()
	r := fx.session(t, a).Do(t, "POST", "/api/v1/me/api-keys", map[string]any{"name": "matrix", "expires_in_days": 0})
	wantStatus(t, r, http.StatusCreated, "create api key")
	return r.String("token"), r.String("id")
}

// newUser creates a user that is not logged in anywhere.
func (fx *mxFixture) newUser(t *testing.T, isAdmin bool) *mxUser {
	t.Helper()
	a := &mxUser{email: fmt.Sprintf("matrix-%d@example.com", fx.next()), password: matrixPW}
	a.id = fx.inst.CreateUser(t, fx.root(t), a.email, a.password, isAdmin)
	return a
}

// newAccount creates a user with a session and an API key.
func (fx *mxFixture) newAccount(t *testing.T, isAdmin bool) *mxUser {
	t.Helper()
	a := fx.newUser(t, isAdmin)
	c, _ := fx.login(t, a)
	a.cookie, a.csrf = sessionCookie(c), c.CSRF
	a.key, _ = fx.newKey(t, a)
	return a
}

// newGroup creates a group holding the users.
func (fx *mxFixture) newGroup(t *testing.T, userIDs ...string) string {
	t.Helper()
	root := fx.root(t)
	r := root.Do(t, "POST", "/api/v1/groups", map[string]any{"name": fmt.Sprintf("Matrix group %d", fx.next())})
	wantStatus(t, r, http.StatusCreated, "create group")
	id := r.String("id")
	for _, u := range userIDs {
		wantStatus(t, root.Do(t, "POST", "/api/v1/groups/"+id+"/members", map[string]any{"user_id": u}), http.StatusCreated, "add group member")
	}
	return id
}

// enableTOTP turns two-factor login on for a.
func (fx *mxFixture) enableTOTP(t *testing.T, a *mxUser) {
	t.Helper()
	secret := fx.beginTOTP(t, a)
	r := fx.session(t, a).Do(t, "POST", "/api/v1/me/totp/confirm", map[string]any{"code": totpCode(t, secret, fx.inst.Clock.Now())})
	wantStatus(t, r, http.StatusOK, "confirm totp")
}

// beginTOTP starts a's enrolment and returns the pending secret.
func (fx *mxFixture) beginTOTP(t *testing.T, a *mxUser) string {
	t.Helper()
	r := fx.session(t, a).Do(t, "POST", "/api/v1/me/totp", map[string]any{"password": a.password})
	wantStatus(t, r, http.StatusOK, "begin totp")
	return r.String("secret")
}

// newWorld lays out a new project. fresh (unless mxAnon) is a kind whose
// user is new, with its own session and key, so a cell can consume them;
// every other kind is played by the shared accounts.
func (fx *mxFixture) newWorld(t *testing.T, fresh mxWho) *mxWorld {
	t.Helper()
	w := &mxWorld{users: maps.Clone(fx.users), groups: maps.Clone(fx.groups), members: map[mxWho]string{},
		name: fmt.Sprintf("Matrix project %d", fx.next())}
	if fresh != mxAnon {
		a := fx.newAccount(t, fresh == mxInstanceAdmin)
		w.users[fresh] = a
		if fresh == mxGroupAdmin || fresh == mxGroupStandard {
			w.groups[fresh] = fx.newGroup(t, a.id)
		}
	}
	own := fx.session(t, w.users[mxOwner])
	r := own.Do(t, "POST", "/api/v1/projects", map[string]any{"name": w.name})
	wantStatus(t, r, http.StatusCreated, "create project")
	w.project = r.String("id")
	grants := []struct {
		kind      mxWho
		field, id string
		role      string
	}{
		{mxAdmin, "user_id", w.users[mxAdmin].id, "admin"},
		{mxStandard, "user_id", w.users[mxStandard].id, "standard"},
		{mxGroupAdmin, "group_id", w.groups[mxGroupAdmin], "admin"},
		{mxGroupStandard, "group_id", w.groups[mxGroupStandard], "standard"},
	}
	for _, g := range grants {
		r := own.Do(t, "POST", "/api/v1/projects/"+w.project+"/members", map[string]any{g.field: g.id, "role": g.role})
		wantStatus(t, r, http.StatusCreated, "grant "+g.kind.String())
		w.members[g.kind] = r.String("id")
	}
	r = own.Do(t, "POST", "/api/v1/projects/"+w.project+"/connections", map[string]any{"name": "erp", "kind": "http",
		"settings": map[string]any{"base_url": fx.echo.URL}, "auth": map[string]any{"type": "bearer", "token": "Matrix-Token-Secret-1"}})
	wantStatus(t, r, http.StatusCreated, "create connection")
	w.connection = r.String("id")
	r = own.Do(t, "POST", "/api/v1/projects/"+w.project+"/pipes", map[string]any{"name": "Shop ↔ ERP"})
	wantStatus(t, r, http.StatusCreated, "create pipe")
	w.pipe = r.String("id")
	r = own.Do(t, "POST", "/api/v1/projects/"+w.project+"/pipes/"+w.pipe+"/flows", map[string]any{"definition": mxFlowDefinition("orders")})
	wantStatus(t, r, http.StatusCreated, "create flow")
	w.flow = r.String("id")
	r = own.Do(t, "POST", "/api/v1/projects/"+w.project+"/consumers", map[string]any{"name": "shop", "flows": []string{w.flow},
		"auth": map[string]any{"type": "hmac", "style": "github", "secret": "Matrix-Token-Secret-consumer-0123456789"}})
	wantStatus(t, r, http.StatusCreated, "create consumer")
	w.consumer = r.String("id")
	return w
}

// mxFlowDefinition is a valid flow document named name: it reads the
// orders of the world's connection erp.
func mxFlowDefinition(name string) map[string]any {
	return map[string]any{"name": name,
		"read": map[string]any{"connection": "erp", "request": map[string]any{"method": "GET", "path": "/orders"},
			"records": ".orders[]"},
		"entity_id": ".id",
		"steps":     []any{map[string]any{"map": "{id, total}"}}}
}

// mxCell is one principal sending one row's request.
type mxCell struct {
	t  *testing.T
	fx *mxFixture
	w  *mxWorld
	p  mxPrincipal
}

// me is the acting account; nil for anonymous.
func (c *mxCell) me() *mxUser { return c.w.users[c.p.kind] }

// credentials are the email and password a cell's body carries: its own,
// or for anonymous the outsider's (what someone who knows them would send).
func (c *mxCell) credentials() *mxUser {
	if c.p.kind == mxAnon {
		return c.w.users[mxOutsider]
	}
	return c.me()
}

// client sends the cell's request: the principal's session or API key.
func (c *mxCell) client() *apptest.Client {
	switch {
	case c.p.kind == mxAnon:
		return c.fx.client()
	case c.p.viaKey:
		return c.fx.keyClient(c.me())
	}
	return c.fx.session(c.t, c.me())
}

// as is a session of another kind of member of the cell's world, to
// arrange state or read what the request did.
func (c *mxCell) as(k mxWho) *apptest.Client { return c.fx.session(c.t, c.w.users[k]) }

// project is a path under the cell's project.
func (c *mxCell) project(suffix string) string { return "/api/v1/projects/" + c.w.project + suffix }

// status is the answer of a GET by client.
func (c *mxCell) status(client *apptest.Client, path string) int {
	c.t.Helper()
	return client.Do(c.t, "GET", path, nil).Status
}

// user reads a user row from the store (nil if none), bypassing the API.
func (c *mxCell) user(email string) *store.User {
	c.t.Helper()
	u, err := c.fx.inst.App.Store.Reader().UserByEmail(context.Background(), email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

// group reads a group and its member IDs from the store (nil if none).
func (c *mxCell) group(id string) (*store.Group, map[string]bool) {
	c.t.Helper()
	ctx := context.Background()
	g, err := c.fx.inst.App.Store.Reader().GroupByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	ms, err := c.fx.inst.App.Store.Reader().GroupMembers(ctx, id)
	if err != nil {
		c.t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, m := range ms {
		ids[m.UserID] = true
	}
	return g, ids
}

// pipeline is a path under the cell's pipe, and flowAt one under its flow.
func (c *mxCell) pipeline(suffix string) string { return c.project("/pipes/" + c.w.pipe + suffix) }

// ownerRun has the world's owner start a run of its flow and returns
// the run's ID.
func (c *mxCell) ownerRun() string {
	c.t.Helper()
	r := c.as(mxOwner).Do(c.t, "POST", c.flowAt("/runs"), nil)
	wantStatus(c.t, r, http.StatusAccepted, "owner starts a run")
	return r.String("id")
}

func (c *mxCell) flowAt(suffix string) string { return c.pipeline("/flows/" + c.w.flow + suffix) }

// ownerConsoleLog stores a console log of one line for a new run of the
// cell's flow, as a capture would, and gives its ID.
func (c *mxCell) ownerConsoleLog() string {
	c.t.Helper()
	ctx := context.Background()
	app := c.fx.inst.App
	run, err := app.Store.Reader().RunByID(ctx, c.w.project, c.ownerRun())
	if err != nil {
		c.t.Fatal(err)
	}
	capt := app.ConsoleLogs.Begin(run, consolelog.Settings{Enabled: true, Capture: []string{consolelog.KindRecords}})
	capt.Step(engine.StepRecord{Step: "read", EntityID: "1", Value: map[string]any{"id": 1}})
	l, err := capt.Finish(ctx)
	if err != nil || l == nil {
		c.t.Fatalf("storing a console log: %v", err)
	}
	return l.ID
}

// ownerLink is a download link the owner asked for, of a new console log.
func (c *mxCell) ownerLink() string {
	c.t.Helper()
	r := c.as(mxOwner).Do(c.t, "POST", c.project("/console-logs/"+c.ownerConsoleLog()+"/link"), nil)
	wantStatus(c.t, r, http.StatusCreated, "owner asks for a download link")
	return strings.TrimPrefix(r.String("url"), c.fx.inst.URL)
}

// owned reads a path under the cell's project as its owner.
func (c *mxCell) owned(path string) *apptest.Response {
	c.t.Helper()
	return c.as(mxOwner).Do(c.t, "GET", path, nil)
}

// members reads the cell's project's members, by member ID, as its owner.
func (c *mxCell) members() map[string]string {
	c.t.Helper()
	r := c.as(mxOwner).Do(c.t, "GET", c.project("/members"), nil)
	wantStatus(c.t, r, http.StatusOK, "owner lists members")
	out := map[string]string{}
	list, _ := r.Get("members").([]any)
	for _, m := range list {
		m, _ := m.(map[string]any)
		id, _ := m["id"].(string)
		role, _ := m["role"].(string)
		if uid, _ := m["user_id"].(string); uid != "" {
			out["user:"+uid] = role
		}
		out[id] = role
	}
	return out
}
