package peertest

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// OAuth1Client is a consumer the OAuth 1.0a verifier knows. oauthlib wants
// consumer keys of 20 to 30 letters and digits.
type OAuth1Client struct {
	Secret       string `json:"secret"`
	RSAPublicKey string `json:"rsa_public_key,omitempty"` // PEM, for RSA-SHA1 and RSA-SHA256
}

// OAuth1Token is an access token the verifier knows (20 to 30 letters and
// digits), with its secret and its consumer's key.
type OAuth1Token struct {
	Secret string `json:"secret"`
	Client string `json:"client"`
}

// OAuth1Options configure the OAuth 1.0a verifier.
type OAuth1Options struct {
	Clients map[string]OAuth1Client `json:"clients"` // by consumer key
	Tokens  map[string]OAuth1Token  `json:"tokens"`  // by token
	// TLS serves HTTPS with a throwaway certificate (oauthlib then
	// enforces TLS, so PLAINTEXT is accepted).
	TLS bool `json:"-"`
}

// OAuth1Verifier is a running OAuth 1.0a verifier.
type OAuth1Verifier struct {
	// URL is http://127.0.0.1:port (https:// with TLS). Every request to
	// it gets 200 and a JSON echo of what oauthlib parsed when its
	// signature is valid, 401 otherwise.
	URL string
	// ClientTLS trusts the verifier's certificate (TLS only).
	ClientTLS *tls.Config
}

// StartOAuth1Verifier starts testdata/peers/oauth1_verifier.py, python3-oauthlib's
// SignatureOnlyEndpoint, until the test ends.
func StartOAuth1Verifier(t testing.TB, o OAuth1Options) *OAuth1Verifier {
	t.Helper()
	py := DebianPython(t, "oauthlib", "jwt", "cryptography")
	b, _ := json.Marshal(o)
	args := []string{Script(t, "oauth1_verifier.py"), writeFile(t, "oauth1.json", b)}
	v := &OAuth1Verifier{}
	scheme := "http"
	if o.TLS {
		cert, key, clientTLS := LoopbackTLS(t)
		args = append(args, "--tls-cert", cert, "--tls-key", key)
		scheme = "https"
		v.ClientTLS = clientTLS
	}
	v.URL = scheme + "://127.0.0.1:" + Start(t, "oauth1 verifier", exec.Command(py, args...))
	return v
}

// NTLMAccount is an account of the NTLM acceptor.
type NTLMAccount struct {
	Domain, Username, Password string
}

// NTLMOptions configure the NTLM acceptor.
type NTLMOptions struct {
	// Scheme is the WWW-Authenticate scheme announced: "NTLM" (default)
	// or "Negotiate".
	Scheme   string
	Accounts []NTLMAccount
	// Computer and Domain are the NetBIOS names the acceptor announces
	// (default ERPHOST and TESTDOM).
	Computer, Domain string
}

// StartNTLMAcceptor starts testdata/peers/ntlm_acceptor.py, gss-ntlmssp
// through python3-gssapi, NTLMv2 only (LM_COMPAT_LEVEL=5), until the test
// ends, and returns its URL. Like IIS, it binds authentication to the TCP
// connection; it answers 200 and {"user": "DOMAIN\\user", "body": ...} to
// an authenticated request and 401 otherwise.
func StartNTLMAcceptor(t testing.TB, o NTLMOptions) string {
	t.Helper()
	py := DebianPython(t, "gssapi")
	probe := "import gssapi, sys; sys.exit(0 if gssapi.OID.from_int_seq('1.3.6.1.4.1.311.2.2.10') in gssapi.raw.indicate_mechs() else 1)"
	if err := exec.Command(py, "-c", probe).Run(); err != nil {
		Missing(t, "the GSSAPI NTLMSSP mechanism (Debian package gss-ntlmssp) is not installed")
	}
	if o.Scheme == "" {
		o.Scheme = "NTLM"
	}
	if o.Computer == "" {
		o.Computer = "ERPHOST"
	}
	if o.Domain == "" {
		o.Domain = "TESTDOM"
	}
	var users strings.Builder
	for _, a := range o.Accounts {
		users.WriteString(a.Domain + ":" + a.Username + ":" + a.Password + "\n")
	}
	cmd := exec.Command(py, Script(t, "ntlm_acceptor.py"), "--scheme", o.Scheme)
	cmd.Env = append(os.Environ(),
		"NTLM_USER_FILE="+writeFile(t, "ntlm-users", []byte(users.String())),
		"LM_COMPAT_LEVEL=5", // NTLMv2 only
		"NETBIOS_COMPUTER_NAME="+o.Computer,
		"NETBIOS_DOMAIN_NAME="+o.Domain,
	)
	return "http://127.0.0.1:" + Start(t, "ntlm acceptor", cmd)
}

