package httpauth

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// ErrInvalidConfig is what every *ValidationError unwraps to.
var ErrInvalidConfig = errors.New("httpauth: invalid auth configuration")

// ErrConsentRequired reports an authorization_code connection that has no
// refresh token yet: a user has to consent first (AuthCodeURL, Exchange).
var ErrConsentRequired = errors.New("httpauth: the connection has not been authorized yet: open the consent link and sign in to the other system")

// ErrTokenStoreRequired reports an OAuth 2.0 connection that may receive a
// rotated refresh token but was given no TokenStore to keep it in.
var ErrTokenStoreRequired = errors.New("httpauth: oauth2 with a refresh token needs Options.TokenStore, or a rotated refresh token would be lost")

// ErrPlaintextNeedsTLS reports an OAuth 1.0a PLAINTEXT request over plain
// HTTP: PLAINTEXT sends the secrets themselves (RFC 5849 §3.4.4).
var ErrPlaintextNeedsTLS = errors.New("httpauth: oauth1 PLAINTEXT sends the secrets as they are and is only allowed over https")

// ErrNTLMNeedsOwnTransport reports an NTLM connection whose base transport
// cannot be given a connection pool of its own. NTLM authenticates the TCP
// connection, so a pool shared with other credentials would let one
// credential ride on a connection another one authenticated.
var ErrNTLMNeedsOwnTransport = errors.New("httpauth: ntlm authenticates TCP connections and needs a transport of its own: pass an *http.Transport (it is cloned) or set Options.DedicatedTransport")

// Problem is one thing wrong with a configuration: the field, as a dotted
// path from the connection object ("auth.consumer_key"), and what is wrong
// with it and how to fix it.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ValidationError lists every problem Config.Validate found.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		lines = append(lines, p.Path+": "+p.Message)
	}
	return "invalid auth: " + strings.Join(lines, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) true.
func (e *ValidationError) Unwrap() error { return ErrInvalidConfig }

// TokenError is a token endpoint's refusal (OAuth 2.0 or dynamic token). It
// holds the status and the RFC 6749 §5.2 error code and description, never
// the raw answer, which could echo what was sent.
type TokenError struct {
	Endpoint    string // scheme://host/path, no query
	Status      int
	Code        string // RFC 6749 "error", when the answer had one
	Description string // RFC 6749 "error_description", shortened
	Hint        string // what the user can do
}

// Error says who refused, with what status and code, and what to do.
func (e *TokenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token endpoint %s answered %d", e.Endpoint, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Description != "" {
		fmt.Fprintf(&b, " (%s)", e.Description)
	}
	if e.Hint != "" {
		b.WriteString(": " + e.Hint)
	}
	return b.String()
}

// tokenHint turns an RFC 6749 §5.2 error code into advice.
func tokenHint(code string, status int) string {
	switch code {
	case "invalid_client":
		return "check client_id, client_secret and auth_style (basic or post)"
	case "invalid_grant":
		return "the refresh token or authorization code was refused (expired, revoked or already used): authorize the connection again"
	case "invalid_scope":
		return "check scopes"
	case "unauthorized_client":
		return "the client is not allowed this grant: check the grant type on the other system"
	}
	if status == 401 || status == 403 {
		return "check the credentials of the token request"
	}
	return ""
}

// shorten bounds a server-provided text that goes into an error.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// endpointString prints a URL without its query, fragment or user info:
// errors end up in logs and a query may carry a key.
func endpointString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// redactURLError replaces the URL inside a *url.Error with its query-less
// form, so an error from a token request never prints a query string.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			ue.URL = endpointString(u)
		} else {
			ue.URL = "[unparsable URL]"
		}
	}
	return err
}
