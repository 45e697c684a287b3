package httpauth

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// Type names an outbound authentication scheme: the "type" of a
// connection's "auth" object (DESIGN §6).
type Type string

// The schemes. The empty Type means TypeNone.
const (
	TypeNone         Type = "none"
	TypeBasic        Type = "basic"
	TypeBearer       Type = "bearer"
	TypeAPIKey       Type = "api_key"
	TypeOAuth1       Type = "oauth1"
	TypeOAuth2       Type = "oauth2"
	TypeNTLM         Type = "ntlm"
	TypeDynamicToken Type = "dynamic_token"
)

// Types lists every scheme in the order the console offers them.
func Types() []Type {
	return []Type{TypeNone, TypeBasic, TypeBearer, TypeAPIKey, TypeOAuth1, TypeOAuth2, TypeNTLM, TypeDynamicToken}
}

// Config is a connection's "auth" object. Type selects the scheme and the
// one matching field holds its settings; the others stay nil. In JSON it is
// one flat object, as DESIGN §6 writes it:
//
//	{"type": "basic", "username": "u", "password": "p"}
//
// Secret fields (see SecretFields) are plain strings here; the connection
// layer decrypts them from the connection's secrets before calling New.
type Config struct {
	Type         Type
	Basic        *Basic
	Bearer       *Bearer
	APIKey       *APIKey
	OAuth1       *OAuth1
	OAuth2       *OAuth2
	NTLM         *NTLM
	DynamicToken *DynamicToken
}

// Basic is HTTP Basic authentication (RFC 7617) with the UTF-8 charset.
type Basic struct {
	Username string `json:"username"`
	Password string `json:"password"` // secret
}

// Bearer sends a fixed bearer token (RFC 6750 §2.1).
type Bearer struct {
	Token string `json:"token"` // secret
}

// Where an API key goes.
const (
	InHeader = "header"
	InQuery  = "query"
)

// APIKey sends a fixed key in a header or a query parameter.
type APIKey struct {
	In     string `json:"in"`      // "header" or "query"
	Name   string `json:"name"`    // header or parameter name
	APIKey string `json:"api_key"` // secret
}

// OAuth 1.0a signature methods.
const (
	HMACSHA1   = "HMAC-SHA1"
	HMACSHA256 = "HMAC-SHA256"
	RSASHA1    = "RSA-SHA1"
	RSASHA256  = "RSA-SHA256"
	Plaintext  = "PLAINTEXT"
)

// OAuth1 signs every request with OAuth 1.0a (RFC 5849) token credentials.
// Token and TokenSecret may both be empty for two-legged (consumer-only)
// APIs.
type OAuth1 struct {
	ConsumerKey     string `json:"consumer_key"`
	ConsumerSecret  string `json:"consumer_secret"` // secret
	Token           string `json:"token"`           // secret
	TokenSecret     string `json:"token_secret"`    // secret
	SignatureMethod string `json:"signature_method"`
	PrivateKey      string `json:"private_key,omitempty"` // secret; PEM, RSA-* only
	Realm           string `json:"realm,omitempty"`       // NetSuite: the account ID
}

// OAuth 2.0 grants.
const (
	GrantClientCredentials = "client_credentials"
	GrantRefreshToken      = "refresh_token"
	GrantAuthorizationCode = "authorization_code"
)

// OAuth 2.0 client authentication styles (RFC 6749 §2.3.1).
const (
	AuthStyleBasic = "basic" // client_secret_basic: HTTP Basic, form-encoded id and secret
	AuthStylePost  = "post"  // client_secret_post: client_id and client_secret in the body
)

// OAuth2 gets access tokens from an OAuth 2.0 token endpoint (RFC 6749).
//
// With GrantAuthorizationCode a user consents once (AuthCodeURL, then
// Exchange); the refresh token that Exchange returns is stored as
// RefreshToken and from then on the connection behaves like
// GrantRefreshToken.
type OAuth2 struct {
	Grant        string            `json:"grant"`
	TokenURL     string            `json:"token_url"`
	ClientID     string            `json:"client_id"`
	ClientSecret string            `json:"client_secret"` // secret
	Scopes       []string          `json:"scopes,omitempty"`
	AuthURL      string            `json:"auth_url,omitempty"`      // authorization_code
	RefreshToken string            `json:"refresh_token,omitempty"` // secret
	AuthStyle    string            `json:"auth_style,omitempty"`    // "basic" (default) or "post"
	Audience     string            `json:"audience,omitempty"`      // sent as "audience" (Auth0 and others)
	ExtraParams  map[string]string `json:"extra_params,omitempty"`  // more token (and authorization) request parameters
}

// NTLM authenticates with NTLMv2 (MS-NLMP) as DOMAIN\username.
type NTLM struct {
	Domain   string `json:"domain"`
	Username string `json:"username"`
	Password string `json:"password"` // secret
}

// Token request body formats.
const (
	BodyJSON = "json"
	BodyForm = "form"
)

