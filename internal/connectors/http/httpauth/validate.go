package httpauth

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"unicode/utf8"
)

// Validate checks the configuration without any I/O and returns a
// *ValidationError listing every problem, each with its field path
// ("auth.consumer_key") and how to fix it, or nil. It parses RSA keys and
// compiles jq expressions, so New will not fail on them later.
func (c Config) Validate() error {
	var p problems
	c.validate(&p, "auth", false)
	if len(p.list) == 0 {
		return nil
	}
	return &ValidationError{Problems: p.list}
}

// SecretFields names the fields of this configuration that are secret,
// as dotted paths inside the "auth" object ("password",
// "request.auth.client_secret"). They are stored encrypted and never shown
// again; everything else is a plain setting.
//
// A dynamic token's request headers and body count as secret as a whole:
// they usually carry the credentials the token endpoint wants.
func (c Config) SecretFields() []string {
	switch c.normalizedType() {
	case TypeBasic, TypeNTLM:
		return []string{"password"}
	case TypeBearer:
		return []string{"token"}
	case TypeAPIKey:
		return []string{"api_key"}
	case TypeOAuth1:
		return []string{"consumer_secret", "token", "token_secret", "private_key"}
	case TypeOAuth2:
		return []string{"client_secret", "refresh_token"}
	case TypeDynamicToken:
		out := []string{"request.headers", "request.body"}
		if c.DynamicToken != nil && c.DynamicToken.Request.Auth != nil {
			for _, f := range c.DynamicToken.Request.Auth.SecretFields() {
				out = append(out, "request.auth."+f)
			}
		}
		return out
	}
	return nil
}

type problems struct{ list []Problem }

