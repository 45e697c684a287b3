package httpauth

import (
	"net/http"
	"net/url"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/sluice-dev/sluice/internal/netguard"
)

// NTLM (MS-NLMP). github.com/Azure/go-ntlmssp does the protocol: NTLMv2
// only (it refuses a server that asks for v1's LM key), its Negotiator runs
// the NEGOTIATE / CHALLENGE / AUTHENTICATE exchange over HTTP and rewinds
// the body for each leg. It never falls back to Basic here
// (AllowBasicAuth stays false).
//
// Written here: the connection binding. NTLM authenticates the TCP
// connection, not the request, so a pool shared between credentials would
// let one credential's request go out on a connection another credential
// authenticated. Each NTLM signer therefore gets its own clone of the base
// *http.Transport (same dialer, so still through the egress guard) limited
// to HTTP/1.1, since HTTP/2 multiplexes requests over one connection.
//
// The Negotiator may send a request three times (anonymous, NEGOTIATE,
// AUTHENTICATE); it rewinds a seekable body and holds any other body in
// memory for that.

type ntlmTransport struct {
	private  http.RoundTripper // this credential's own pool
	origin   *url.URL
	neg      ntlmssp.Negotiator
	user     string // DOMAIN\user
	password string
}

func newNTLM(n *NTLM, base http.RoundTripper, origin *url.URL, opts Options) (http.RoundTripper, error) {
	private, err := privateTransport(base, opts.DedicatedTransport)
	if err != nil {
		return nil, err
	}
	user := n.Username
	if n.Domain != "" {
		user = n.Domain + `\` + n.Username
	}
	return &ntlmTransport{
		private:  private,
		origin:   origin,
		neg:      ntlmssp.Negotiator{RoundTripper: private},
		user:     user,
		password: n.Password,
	}, nil
}

// privateTransport returns a transport whose connections no other
// credential uses.
func privateTransport(base http.RoundTripper, dedicated bool) (http.RoundTripper, error) {
	var t *http.Transport
	switch b := base.(type) {
	case *http.Transport:
		t = b.Clone()
	case interface{ Clone() *http.Transport }:
		t = b.Clone()
	default:
		if dedicated {
			return base, nil
		}
		return nil, ErrNTLMNeedsOwnTransport
	}
	var p http.Protocols
	p.SetHTTP1(true)
	t.Protocols = &p
	t.ForceAttemptHTTP2 = false
	return t, nil
}

// RoundTrip runs the NTLM handshake when the server asks for it, on this
// credential's own connections.
func (t *ntlmTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if !netguard.SameOrigin(t.origin, req.URL) {
		return t.private.RoundTrip(req)
	}
	r := req.Clone(req.Context())
	// The Negotiator takes its credentials from a Basic header that it
	// removes before sending anything; with AllowBasicAuth false they never
	// leave as Basic.
	r.SetBasicAuth(t.user, t.password)
	return t.neg.RoundTrip(r)
}

// CloseIdleConnections closes this credential's idle connections.
func (t *ntlmTransport) CloseIdleConnections() { closeIdle(t.private) }
