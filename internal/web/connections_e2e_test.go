package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/sluice-dev/sluice/internal/app/apptest"
	"github.com/sluice-dev/sluice/internal/connection"
	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth/peertest"
	"github.com/sluice-dev/sluice/internal/secrets"
)

// The secrets TestConnectionsEndToEnd plants. They are unique and ASCII, so
// a JSON-escaped log line cannot hide one from the scan.
const (
	e2eOAuth1Key            = "e2eConsumerKey00000001" // plain; oauthlib wants 20–30 letters and digits
	e2eOAuth1Token          = "e2eAccessToken00000001" // a secret in Sluice; idem
	e2eOAuth1ConsumerSecret = "E2E-OAuth1-Consumer-Secret-3141"
	e2eOAuth1TokenSecret    = "E2E-OAuth1-Token-Secret-1618"
	e2eOAuth1WrongSecret    = "E2E-OAuth1-Wrong-Secret-5772"
	e2eCCClient             = "sluice-e2e-machine"
	e2eCCSecret             = "E2E-OAuth2-Client-Secret-2236"
	e2eCCWrongSecret        = "E2E-OAuth2-Wrong-Secret-4142"
	e2eWebClient            = "sluice-e2e-web"
	e2eWebSecret            = "E2E-OAuth2-Web-Secret-1732"
	e2eNTLMDomain           = "E2EDOM"
	e2eNTLMUser             = "e2e-svc"
	e2eNTLMPassword         = "E2E-Ntlm-Secret-Passw0rd-1414"
	e2eNTLMWrong            = "E2E-Ntlm-Wrong-Secret-6931"
	e2ePostgresPassword     = "E2E-Postgres-Secret-2718"
)

