package httpauth

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/connectors/http/httpauth/peertest"
)

// The OAuth 1.0a peer: python3-oauthlib's SignatureOnlyEndpoint
// (testdata/peers/oauth1_verifier.py). Our signer signs, oauthlib verifies.

const (
	peerConsumerKey = "sluiceConsumerKey0001"  // oauthlib wants 20–30 letters and digits
	peerToken       = "sluiceAccessToken00001" // idem
	peerConsumerSec = "consumer s\u00e9cret&=+/"
	peerTokenSecret = "token secret %20 ~!"
)

type oauth1Peer struct {
	url  string
	key  *rsa.PrivateKey
	base http.RoundTripper
}

func rsaKeyPEMs(t *testing.T) (*rsa.PrivateKey, string, string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	priv, _ := x509.MarshalPKCS8PrivateKey(key)
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	return key,
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))
}

func startOAuth1Peer(t *testing.T, tlsOn bool) (*oauth1Peer, string) {
	t.Helper()
	key, privPEM, pubPEM := rsaKeyPEMs(t)
	v := peertest.StartOAuth1Verifier(t, peertest.OAuth1Options{
		Clients: map[string]peertest.OAuth1Client{peerConsumerKey: {Secret: peerConsumerSec, RSAPublicKey: pubPEM}},
		Tokens:  map[string]peertest.OAuth1Token{peerToken: {Secret: peerTokenSecret, Client: peerConsumerKey}},
		TLS:     tlsOn,
	})
	base := &http.Transport{TLSClientConfig: v.ClientTLS}
	t.Cleanup(base.CloseIdleConnections)
	return &oauth1Peer{url: v.URL, key: key, base: base}, privPEM
}

type verdict struct {
	OK              bool       `json:"ok"`
	ClientKey       string     `json:"client_key"`
	Token           *string    `json:"token"`
	SignatureMethod string     `json:"signature_method"`
	Realm           *string    `json:"realm"`
	Params          [][]string `json:"params"`
	Body            *string    `json:"body"`
	OAuthlib        string     `json:"oauthlib"`
}

func (p *oauth1Peer) do(t *testing.T, o OAuth1, req *http.Request) (int, verdict) {
	t.Helper()
	rt, err := New(Config{Type: TypeOAuth1, OAuth1: &o}, p.base, Options{BaseURL: p.url})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: rt}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v verdict
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &v)
	return resp.StatusCode, v
}

func (v verdict) has(k, val string) bool {
	for _, p := range v.Params {
		if len(p) == 2 && p[0] == k && p[1] == val {
			return true
		}
	}
	return false
}