// DynamicToken calls a token endpoint, picks the token out of its JSON
// answer with the jq expression Token, caches it for ExpiresIn (less a
// margin) and sends it as Header: Prefix + token.
type DynamicToken struct {
	Request   TokenRequest `json:"request"`
	Token     string       `json:"token"`               // jq, e.g. ".access_token"
	ExpiresIn ExpiresIn    `json:"expires_in,omitzero"` // jq or seconds; default 5 minutes
	Header    string       `json:"header,omitempty"`    // default "Authorization"
	Prefix    *string      `json:"prefix,omitempty"`    // default "Bearer "; "" sends the bare token
}

// TokenRequest is the request a DynamicToken sends to get a token. Give URL
// (absolute) or Path (resolved against the connection's base URL).
type TokenRequest struct {
	Method     string            `json:"method,omitempty"` // default POST
	URL        string            `json:"url,omitempty"`
	Path       string            `json:"path,omitempty"`
	Headers    map[string]string `json:"headers,omitempty"`     // secret (they may carry credentials)
	Body       json.RawMessage   `json:"body,omitempty"`        // secret; a JSON value
	BodyFormat string            `json:"body_format,omitempty"` // "json" (default) or "form" (Body must be a flat object)
	Auth       *Config           `json:"auth,omitempty"`        // authentication of the token request itself
}

// ExpiresIn is how long a dynamic token lives: a jq expression evaluated on
// the token endpoint's answer (giving seconds), or fixed seconds. In JSON it
// is a string (the expression) or a number (seconds).
type ExpiresIn struct {
	Seconds int64
	Expr    string
}

// IsZero reports whether neither is set (the default lifetime applies).
func (e ExpiresIn) IsZero() bool { return e.Seconds == 0 && e.Expr == "" }

// MarshalJSON writes the expression as a string or the seconds as a number.
func (e ExpiresIn) MarshalJSON() ([]byte, error) {
	switch {
	case e.Expr != "":
		return json.Marshal(e.Expr)
	case e.Seconds != 0:
		return []byte(strconv.FormatInt(e.Seconds, 10)), nil
	}
	return []byte("null"), nil
}

// UnmarshalJSON reads a string (jq expression) or a number (seconds).
func (e *ExpiresIn) UnmarshalJSON(b []byte) error {
	*e = ExpiresIn{}
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case len(b) > 0 && b[0] == '"':
		return json.Unmarshal(b, &e.Expr)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("expires_in: want a jq expression (string) or whole seconds (number), got %s", b)
	}
	e.Seconds = n
	return nil
}

// MarshalJSON writes the flat DESIGN §6 shape: "type" and the fields of the
// selected scheme.
func (c Config) MarshalJSON() ([]byte, error) {
	var fields any
	switch c.normalizedType() {
	case TypeNone:
		return json.Marshal(struct {
			Type Type `json:"type"`
		}{TypeNone})
	case TypeBasic:
		fields = c.Basic
	case TypeBearer:
		fields = c.Bearer
	case TypeAPIKey:
		fields = c.APIKey
	case TypeOAuth1:
		fields = c.OAuth1
	case TypeOAuth2:
		fields = c.OAuth2
	case TypeNTLM:
		fields = c.NTLM
	case TypeDynamicToken:
		fields = c.DynamicToken
	default:
		return nil, fmt.Errorf("httpauth: unknown auth type %q", c.Type)
	}
	inner, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	head, _ := json.Marshal(struct {
		Type Type `json:"type"`
	}{c.Type})
	if bytes.Equal(inner, []byte("null")) || bytes.Equal(inner, []byte("{}")) {
		return head, nil
	}
	// {"type":"x"} + {"a":1} → {"type":"x","a":1}
	out := append(head[:len(head)-1:len(head)-1], ',')
	return append(out, inner[1:]...), nil
}

// UnmarshalJSON reads the flat DESIGN §6 shape. A field that the selected
// type does not have is an error that names it, so a typo is not silently
// ignored.
func (c *Config) UnmarshalJSON(b []byte) error {
	var head struct {
		Type Type `json:"type"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	*c = Config{Type: head.Type}
	var target any
	switch c.normalizedType() {
	case TypeNone:
		target = &struct{}{}
	case TypeBasic:
		c.Basic = new(Basic)
		target = c.Basic
	case TypeBearer:
		c.Bearer = new(Bearer)
		target = c.Bearer
	case TypeAPIKey:
		c.APIKey = new(APIKey)
		target = c.APIKey
	case TypeOAuth1:
		c.OAuth1 = new(OAuth1)
		target = c.OAuth1
	case TypeOAuth2:
		c.OAuth2 = new(OAuth2)
		target = c.OAuth2
	case TypeNTLM:
		c.NTLM = new(NTLM)
		target = c.NTLM
	case TypeDynamicToken:
		c.DynamicToken = new(DynamicToken)
		target = c.DynamicToken
	default:
		// Keep the type; Validate explains what the choices are.
		return nil
	}
	return decodeStrict(b, target, c.Type)
}

// decodeStrict decodes b into target, ignoring "type" and refusing any
// other field target does not have.
func decodeStrict(b []byte, target any, t Type) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	delete(raw, "type")
	rest, _ := json.Marshal(raw)
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(target); err != nil {
		return fmt.Errorf("auth (type %s): %w", t, err)
	}
	return nil
}

func (c Config) normalizedType() Type {
	if c.Type == "" {
		return TypeNone
	}
	return c.Type
}
