package netguard

import (
	"crypto/tls"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// MaxRedirects is how many redirects an HTTP client built on the egress
// guard follows before giving up.
const MaxRedirects = 10

// alwaysSensitive are the headers that carry credentials whatever the
// connection: they never follow a redirect to another origin.
var alwaysSensitive = []string{"Authorization", "Proxy-Authorization", "Cookie"}

func sensitiveHeaders(extra []string) []string {
	out := append([]string(nil), alwaysSensitive...)
	for _, h := range extra {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, http.CanonicalHeaderKey(h))
		}
	}
	return out
}

// Transport returns an *http.Transport that dials through the policy and
// uses tlsConfig (cloned; nil means TLS 1.2 or later with the system roots,
// see ClientTLSConfig). It never uses a proxy: HTTP_PROXY and friends
// would carry requests past the guard, to a destination the proxy resolves.
// Callers must not set Proxy, DialTLSContext or DialContext afterwards.
//
// Timeouts: 10 s to connect, 10 s for the TLS handshake, 2 min for response
// headers (slow ERP reports), 90 s before an idle connection is closed. The
// whole exchange is bounded by the request's context or http.Client.Timeout.
func (p *EgressPolicy) Transport(tlsConfig *tls.Config) *http.Transport {
	if tlsConfig == nil {
		tlsConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	} else {
		tlsConfig = tlsConfig.Clone()
	}
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.DialContext,
		TLSClientConfig:        tlsConfig,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  2 * time.Minute,
		ExpectContinueTimeout:  1 * time.Second,
		IdleConnTimeout:        90 * time.Second,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    10,
		MaxResponseHeaderBytes: 1 << 20,
	}
}

// HTTPClient returns an *http.Client with Transport(tlsConfig), CheckRedirect
// and the given overall timeout (0 means none; then bound each request with
// its context). It has no cookie jar.
func (p *EgressPolicy) HTTPClient(tlsConfig *tls.Config, timeout time.Duration) *http.Client {
	return &http.Client{
		Transport:     p.Transport(tlsConfig),
		CheckRedirect: p.CheckRedirect,
		Timeout:       timeout,
	}
}

// CheckRedirect is an http.Client CheckRedirect function. Before a redirect
// is followed it:
//
//   - stops after MaxRedirects redirects;
//   - refuses schemes other than http and https, and any step from https
//     down to http, so a response cannot push credentials or data into
//     clear text;
//   - checks the target host against the policy, so a redirect to a refused
//     address fails with a clear error before anything is sent (the dial
//     would be refused anyway);
//   - once the chain has left the origin (scheme, host and port) of the
//     first request, removes Authorization, Proxy-Authorization, Cookie,
//     Referer (it may carry an API key in its query) and the registered
//     SensitiveHeaders, and refuses to resend a request body, which may hold
//     a client secret.
//
// net/http drops some of those headers by itself, but keeps them for
// another port on the same host or for a subdomain; this does not rely on
// it. Headers added by a RoundTripper below the client, such as an auth
// signer, are not seen here: signers must check SameOrigin themselves.
func (p *EgressPolicy) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) == 0 {
		return nil
	}
	if len(via) >= MaxRedirects {
		return fmt.Errorf("egress: stopped after %d redirects", MaxRedirects)
	}
	target := originString(req.URL)
	scheme := strings.ToLower(req.URL.Scheme)
	if scheme != "http" && scheme != "https" {
		return fmt.Errorf("egress: redirect to %s refused: only http and https are followed", target)
	}
	if scheme == "http" {
		for _, v := range via {
			if strings.EqualFold(v.URL.Scheme, "https") {
				return fmt.Errorf("egress: redirect from %s to %s refused: it downgrades HTTPS to plain HTTP", originString(v.URL), target)
			}
		}
	}
	if _, err := p.Resolve(req.Context(), "tcp", req.URL.Hostname()); err != nil {
		return fmt.Errorf("egress: redirect to %s refused: %w", target, err)
	}
	left := !SameOrigin(via[0].URL, req.URL)
	for _, v := range via[1:] {
		left = left || !SameOrigin(via[0].URL, v.URL)
	}
	if left {
		if req.GetBody != nil || (req.Body != nil && req.Body != http.NoBody) {
			return fmt.Errorf("egress: redirect from %s to %s refused: it would resend the %s body to another origin", originString(via[0].URL), target, req.Method)
		}
		for _, h := range p.sensitive {
			req.Header.Del(h)
		}
		req.Header.Del("Referer")
	}
	return nil
}

// SameOrigin reports whether a and b share scheme, host and port (the
// scheme's default port when none is written): the test for whether
// credentials meant for a may be sent to b. Auth signers in a RoundTripper
// stack must apply it to every request, since they also see redirects.
func SameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) &&
		strings.EqualFold(strings.TrimSuffix(a.Hostname(), "."), strings.TrimSuffix(b.Hostname(), ".")) &&
		effectivePort(a) == effectivePort(b)
}

func effectivePort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

// originString prints scheme://host[:port] only: paths and queries may hold
// tokens or API keys, and errors end up in logs.
func originString(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
}