// TestOAuth1AgainstOAuthlib signs requests with every method oauthlib
// verifies over plain HTTP, with awkward query and form-body parameters
// (repeated names, spaces, '+', non-ASCII, a charset on the Content-Type),
// a JSON body (not part of the base string), the realm, and without a
// token (two-legged); then with a wrong secret or key, which must be
// refused.
func TestOAuth1AgainstOAuthlib(t *testing.T) {
	peer, privPEM := startOAuth1Peer(t, false)
	_, otherPEM, _ := rsaKeyPEMs(t)

	good := func(method string) OAuth1 {
		o := OAuth1{ConsumerKey: peerConsumerKey, Token: peerToken, TokenSecret: peerTokenSecret, SignatureMethod: method, Realm: "1234567_SB1"}
		if strings.HasPrefix(method, "RSA") {
			o.PrivateKey = privPEM
		} else {
			o.ConsumerSecret = peerConsumerSec
		}
		return o
	}
	requests := map[string]func() *http.Request{
		"GET with query": func() *http.Request {
			r, _ := http.NewRequest("GET", peer.url+"/services/rest/record/v1/customer?q=a+b&q=%C3%A9t%C3%A9&limit=10&empty=&x%40y=1", nil)
			return r
		},
		"POST form body": func() *http.Request {
			r, _ := http.NewRequest("POST", peer.url+"/rest/V1/orders?searchCriteria%5BpageSize%5D=5",
				strings.NewReader("status=Hello+Ladies+%2B+Gentlemen%2C+caf%C3%A9&a3=2+q&a3=a&c2"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
			return r
		},
		"POST form body without GetBody": func() *http.Request {
			r, _ := http.NewRequest("POST", peer.url+"/form", io.NopCloser(strings.NewReader("b=2&a=1&a=0")))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		},
		"PUT JSON body": func() *http.Request {
			r, _ := http.NewRequest("PUT", peer.url+"/json?id=7", strings.NewReader(`{"status":"a=b&c=d"}`))
			r.Header.Set("Content-Type", "application/json")
			return r
		},
	}
	for _, method := range []string{HMACSHA1, HMACSHA256, RSASHA1, RSASHA256} {
		for name, mk := range requests {
			t.Run(method+"/"+name, func(t *testing.T) {
				status, v := peer.do(t, good(method), mk())
				if status != 200 || !v.OK {
					t.Fatalf("oauthlib answered %d %+v", status, v)
				}
				if v.SignatureMethod != method || v.ClientKey != peerConsumerKey || v.Realm == nil || *v.Realm != "1234567_SB1" {
					t.Errorf("oauthlib saw method %q client %q realm %v", v.SignatureMethod, v.ClientKey, v.Realm)
				}
				if name == "POST form body" && (!v.has("status", "Hello Ladies + Gentlemen, caf\u00e9") || !v.has("a3", "a") || !v.has("a3", "2 q")) {
					t.Errorf("oauthlib did not see the form parameters: %v", v.Params)
				}
			})
		}
	}
	t.Run("two-legged HMAC-SHA256", func(t *testing.T) {
		o := OAuth1{ConsumerKey: peerConsumerKey, ConsumerSecret: peerConsumerSec, SignatureMethod: HMACSHA256}
		r, _ := http.NewRequest("GET", peer.url+"/two-legged", nil)
		if status, v := peer.do(t, o, r); status != 200 || v.Token != nil {
			t.Fatalf("oauthlib answered %d %+v", status, v)
		}
	})
	refused := map[string]OAuth1{
		"wrong consumer secret": func() OAuth1 { o := good(HMACSHA256); o.ConsumerSecret += "x"; return o }(),
		"wrong token secret":    func() OAuth1 { o := good(HMACSHA1); o.TokenSecret = "nope"; return o }(),
		"unknown token":         func() OAuth1 { o := good(HMACSHA1); o.Token = "unknownAccessToken00001"; return o }(),
		"wrong RSA key":         func() OAuth1 { o := good(RSASHA256); o.PrivateKey = otherPEM; return o }(),
	}
	for name, o := range refused {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", peer.url+"/x", strings.NewReader("a=1"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if status, v := peer.do(t, o, r); status != 401 {
				t.Fatalf("oauthlib answered %d %+v, want 401", status, v)
			}
		})
	}
}

// TestOAuth1PlaintextOverTLSAgainstOAuthlib checks PLAINTEXT against
// oauthlib over HTTPS (where oauthlib enforces TLS, its default), and that
// a wrong secret is refused.
func TestOAuth1PlaintextOverTLSAgainstOAuthlib(t *testing.T) {
	peer, _ := startOAuth1Peer(t, true)
	o := OAuth1{ConsumerKey: peerConsumerKey, ConsumerSecret: peerConsumerSec, Token: peerToken, TokenSecret: peerTokenSecret, SignatureMethod: Plaintext}
	r, _ := http.NewRequest("POST", peer.url+"/plain?x=1", strings.NewReader("a=1"))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, v := peer.do(t, o, r); status != 200 || v.SignatureMethod != Plaintext {
		t.Fatalf("oauthlib answered %d %+v", status, v)
	}
	o.TokenSecret = "wrong"
	r, _ = http.NewRequest("GET", peer.url+"/plain", nil)
	if status, _ := peer.do(t, o, r); status != 401 {
		t.Fatalf("oauthlib answered %d to a wrong PLAINTEXT secret, want 401", status)
	}
}