// TestConnectionsEndToEnd is issue 4's "done when", through the HTTP API of
// a real server: a new user who is not an instance administrator creates a
// project and adds an OAuth 1.0a, two OAuth 2.0 (client credentials, and
// authorization code with the user's consent through the callback), an
// NTLM and a PostgreSQL connection, tests each against a peer no one here
// wrote (oauthlib, oidc-provider, gss-ntlmssp, PostgreSQL), and never sees
// a secret again: every answer shows secrets only as {"set": true}. At the
// end the database files, the log and the output hold no planted secret,
// nor any token the authorization server issued, in clear.
func TestConnectionsEndToEnd(t *testing.T) {
	// The peers that need nothing of the instance start first, so a missing
	// one skips the test before a server is started.
	oauth1 := peertest.StartOAuth1Verifier(t, peertest.OAuth1Options{
		Clients: map[string]peertest.OAuth1Client{e2eOAuth1Key: {Secret: e2eOAuth1ConsumerSecret}},
		Tokens:  map[string]peertest.OAuth1Token{e2eOAuth1Token: {Secret: e2eOAuth1TokenSecret, Client: e2eOAuth1Key}},
	})
	ntlm := peertest.StartNTLMAcceptor(t, peertest.NTLMOptions{Domain: e2eNTLMDomain,
		Accounts: []peertest.NTLMAccount{{Domain: e2eNTLMDomain, Username: e2eNTLMUser, Password: e2eNTLMPassword}}})

	inst, ann := startAdmin(t, loopbackAllowed)
	callback := inst.URL + "/api/v1/oauth2/callback"
	// The authorization server sends users back to this instance's
	// callback, which it must know as the web client's redirect URI.
	issuer := peertest.StartOAuth2Server(t, peertest.OAuth2Options{Clients: []peertest.OAuth2Client{
		{ID: e2eCCClient, Secret: e2eCCSecret, AuthMethod: "client_secret_post"},
		{ID: e2eWebClient, Secret: e2eWebSecret, AuthMethod: "client_secret_basic", RedirectURIs: []string{callback}},
	}})
	// Token requests pass through a recorder, so the scan also looks for
	// the access and refresh tokens the server issued.
	issued := recordTokens(t, issuer)

	bob := addPerson(t, inst, ann, "bob")
	cyd := addPerson(t, inst, ann, "cyd")
	if r := bob.C.Do(t, "GET", "/api/v1/me", nil); r.Status != 200 || r.Get("user.admin") != false {
		t.Fatalf("bob is an instance administrator: %s", r.Body)
	}
	pid := mustProject(t, bob.C, "Integrations")
	// cyd may manage the project's credentials too: only the consent's
	// state, not her role, keeps her from finishing bob's consent.
	cydMember := mustMember(t, bob.C, pid, map[string]any{"user_id": cyd.ID, "role": "admin"})

	j := &journey{t: t, c: bob.C, pid: pid, issued: issued}
	j.plant(e2eOAuth1Token, e2eOAuth1ConsumerSecret, e2eOAuth1TokenSecret, e2eOAuth1WrongSecret,
		e2eCCSecret, e2eCCWrongSecret, e2eWebSecret, e2eNTLMPassword, e2eNTLMWrong, e2ePostgresPassword)

	t.Run("OAuth 1.0a against oauthlib", func(t *testing.T) {
		j := j.on(t)
		oauth1Set := []string{"auth.consumer_secret", "auth.token", "auth.token_secret"}
		id := j.create(map[string]any{"name": "netsuite", "kind": "http",
			"settings": map[string]any{"base_url": oauth1.URL + "/services/rest", "test": map[string]any{"path": "/record/v1/customer?limit=1"}},
			"auth": map[string]any{"type": "oauth1", "signature_method": "HMAC-SHA256", "realm": "1234567_SB1",
				"consumer_key": e2eOAuth1Key, "consumer_secret": e2eOAuth1ConsumerSecret,
				"token": e2eOAuth1Token, "token_secret": e2eOAuth1TokenSecret},
		}, oauth1Set...)
		j.wantTest(id, true, "http", 200)

		j.patch(id, map[string]any{"auth": map[string]any{"consumer_secret": e2eOAuth1WrongSecret}}, oauth1Set...)
		j.wantTest(id, false, "auth", 401)
		j.patch(id, map[string]any{"auth": map[string]any{"consumer_secret": e2eOAuth1ConsumerSecret}}, oauth1Set...)
		j.wantTest(id, true, "http", 200)
	})

	t.Run("OAuth 2.0 client credentials against oidc-provider", func(t *testing.T) {
		j := j.on(t)
		id := j.create(map[string]any{"name": "crm", "kind": "http",
			"settings": map[string]any{"base_url": issuer, "test": map[string]any{"path": "/resource"}},
			"auth": map[string]any{"type": "oauth2", "grant": "client_credentials", "token_url": issued.URL + "/token",
				"client_id": e2eCCClient, "client_secret": e2eCCSecret, "auth_style": "post", "scopes": []string{"read"}},
		}, "auth.client_secret")
		j.wantTest(id, true, "http", 200)

		j.patch(id, map[string]any{"auth": map[string]any{"client_secret": e2eCCWrongSecret}}, "auth.client_secret")
		j.wantTest(id, false, "auth", 401)
		j.patch(id, map[string]any{"auth": map[string]any{"client_secret": e2eCCSecret}}, "auth.client_secret")
		j.wantTest(id, true, "http", 200)
	})

	t.Run("OAuth 2.0 authorization code against oidc-provider", func(t *testing.T) {
		j := j.on(t)
		id := j.create(map[string]any{"name": "shop", "kind": "http",
			"settings": map[string]any{"base_url": issuer, "test": map[string]any{"path": "/resource"}},
			"auth": map[string]any{"type": "oauth2", "grant": "authorization_code",
				"auth_url": issuer + "/auth", "token_url": issued.URL + "/token",
				"client_id": e2eWebClient, "client_secret": e2eWebSecret, "scopes": []string{"read", "offline_access"}},
		}, "auth.client_secret")
		// Before consent, the test says what is missing.
		j.wantTest(id, false, "auth", 0)

		// consent starts a consent as bob and has the authorization server
		// answer it headlessly; it returns the state and the code the
		// server sends the browser back to the callback with.
		consent := func() (state, code string) {
			t.Helper()
			r := bob.C.Do(t, "POST", connPath(pid, "/", id, "/oauth2/authorize"), nil)
			wantStatus(t, r, 200, "authorize")
			j.clean("authorize", r)
			link, err := url.Parse(r.String("url"))
			if err != nil || !strings.HasPrefix(link.String(), issuer+"/auth?") {
				t.Fatalf("authorize answered url %q, want the authorization server's /auth", r.String("url"))
			}
			lq := link.Query()
			if lq.Get("redirect_uri") != callback || lq.Get("code_challenge_method") != "S256" || lq.Get("client_id") != e2eWebClient || lq.Get("state") == "" {
				t.Fatalf("authorization link %s: want redirect_uri %s, PKCE S256, the client and a state", link, callback)
			}
			q := peertest.Consent(t, link.String(), callback)
			if q.Get("error") != "" || q.Get("code") == "" {
				t.Fatalf("the authorization server refused the consent: %v", q)
			}
			if q.Get("state") != lq.Get("state") {
				t.Fatalf("state %q came back as %q", lq.Get("state"), q.Get("state"))
			}
			j.scanOnly(q.Get("code"), q.Get("state"))
			return q.Get("state"), q.Get("code")
		}
		callbackPath := func(state, code string) string {
			return "/api/v1/oauth2/callback?" + url.Values{"state": {state}, "code": {code}}.Encode()
		}

		// Another user of the project comes back with bob's state: refused,
		// nothing is stored, and bob's consent is not used up by it.
		state, code := consent()
		r := cyd.C.Do(t, "GET", callbackPath(state, code), nil)
		wantError(t, r, 400, "invalid_state", "another user's callback")
		j.readBack(id, "auth.client_secret")

		// bob comes back with the same state: the refresh token is
		// stored, never shown.
		r = bob.C.Do(t, "GET", callbackPath(state, code), nil)
		wantStatus(t, r, 200, "callback")
		j.clean("callback", r)
		if r.Get("ok") != true || r.String("connection_id") != id || r.String("project_id") != pid {
			t.Fatalf("callback answered %s", r.Body)
		}
		j.readBack(id, "auth.client_secret", "auth.refresh_token")
		if n := len(issued.all()); n < 2 {
			t.Fatalf("the token recorder saw %d tokens after the code exchange, want an access and a refresh token", n)
		}
		// The test refreshes with the stored token; the server rotates it
		// and the connection stores the new one, which the second test
		// uses.
		j.wantTest(id, true, "http", 200)
		j.wantTest(id, true, "http", 200)
		j.readBack(id, "auth.client_secret", "auth.refresh_token")

		// The state is single use.
		wantError(t, bob.C.Do(t, "GET", callbackPath(state, code), nil), 400, "invalid_state", "second use of a state")
		j.readBack(id, "auth.client_secret", "auth.refresh_token")

		// The authorization server sends the user back with an error
		// instead of a code: refused with its words, and the state is
		// used up.
		state, _ = consent()
		refused := "/api/v1/oauth2/callback?" + url.Values{"state": {state}, "error": {"access_denied"}, "error_description": {"The user said no"}}.Encode()
		r = bob.C.Do(t, "GET", refused, nil)
		wantError(t, r, 400, "consent_refused", "a refused consent")
		if !strings.Contains(r.String("error.message"), "access_denied") {
			t.Fatalf("a refused consent answered %s: want the server's error named", r.Body)
		}
		wantError(t, bob.C.Do(t, "GET", callbackPath(state, code), nil), 400, "invalid_state", "a state after a refused consent")

		// cyd starts a consent as an administrator and is made a standard
		// member before she comes back: refused, nothing stored.
		r = cyd.C.Do(t, "POST", connPath(pid, "/", id, "/oauth2/authorize"), nil)
		wantStatus(t, r, 200, "authorize as cyd")
		q := peertest.Consent(t, r.String("url"), callback)
		wantStatus(t, bob.C.Do(t, "PATCH", "/api/v1/projects/"+pid+"/members/"+cydMember, map[string]any{"role": "standard"}), 200, "demote cyd")
		wantError(t, cyd.C.Do(t, "GET", callbackPath(q.Get("state"), q.Get("code")), nil), 403, "forbidden", "a callback after the role was lost")
		j.readBack(id, "auth.client_secret", "auth.refresh_token")
	})

	t.Run("NTLM against gss-ntlmssp", func(t *testing.T) {
		j := j.on(t)
		id := j.create(map[string]any{"name": "dynamics", "kind": "http",
			"settings": map[string]any{"base_url": ntlm + "/api/data/v9.2", "test": map[string]any{"path": "/WhoAmI"}},
			"auth":     map[string]any{"type": "ntlm", "domain": e2eNTLMDomain, "username": e2eNTLMUser, "password": e2eNTLMPassword},
		}, "auth.password")
		j.wantTest(id, true, "http", 200)

		j.patch(id, map[string]any{"auth": map[string]any{"password": e2eNTLMWrong}}, "auth.password")
		j.wantTest(id, false, "auth", 401)
		j.patch(id, map[string]any{"auth": map[string]any{"password": e2eNTLMPassword}}, "auth.password")
		j.wantTest(id, true, "http", 200)
	})

	t.Run("PostgreSQL", func(t *testing.T) {
		j := j.on(t)
		// Trust authentication ignores the password; it is stored and
		// planted all the same.
		id := j.create(map[string]any{"name": "warehouse", "kind": "postgres",
			"settings": map[string]any{"host": "127.0.0.1", "port": 5432, "database": "postgres", "user": "postgres", "sslmode": "disable"},
			"secrets":  map[string]any{"password": e2ePostgresPassword},
		}, "secrets.password")
		j.wantTest(id, true, "database", 0)
	})
	if t.Failed() {
		return
	}

	r := bob.C.Do(t, "GET", connPath(pid), nil)
	wantStatus(t, r, 200, "list")
	if n := len(r.Get("connections").([]any)); n != 5 {
		t.Fatalf("%d connections listed, want 5: %s", n, r.Body)
	}
	j.clean("list", r)
	// The activity log records every change, never a secret.
	r = bob.C.Do(t, "GET", "/api/v1/projects/"+pid+"/audit", nil)
	wantStatus(t, r, 200, "project audit")
	j.clean("project audit", r)
	if !strings.Contains(string(r.Body), `"secrets_changed":["auth.refresh_token"]`) {
		t.Errorf("the activity log does not record the consent: %s", r.Body)
	}

	// Stop the instance, then scan everything it wrote and printed.
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	secretsNow := j.secrets()
	if len(issued.all()) < 4 {
		t.Fatalf("the token recorder saw only %d tokens: the token scan would prove little", len(issued.all()))
	}
	logs, out := inst.Logs.String(), inst.Out.String()
	if !strings.Contains(logs, "http request") {
		t.Fatalf("the server logged no requests; the scan would prove nothing:\n%s", logs)
	}
	dir := filepath.Dir(inst.Where)
	files := map[string][]byte{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			files[e.Name()] = b
		}
	}
	if files["sluice.db"] == nil {
		t.Fatalf("database file not found in %s", dir)
	}
	// A control: plain settings are stored in clear, so the consumer key
	// must be found where the secrets must not be.
	var all []byte
	for _, b := range files {
		all = append(all, b...)
	}
	if !bytes.Contains(all, []byte(e2eOAuth1Key)) {
		t.Fatal("the plain consumer key is not in the database files: the scan does not read what the server stored")
	}
	if !bytes.Contains(files["sluice.db"], []byte(secrets.Prefix)) && !bytes.Contains(files["sluice.db-wal"], []byte(secrets.Prefix)) {
		t.Fatal("no sealed value in the database: the connections' secrets were not stored, so the scan proves nothing")
	}
	for _, s := range secretsNow {
		if strings.Contains(logs, s) {
			t.Errorf("secret %s reached the log", hint(s))
		}
		if strings.Contains(out, s) {
			t.Errorf("secret %s was printed", hint(s))
		}
		for name, b := range files {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("secret %s is in clear in %s", hint(s), name)
			}
		}
	}
}