func (p *problems) add(path, format string, args ...any) {
	p.list = append(p.list, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// validate checks c under the field path at. nested is true for a dynamic
// token's own request auth, which may not be a dynamic token again.
func (c Config) validate(p *problems, at string, nested bool) {
	missing := func(kind string) {
		p.add(at, "type %s needs its settings: add the %s fields", c.Type, kind)
	}
	switch c.normalizedType() {
	case TypeNone:
	case TypeBasic:
		if c.Basic == nil {
			missing("basic")
			return
		}
		validateBasic(p, at, c.Basic)
	case TypeBearer:
		if c.Bearer == nil {
			missing("bearer")
			return
		}
		validateBearer(p, at, c.Bearer)
	case TypeAPIKey:
		if c.APIKey == nil {
			missing("api_key")
			return
		}
		validateAPIKey(p, at, c.APIKey)
	case TypeOAuth1:
		if c.OAuth1 == nil {
			missing("oauth1")
			return
		}
		validateOAuth1(p, at, c.OAuth1)
	case TypeOAuth2:
		if c.OAuth2 == nil {
			missing("oauth2")
			return
		}
		validateOAuth2(p, at, c.OAuth2)
		if nested && c.OAuth2.Grant != GrantClientCredentials && c.OAuth2.Grant != "" {
			p.add(at+".grant", "a dynamic token's own request can use oauth2 with grant client_credentials only: a rotated refresh token would have nowhere to be stored")
		}
	case TypeNTLM:
		if c.NTLM == nil {
			missing("ntlm")
			return
		}
		validateNTLM(p, at, c.NTLM)
	case TypeDynamicToken:
		if nested {
			p.add(at+".type", "a dynamic token's own request cannot use dynamic_token again: choose basic, bearer, api_key, oauth1, oauth2 or ntlm")
			return
		}
		if c.DynamicToken == nil {
			missing("dynamic_token")
			return
		}
		validateDynamic(p, at, c.DynamicToken)
	default:
		p.add(at+".type", "unknown type %q: choose one of %s", c.Type, typeList())
	}
}

func typeList() string {
	types := Types()
	names := make([]string, len(types))
	for i, t := range types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

func validateBasic(p *problems, at string, b *Basic) {
	switch {
	case b.Username == "":
		p.add(at+".username", "is empty: enter the user name (for APIs that take a key as the user name, enter the key here)")
	case strings.Contains(b.Username, ":"):
		p.add(at+".username", "contains ':', which Basic authentication cannot carry in a user name (RFC 7617 §2): ask the other system for a user name without it")
	}
	checkText(p, at+".username", b.Username, "user name")
	checkText(p, at+".password", b.Password, "password")
}

func validateBearer(p *problems, at string, b *Bearer) {
	switch {
	case b.Token == "":
		p.add(at+".token", "is empty: paste the token")
	case !isB64Token(b.Token):
		p.add(at+".token", "has characters a bearer token cannot have (RFC 6750 §2.1 allows letters, digits and -._~+/ with trailing =): check for spaces or a pasted \"Bearer \" prefix; if the API really wants such a value, use type api_key with name Authorization")
	}
}

func validateAPIKey(p *problems, at string, k *APIKey) {
	switch k.In {
	case InHeader:
		if k.Name != "" && !isToken(k.Name) {
			p.add(at+".name", "%q is not a valid header name: use letters, digits and - only (for example X-Api-Key)", k.Name)
		}
	case InQuery:
	case "":
		p.add(at+".in", "is empty: choose header or query")
	default:
		p.add(at+".in", "unknown place %q: choose header or query", k.In)
	}
	if k.Name == "" {
		p.add(at+".name", "is empty: enter the header or query parameter name the API expects (for example X-Api-Key or api_key)")
	}
	if k.APIKey == "" {
		p.add(at+".api_key", "is empty: paste the API key")
	} else {
		checkText(p, at+".api_key", k.APIKey, "API key")
	}
}

func validateOAuth1(p *problems, at string, o *OAuth1) {
	if o.ConsumerKey == "" {
		p.add(at+".consumer_key", "is empty: copy the consumer key (client key) from the other system")
	}
	checkText(p, at+".consumer_key", o.ConsumerKey, "consumer key")
	rsa := false
	switch o.SignatureMethod {
	case HMACSHA1, HMACSHA256, Plaintext:
		if o.ConsumerSecret == "" {
			p.add(at+".consumer_secret", "is empty: %s signs with the consumer secret; copy it from the other system", o.SignatureMethod)
		}
	case RSASHA1, RSASHA256:
		rsa = true
	case "":
		p.add(at+".signature_method", "is empty: choose %s (NetSuite and Magento use HMAC-SHA256)", strings.Join(oauth1Methods, ", "))
	default:
		p.add(at+".signature_method", "unknown method %q: choose %s", o.SignatureMethod, strings.Join(oauth1Methods, ", "))
	}
	if o.Token == "" && o.TokenSecret != "" {
		p.add(at+".token", "is empty but token_secret is set: enter the token (access token) that goes with the secret")
	}
	if o.Token != "" && o.TokenSecret == "" && !rsa {
		p.add(at+".token_secret", "is empty but token is set: enter the token secret that goes with the token")
	}
	if rsa {
		if o.PrivateKey == "" {
			p.add(at+".private_key", "is empty: %s needs the RSA private key, in PEM form (-----BEGIN PRIVATE KEY-----)", o.SignatureMethod)
		} else if _, err := parseRSAPrivateKey(o.PrivateKey); err != nil {
			p.add(at+".private_key", "%v", err)
		}
	} else if o.PrivateKey != "" && o.SignatureMethod != "" {
		p.add(at+".private_key", "is set, but %s does not use it: remove it, or choose RSA-SHA256", o.SignatureMethod)
	}
	if o.Realm != "" && (strings.ContainsAny(o.Realm, "\"\\") || hasCTL(o.Realm)) {
		p.add(at+".realm", "contains a quote, backslash or control character: enter the realm (NetSuite: the account ID, such as 1234567_SB1) as it is")
	}
	for _, f := range []struct{ path, v, what string }{
		{".consumer_secret", o.ConsumerSecret, "consumer secret"},
		{".token", o.Token, "token"},
		{".token_secret", o.TokenSecret, "token secret"},
	} {
		checkText(p, at+f.path, f.v, f.what)
	}
}

var oauth1Methods = []string{HMACSHA1, HMACSHA256, RSASHA1, RSASHA256, Plaintext}

// reservedOAuth2Params are set by the grant itself and cannot be overridden
// through extra_params.
var reservedOAuth2Params = []string{
	"grant_type", "client_id", "client_secret", "scope", "code", "code_verifier",
	"code_challenge", "code_challenge_method", "redirect_uri", "refresh_token", "state", "response_type",
}

func validateOAuth2(p *problems, at string, o *OAuth2) {
	switch o.Grant {
	case GrantClientCredentials:
		if o.ClientSecret == "" {
			p.add(at+".client_secret", "is empty: client_credentials authenticates with the client secret; copy it from the other system")
		}
	case GrantRefreshToken:
		if o.RefreshToken == "" {
			p.add(at+".refresh_token", "is empty: paste the refresh token, or use grant authorization_code to get one by consenting")
		}
	case GrantAuthorizationCode:
		checkHTTPURL(p, at+".auth_url", o.AuthURL, "the authorization endpoint (where a user signs in and consents)")
	case "":
		p.add(at+".grant", "is empty: choose client_credentials, refresh_token or authorization_code")
	default:
		p.add(at+".grant", "unknown grant %q: choose client_credentials, refresh_token or authorization_code", o.Grant)
	}
	checkHTTPURL(p, at+".token_url", o.TokenURL, "the token endpoint")
	if o.ClientID == "" {
		p.add(at+".client_id", "is empty: copy the client ID from the application registered on the other system")
	}
	switch o.AuthStyle {
	case "", AuthStyleBasic, AuthStylePost:
	default:
		p.add(at+".auth_style", "unknown style %q: choose basic (client_secret_basic, the default) or post (client_secret_post)", o.AuthStyle)
	}
	for i, s := range o.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\"\\") || hasCTL(s) {
			p.add(fmt.Sprintf("%s.scopes[%d]", at, i), "%q is not one scope: give each scope as its own list item, without spaces or quotes", s)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(o.ExtraParams)) {
		if slices.Contains(reservedOAuth2Params, k) {
			p.add(at+".extra_params."+k, "is set by the grant itself and cannot be overridden: remove it")
		}
	}
	checkText(p, at+".client_id", o.ClientID, "client ID")
}

func validateNTLM(p *problems, at string, n *NTLM) {
	switch {
	case n.Username == "":
		p.add(at+".username", "is empty: enter the Windows user name (without the domain; put that in domain)")
	case strings.Contains(n.Username, ":"):
		p.add(at+".username", "contains ':', which a Windows user name cannot have: check it")
	case n.Domain != "" && strings.Contains(n.Username, `\`):
		p.add(at+".username", `contains '\' and domain is set too: put the domain in domain and only the user name here`)
	}
	if strings.ContainsAny(n.Domain, `\/:@`) {
		p.add(at+".domain", `contains \, /, : or @: enter the NetBIOS or DNS domain name only (for example CONTOSO)`)
	}
	if n.Password == "" {
		p.add(at+".password", "is empty: enter the password")
	}
	checkText(p, at+".username", n.Username, "user name")
	checkText(p, at+".domain", n.Domain, "domain")
}

func validateDynamic(p *problems, at string, d *DynamicToken) {
	r := &d.Request
	rat := at + ".request"
	switch {
	case r.URL != "" && r.Path != "":
		p.add(rat+".url", "and path are both set: give the full url, or a path on the connection's base URL, not both")
	case r.URL != "":
		checkHTTPURL(p, rat+".url", r.URL, "the token endpoint")
	case r.Path != "":
		if !strings.HasPrefix(r.Path, "/") {
			p.add(rat+".path", "%q does not start with /: write it as a path on the base URL, such as /oauth/token", r.Path)
		} else if _, err := url.Parse(r.Path); err != nil {
			p.add(rat+".path", "is not a valid path: %v", err)
		}
	default:
		p.add(rat+".url", "is empty: give the token endpoint's url, or its path on the connection's base URL")
	}
	if r.Method != "" && !isToken(r.Method) {
		p.add(rat+".method", "%q is not an HTTP method: use POST or GET", r.Method)
	}
	for _, k := range slices.Sorted(maps.Keys(r.Headers)) {
		if !isToken(k) {
			p.add(rat+".headers", "%q is not a valid header name: use letters, digits and - only", k)
		}
		if hasCTL(r.Headers[k]) {
			p.add(rat+".headers."+k, "contains a control character or line break: remove it")
		}
	}
	switch r.BodyFormat {
	case "", BodyJSON:
		if len(r.Body) > 0 && !json.Valid(r.Body) {
			p.add(rat+".body", "is not valid JSON: check quotes and commas")
		}
	case BodyForm:
		if len(r.Body) > 0 {
			if _, err := formBody(r.Body); err != nil {
				p.add(rat+".body", "%v", err)
			}
		}
	default:
		p.add(rat+".body_format", "unknown format %q: choose json or form", r.BodyFormat)
	}
	if r.Auth != nil {
		r.Auth.validate(p, rat+".auth", true)
	}
	if d.Token == "" {
		p.add(at+".token", "is empty: write a jq expression that picks the token out of the answer, such as .access_token")
	} else if _, err := compileJQ(d.Token, jqTokenExample); err != nil {
		p.add(at+".token", "%v", err)
	}
	switch {
	case d.ExpiresIn.Expr != "":
		if _, err := compileJQ(d.ExpiresIn.Expr, jqExpiresExample); err != nil {
			p.add(at+".expires_in", "%v", err)
		}
	case d.ExpiresIn.Seconds < 0:
		p.add(at+".expires_in", "is negative: give the token's lifetime in seconds, or a jq expression such as .expires_in")
	}
	if d.Header != "" && !isToken(d.Header) {
		p.add(at+".header", "%q is not a valid header name: use letters, digits and - only (default Authorization)", d.Header)
	}
	if d.Prefix != nil && hasCTL(*d.Prefix) {
		p.add(at+".prefix", "contains a control character or line break: remove it")
	}
}

// checkText refuses what cannot travel in a header or is not UTF-8.
func checkText(p *problems, path, v, what string) {
	if !utf8.ValidString(v) {
		p.add(path, "is not valid UTF-8 text: paste the %s again", what)
	} else if hasCTL(v) {
		p.add(path, "contains a control character or line break: paste the %s again without it", what)
	}
}

func checkHTTPURL(p *problems, path, raw, what string) {
	if raw == "" {
		p.add(path, "is empty: enter the URL of %s", what)
		return
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.add(path, "%q is not an absolute http or https URL: enter the full URL of %s, such as https://login.example.com/oauth/token", raw, what)
		return
	}
	if u.User != nil {
		p.add(path, "carries a user name or password: remove it from the URL and use the credential fields")
	}
}

// isToken reports whether s is an RFC 9110 §5.6.2 token (header names,
// methods).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isB64Token reports whether s matches RFC 6750 §2.1:
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~+/", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// hasCTL reports ASCII control characters (and DEL), which would end or
// corrupt a header line.
func hasCTL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}