// OAuth2Client is a client of the OAuth 2.0 authorization server. It may
// ask for the scopes read, write and offline_access, and use the
// client_credentials grant; with redirect URIs, also the authorization_code
// (response type code) and refresh_token grants.
type OAuth2Client struct {
	ID, Secret string
	// AuthMethod is the token endpoint authentication method:
	// client_secret_basic or client_secret_post.
	AuthMethod string
	// RedirectURIs are the redirect URIs the client may use, exactly. None
	// makes a client_credentials-only client.
	RedirectURIs []string
}

// OAuth2Options configure the OAuth 2.0 authorization server.
type OAuth2Options struct {
	Clients []OAuth2Client
	// AccessTokenTTL is the access tokens' lifetime in seconds (default
	// 3600).
	AccessTokenTTL int
}

// StartOAuth2Server starts testdata/peers/oauth2_server.mjs, oidc-provider
// from npm, until the test ends, and returns its issuer URL. Its endpoints:
// /auth (authorization; its interaction signs in "alice" and grants the
// requested scopes without a page), /token, /token/revocation, and
// GET /resource, a protected resource that answers 200 with the bearer
// token's client_id, account and scope, and 401 to an unknown or expired
// token. PKCE S256 is required and refresh tokens rotate on every use.
func StartOAuth2Server(t testing.TB, o OAuth2Options) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		Missing(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(Dir(t), "node_modules", "oidc-provider", "package.json")); err != nil {
		Missing(t, "oidc-provider is not installed in %s/node_modules (see .ci/run)", peersPath)
	}
	clients := make([]any, 0, len(o.Clients))
	for _, c := range o.Clients {
		grants, responses := []string{"client_credentials", "authorization_code", "refresh_token"}, []string{"code"}
		if len(c.RedirectURIs) == 0 {
			grants, responses = []string{"client_credentials"}, []string{}
		}
		clients = append(clients, map[string]any{
			"client_id": c.ID, "client_secret": c.Secret, "token_endpoint_auth_method": c.AuthMethod,
			"grant_types": grants, "redirect_uris": append([]string{}, c.RedirectURIs...), "response_types": responses,
			"scope": "read write offline_access",
		})
	}
	cfg := map[string]any{"clients": clients}
	if o.AccessTokenTTL > 0 {
		cfg["access_token_ttl"] = o.AccessTokenTTL
	}
	b, _ := json.Marshal(cfg)
	file := writeFile(t, "oauth2.json", b)
	return "http://127.0.0.1:" + Start(t, "oauth2 server", exec.Command(node, Script(t, "oauth2_server.mjs"), file))
}

// Consent drives an authorization link of the OAuth 2.0 server headlessly,
// as a user's browser would: it follows the redirects (the server's
// interaction signs alice in and grants the scopes) up to the first one to
// redirectURI, which it does not follow, and returns that redirect's
// query: code and state, or error and error_description.
func Consent(t testing.TB, link, redirectURI string) url.Values {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	var final *url.URL
	c := &http.Client{Jar: jar, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), redirectURI) {
			final = r.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if final == nil {
		t.Fatalf("authorization did not come back to the redirect URI: %d %s", resp.StatusCode, b)
	}
	return final.Query()
}