// journey is the state of TestConnectionsEndToEnd: the user's client, the
// project, and every secret planted so far, which no answer may hold.
type journey struct {
	t      *testing.T
	c      *apptest.Client
	pid    string
	issued *tokenRecorder
	parent *journey // a subtest's journey shares its parent's secrets

	mu      sync.Mutex
	planted []string
	// scan are secrets only the final scan looks for (the authorization
	// code and state, which the authorization link and callback carry).
	scan []string
}

// on is j for a subtest.
func (j *journey) on(t *testing.T) *journey {
	return &journey{t: t, c: j.c, pid: j.pid, issued: j.issued, parent: j}
}

func (j *journey) root() *journey {
	for j.parent != nil {
		j = j.parent
	}
	return j
}

func (j *journey) plant(s ...string) {
	r := j.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range s {
		if len(x) < 8 {
			j.t.Fatalf("planted secret %q is too short to scan for", x)
		}
	}
	r.planted = append(r.planted, s...)
}

func (j *journey) scanOnly(s ...string) {
	r := j.root()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.scan = append(r.scan, s...)
}

// secrets is everything planted, plus every token the authorization server
// issued; with all, also what only the final scan looks for.
func (j *journey) secretsIn(all bool) []string {
	r := j.root()
	r.mu.Lock()
	out := append([]string(nil), r.planted...)
	if all {
		out = append(out, r.scan...)
	}
	r.mu.Unlock()
	return append(out, j.issued.all()...)
}

