package httpauth

import (
	"crypto/rand"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dghubble/oauth1"
)

// OAuth 1.0a (RFC 5849).
//
// What comes from github.com/dghubble/oauth1: the Signer interface, the
// HMAC-SHA1, HMAC-SHA256 and RSA-SHA1 signers and RFC 3986 percent-encoding
// (oauth1.PercentEncode). What is written here, and why:
//
//   - RSA-SHA256 and PLAINTEXT, as two more oauth1.Signer implementations
//     (oauth1_methods.go): the library has neither.
//   - The signature base string and the Authorization header (this file).
//     The library's own code for them is unexported and, in v0.7.3, keeps
//     parameters in a map, so a repeated name (a=1&a=2, or a name in both
//     query and body as in RFC 5849 §3.4.1.1) loses all but one value and
//     the signature is wrong; it only reads a form body whose Content-Type
//     is exactly application/x-www-form-urlencoded (no "; charset=UTF-8",
//     which NetSuite clients send); it drops port 80 or 443 whatever the
//     scheme and splits IPv6 hosts on ':'; and its clock cannot be set, so
//     the RFC vectors cannot be reproduced through it.
//
// The base string code is checked against RFC 5849 §1.2 and §3.4.1.1 (with
// Errata ID 2550), OAuth Core 1.0 Appendix A.5 and Twitter's published
// example, and against python3-oauthlib's SignatureOnlyEndpoint.

type param struct{ k, v string }

type oauth1Signer struct {
	o      OAuth1
	signer oauth1.Signer
	now    func() time.Time
	nonce  func() string
}

func newOAuth1(o *OAuth1, base http.RoundTripper, origin *url.URL, opts Options) (http.RoundTripper, error) {
	if o.SignatureMethod == Plaintext && !strings.EqualFold(origin.Scheme, "https") {
		return nil, ErrPlaintextNeedsTLS
	}
	signer, err := oauth1SignerFor(o)
	if err != nil {
		return nil, err
	}
	s := &oauth1Signer{o: *o, signer: signer, now: opts.Now, nonce: opts.Nonce}
	if s.nonce == nil {
		// 26 characters of base32: letters and digits only, 130 bits, and
		// inside the 20–30 characters oauthlib-based servers accept.
		s.nonce = rand.Text
	}
	return &signingTransport{base: base, origin: origin, sign: s.sign}, nil
}

// sign sets the Authorization header of r (a clone the transport owns).
func (s *oauth1Signer) sign(r *http.Request) error {
	if s.o.SignatureMethod == Plaintext && !strings.EqualFold(r.URL.Scheme, "https") {
		return ErrPlaintextNeedsTLS
	}
	form, err := formParams(r)
	if err != nil {
		return err
	}
	header, err := s.authorization(r.Method, r.URL, r.Host, form, s.protocolParams())
	if err != nil {
		return err
	}
	r.Header.Set("Authorization", header)
	return nil
}

// protocolParams are the oauth_* parameters of one request, without the
// signature (RFC 5849 §3.1).
func (s *oauth1Signer) protocolParams() []param {
	p := []param{
		{"oauth_consumer_key", s.o.ConsumerKey},
		{"oauth_nonce", s.nonce()},
		{"oauth_signature_method", s.o.SignatureMethod},
		{"oauth_timestamp", strconv.FormatInt(s.now().Unix(), 10)},
	}
	if s.o.Token != "" {
		p = append(p, param{"oauth_token", s.o.Token})
	}
	return append(p, param{"oauth_version", "1.0"})
}

// authorization signs and returns the Authorization header value.
func (s *oauth1Signer) authorization(method string, u *url.URL, host string, form, proto []param) (string, error) {
	base, err := signatureBaseString(method, u, host, form, proto)
	if err != nil {
		return "", err
	}
	sig, err := s.signer.Sign(s.o.TokenSecret, base)
	if err != nil {
		return "", err
	}
	return authorizationHeader(s.o.Realm, proto, sig), nil
}

// signatureBaseString builds RFC 5849 §3.4.1: the method, the base string
// URI and the normalized parameters (query, form body and protocol
// parameters, never realm or oauth_signature), each percent-encoded and
// joined by '&'. host is the request's Host header when it differs from
// the URL's.
func signatureBaseString(method string, u *url.URL, host string, form, proto []param) (string, error) {
	query, err := parseFormEncoded(u.RawQuery)
	if err != nil {
		return "", err
	}
	all := make([]param, 0, len(query)+len(form)+len(proto))
	all = append(all, query...)
	all = append(all, form...)
	all = append(all, proto...)
	return strings.ToUpper(method) + "&" +
		oauth1.PercentEncode(baseStringURI(u, host)) + "&" +
		oauth1.PercentEncode(normalizeParams(all)), nil
}

// baseStringURI is RFC 5849 §3.4.1.2: lower-case scheme and host, the port
// only when it is not the scheme's default, and the path as sent ("/" when
// empty), without query or fragment.
func baseStringURI(u *url.URL, host string) string {
	if host == "" {
		host = u.Host
	}
	scheme := strings.ToLower(u.Scheme)
	h := &url.URL{Host: strings.ToLower(host)}
	name, port := h.Hostname(), h.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	if port != "" {
		name += ":" + port
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return scheme + "://" + name + path
}

// normalizeParams is RFC 5849 §3.4.1.3.2: encode every name and value,
// sort by name then value (byte order), join name=value pairs with '&'.
func normalizeParams(ps []param) string {
	enc := make([]param, len(ps))
	for i, p := range ps {
		enc[i] = param{oauth1.PercentEncode(p.k), oauth1.PercentEncode(p.v)}
	}
	slices.SortFunc(enc, func(a, b param) int {
		if c := strings.Compare(a.k, b.k); c != 0 {
			return c
		}
		return strings.Compare(a.v, b.v)
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k)
		b.WriteByte('=')
		b.WriteString(p.v)
	}
	return b.String()
}

// authorizationHeader is RFC 5849 §3.5.1: "OAuth", then realm (an RFC 2617
// quoted string, not percent-encoded) and the protocol parameters with the
// signature, names and values percent-encoded.
func authorizationHeader(realm string, proto []param, signature string) string {
	var b strings.Builder
	b.WriteString("OAuth ")
	if realm != "" {
		b.WriteString(`realm="` + realm + `", `)
	}
	for _, p := range append(proto, param{"oauth_signature", signature}) {
		b.WriteString(oauth1.PercentEncode(p.k) + `="` + oauth1.PercentEncode(p.v) + `", `)
	}
	return strings.TrimSuffix(b.String(), ", ")
}

// parseFormEncoded splits an application/x-www-form-urlencoded string into
// its pairs, in order and with repeats, decoding '+' as a space (RFC 5849
// §3.4.1.3.1 refers to HTML 4.0 §17.13.4). A name without '=' has an empty
// value. Unlike url.ParseQuery it keeps order and accepts ';' inside
// values.
func parseFormEncoded(s string) ([]param, error) {
	var out []param
	for pair := range strings.SplitSeq(s, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, err := url.QueryUnescape(k)
		if err != nil {
			return nil, errBadForm
		}
		dv, err := url.QueryUnescape(v)
		if err != nil {
			return nil, errBadForm
		}
		out = append(out, param{dk, dv})
	}
	return out, nil
}