func (j *journey) secrets() []string { return j.secretsIn(true) }

// hint names a test secret in a failure message by its beginning.
func hint(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// clean fails the test when an answer holds a secret.
func (j *journey) clean(what string, r *apptest.Response) {
	j.t.Helper()
	for _, s := range j.secretsIn(false) {
		if strings.Contains(string(r.Body), s) {
			j.t.Fatalf("%s: the answer holds the secret %s: %s", what, hint(s), r.Body)
		}
	}
}

// checkView fails the test unless the connection view v shows every secret
// only as {"set": bool}, and exactly the secrets in wantSet (such as
// "auth.password" or "secrets.password") as set.
func (j *journey) checkView(what string, v any, wantSet []string) {
	j.t.Helper()
	var set []string
	sec, ok := dig(v, "secrets").(map[string]any)
	if !ok {
		j.t.Fatalf("%s: no secrets object in %v", what, v)
	}
	for k, x := range sec {
		m, ok := x.(map[string]any)
		if !ok || len(m) != 1 || (m["set"] != true && m["set"] != false) {
			j.t.Fatalf("%s: secrets.%s is %v, want only {\"set\": true|false}", what, k, x)
		}
		if m["set"] == true {
			set = append(set, "secrets."+k)
		}
	}
	if auth, ok := dig(v, "auth").(map[string]any); ok {
		for k, x := range auth {
			if !slices.Contains(connection.AuthSecretFields, k) {
				continue
			}
			if m, ok := x.(map[string]any); !ok || len(m) != 1 || m["set"] != true {
				j.t.Fatalf("%s: auth.%s is %v, want only {\"set\": true}", what, k, x)
			}
			set = append(set, "auth."+k)
		}
	}
	sort.Strings(set)
	want := append([]string(nil), wantSet...)
	sort.Strings(want)
	if !slices.Equal(set, want) {
		j.t.Fatalf("%s: secrets shown as set %v, want %v", what, set, want)
	}
}

// readBack reads connection id alone and in the project's list: both show
// its secrets only as set, exactly wantSet, and hold no secret.
func (j *journey) readBack(id string, wantSet ...string) {
	j.t.Helper()
	r := j.c.Do(j.t, "GET", connPath(j.pid, "/", id), nil)
	wantStatus(j.t, r, 200, "get connection")
	j.clean("get connection", r)
	j.checkView("get connection", r.JSON, wantSet)
	r = j.c.Do(j.t, "GET", connPath(j.pid), nil)
	wantStatus(j.t, r, 200, "list connections")
	j.clean("list connections", r)
	found := false
	for _, c := range r.Get("connections").([]any) {
		if dig(c, "id") == id {
			found = true
			j.checkView("list connections", c, wantSet)
		}
	}
	if !found {
		j.t.Fatalf("connection %s is not in the list: %s", id, r.Body)
	}
}

// create adds a connection and checks its answer and what reads show.
func (j *journey) create(body map[string]any, wantSet ...string) string {
	j.t.Helper()
	r := j.c.Do(j.t, "POST", connPath(j.pid), body)
	wantStatus(j.t, r, 201, "create connection "+body["name"].(string))
	j.clean("create", r)
	j.checkView("create", r.JSON, wantSet)
	j.readBack(r.String("id"), wantSet...)
	return r.String("id")
}

// patch changes a connection and checks its answer and what reads show.
func (j *journey) patch(id string, body map[string]any, wantSet ...string) {
	j.t.Helper()
	r := j.c.Do(j.t, "PATCH", connPath(j.pid, "/", id), body)
	wantStatus(j.t, r, 200, "change connection")
	j.clean("change", r)
	j.checkView("change", r.JSON, wantSet)
	j.readBack(id, wantSet...)
}

// wantTest tests a connection and checks the diagnosis (status 0: none
// expected).
func (j *journey) wantTest(id string, ok bool, stage string, status int) {
	j.t.Helper()
	r := j.c.Do(j.t, "POST", connPath(j.pid, "/", id, "/test"), nil)
	wantStatus(j.t, r, 200, "test connection")
	j.clean("test", r)
	got, _ := r.Get("status").(float64)
	if r.Get("ok") != ok || r.String("stage") != stage || int(got) != status || r.String("message") == "" {
		j.t.Fatalf("test: diagnosis %s, want ok %v stage %s status %d", r.Body, ok, stage, status)
	}
}

// tokenRecorder is a loopback reverse proxy in front of the authorization
// server that keeps every token it issues.
type tokenRecorder struct {
	URL    string
	mu     sync.Mutex
	tokens []string
}

func (tr *tokenRecorder) all() []string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]string(nil), tr.tokens...)
}

func recordTokens(t *testing.T, issuer string) *tokenRecorder {
	t.Helper()
	target, err := url.Parse(issuer)
	if err != nil {
		t.Fatal(err)
	}
	tr := &tokenRecorder{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		ModifyResponse: func(resp *http.Response) error {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			resp.Body = io.NopCloser(bytes.NewReader(b))
			var answer map[string]any
			if json.Unmarshal(b, &answer) == nil {
				tr.mu.Lock()
				for _, k := range []string{"access_token", "refresh_token", "id_token"} {
					if s, ok := answer[k].(string); ok && len(s) >= 8 {
						tr.tokens = append(tr.tokens, s)
					}
				}
				tr.mu.Unlock()
			}
			return nil
		},
	}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	tr.URL = srv.URL
	return tr
}
