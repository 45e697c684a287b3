package httpauth

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Reference vectors for OAuth 1.0a, each from a published source. The
// signer's code for the base string and header is ours (see oauth1.go), so
// these are what it is held to.

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRFC5849Section3411BaseString checks the signature base string of
// RFC 5849 §3.4.1.1 (the §3.1 request: repeated a3 in query and body, c2
// without '=', encoded '=' and '@' and spaces) byte for byte, and its
// HMAC-SHA1 signature as corrected by RFC Errata ID 2550 (the printed
// bYT5CMsGcbgUdFHObYMEfcx6bsw= is wrong; with client secret j49sk3j29djd
// and token secret dh893hdasih9 the signature is r6/TJjbCOr97/+UU0NsvSne7s5g=).
func TestRFC5849Section3411BaseString(t *testing.T) {
	u := mustURL(t, "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
	form, err := parseFormEncoded("c2&a3=2+q")
	if err != nil {
		t.Fatal(err)
	}
	proto := []param{
		{"oauth_consumer_key", "9djdj82h48djs9d2"},
		{"oauth_token", "kkk9d7dh3k39sjv7"},
		{"oauth_signature_method", "HMAC-SHA1"},
		{"oauth_timestamp", "137131201"},
		{"oauth_nonce", "7d8f3e4a"},
	}
	got, err := signatureBaseString("POST", u, "example.com", form, proto)
	if err != nil {
		t.Fatal(err)
	}
	// RFC 5849 §3.4.1.1, line breaks removed.
	want := "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q" +
		"%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_" +
		"key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m" +
		"ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk" +
		"9d7dh3k39sjv7"
	if got != want {
		t.Fatalf("base string\n got %s\nwant %s", got, want)
	}
	s := &oauth1Signer{o: OAuth1{
		ConsumerKey: "9djdj82h48djs9d2", ConsumerSecret: "j49sk3j29djd",
		Token: "kkk9d7dh3k39sjv7", TokenSecret: "dh893hdasih9",
		SignatureMethod: HMACSHA1, Realm: "Example",
	}}
	s.signer, _ = oauth1SignerFor(&s.o)
	header, err := s.authorization("POST", u, "example.com", form, proto)
	if err != nil {
		t.Fatal(err)
	}
	p := oauthParams(t, header)
	if p["oauth_signature"] != "r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D" {
		t.Errorf("signature %s, want r6/TJjbCOr97/+UU0NsvSne7s5g= (RFC 5849 §3.4.1.1 with Errata ID 2550)", p["oauth_signature"])
	}
	if !strings.HasPrefix(header, `OAuth realm="Example", `) {
		t.Errorf("header %q: realm must come first, unencoded (RFC 5849 §3.5.1)", header)
	}
}

// TestRFC5849Section12 checks the three requests of RFC 5849 §1.2 (the
// printer and photo-sharing example): temporary credentials, token
// credentials and the protected resource, HMAC-SHA1, realm "Photos".
func TestRFC5849Section12(t *testing.T) {
	cases := []struct {
		name          string
		method, url   string
		proto         []param
		tokenSecret   string
		wantSignature string
	}{
		{
			name: "temporary credentials (§1.2, POST /initiate)", method: "POST", url: "https://photos.example.net/initiate",
			proto: []param{
				{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "137131200"},
				{"oauth_nonce", "wIjqoS"},
				{"oauth_callback", "http://printer.example.com/ready"},
			},
			wantSignature: "74KNZJeDHnMBp0EMJ9ZHt/XKycU=",
		},
		{
			name: "token credentials (§1.2, POST /token)", method: "POST", url: "https://photos.example.net/token",
			proto: []param{
				{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
				{"oauth_token", "hh5s93j4hdidpola"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "137131201"},
				{"oauth_nonce", "walatlh"},
				{"oauth_verifier", "hfdp7dh39dks9884"},
			},
			tokenSecret:   "hdhd0244k9j7ao03",
			wantSignature: "gKgrFCywp7rO0OXSjdot/IHF7IU=",
		},
		{
			name: "protected resource (§1.2, GET /photos)", method: "GET", url: "http://photos.example.net/photos?file=vacation.jpg&size=original",
			proto: []param{
				{"oauth_consumer_key", "dpf43f3p2l4k3l03"},
				{"oauth_token", "nnch734d00sl2jdk"},
				{"oauth_signature_method", "HMAC-SHA1"},
				{"oauth_timestamp", "137131202"},
				{"oauth_nonce", "chapoH"},
			},
			tokenSecret:   "pfkkdhi9sl3r4s00",
			wantSignature: "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := mustURL(t, tc.url)
			base, err := signatureBaseString(tc.method, u, "", nil, tc.proto)
			if err != nil {
				t.Fatal(err)
			}
			signer, _ := oauth1SignerFor(&OAuth1{SignatureMethod: HMACSHA1, ConsumerSecret: "kd94hf93k423kf44"})
			got, err := signer.Sign(tc.tokenSecret, base)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.wantSignature {
				t.Errorf("signature %s, want %s\nbase string %s", got, tc.wantSignature, base)
			}
		})
	}
	// §1.2 also prints the resource request's base string.
	u := mustURL(t, "http://photos.example.net/photos?file=vacation.jpg&size=original")
	got, _ := signatureBaseString("GET", u, "", nil, cases[2].proto)
	want := "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26" +
		"oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3DchapoH%26" +
		"oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131202%26" +
		"oauth_token%3Dnnch734d00sl2jdk%26size%3Doriginal"
	if got != want {
		t.Errorf("§1.2 base string\n got %s\nwant %s", got, want)
	}
}

// TestRFC5849PlaintextExamples checks PLAINTEXT (RFC 5849 §3.4.4) against
// the §2.1 and §2.3 examples: "ja893SD9&" and "ja893SD9&xyz4992k83j47x0b",
// sent percent-encoded in the header.
func TestRFC5849PlaintextExamples(t *testing.T) {
	signer, _ := oauth1SignerFor(&OAuth1{SignatureMethod: Plaintext, ConsumerSecret: "ja893SD9"})
	for tokenSecret, want := range map[string]string{"": "ja893SD9&", "xyz4992k83j47x0b": "ja893SD9&xyz4992k83j47x0b"} {
		got, _ := signer.Sign(tokenSecret, "ignored")
		if got != want {
			t.Errorf("PLAINTEXT with token secret %q = %q, want %q", tokenSecret, got, want)
		}
	}
	h := authorizationHeader("Example", []param{{"oauth_consumer_key", "jd83jd92dhsh93js"}}, "ja893SD9&xyz4992k83j47x0b")
	if !strings.Contains(h, `oauth_signature="ja893SD9%26xyz4992k83j47x0b"`) {
		t.Errorf("header %s: the §2.3 example sends oauth_signature=\"ja893SD9%%26xyz4992k83j47x0b\"", h)
	}
}

// TestOAuthCore10AppendixA5 signs OAuth Core 1.0 Appendix A.5 (GET
// photos.example.net/photos, nonce kllo9940pd9333jh, timestamp
// 1191242096, oauth_version 1.0) through the whole transport, with the
// nonce and clock injected. A.5.1 gives the base string, A.5.2 the
// HMAC-SHA1 signature tR3+Ty81lMeYAr/Fid0kMTYa/WM=.
func TestOAuthCore10AppendixA5(t *testing.T) {
	rec := &recorder{}
	rt := mustNew(t, Config{Type: TypeOAuth1, OAuth1: &OAuth1{
		ConsumerKey: "dpf43f3p2l4k3l03", ConsumerSecret: "kd94hf93k423kf44",
		Token: "nnch734d00sl2jdk", TokenSecret: "pfkkdhi9sl3r4s00",
		SignatureMethod: HMACSHA1, Realm: "http://photos.example.net/",
	}}, rec, Options{
		BaseURL: "http://photos.example.net",
		Now:     func() time.Time { return time.Unix(1191242096, 0) },
		Nonce:   func() string { return "kllo9940pd9333jh" },
	})
	req, _ := http.NewRequest("GET", "http://photos.example.net/photos?file=vacation.jpg&size=original", nil)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	sent, _ := rec.last(t)
	p := oauthParams(t, sent.Header.Get("Authorization"))
	if got := p["oauth_signature"]; got != "tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D" {
		t.Errorf("signature %s, want tR3+Ty81lMeYAr/Fid0kMTYa/WM= (OAuth Core 1.0 A.5.2)", got)
	}
	if p["oauth_version"] != "1.0" || p["oauth_nonce"] != "kllo9940pd9333jh" || p["oauth_timestamp"] != "1191242096" {
		t.Errorf("protocol parameters %v", p)
	}
	if req.Header.Get("Authorization") != "" {
		t.Error("the caller's request was changed")
	}
}

// TestTwitterSignatureExample signs the example of Twitter's developer
// documentation, "Creating a signature" (POST statuses/update.json with
// include_entities=true in the query and a form-encoded status in the body;
// signature tnnArxj06cWHq44gCs1OSKk/jLY=), through the whole transport: the
// form body must be in the base string and still be sent unchanged. (The
// brief for this work attributed this value to OAuth Core 1.0 A.5; it is
// Twitter's. A.5's own vector is tested above.)
func TestTwitterSignatureExample(t *testing.T) {
	rec := &recorder{}
	rt := mustNew(t, Config{Type: TypeOAuth1, OAuth1: &OAuth1{
		ConsumerKey: "xvz1evFS4wEEPTGEFPHBog", ConsumerSecret: "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
		Token: "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb", TokenSecret: "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
		SignatureMethod: HMACSHA1,
	}}, rec, Options{
		BaseURL: "https://api.twitter.com",
		Now:     func() time.Time { return time.Unix(1318622958, 0) },
		Nonce:   func() string { return "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg" },
	})
	body := "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21"
	req, _ := http.NewRequest("POST", "https://api.twitter.com/1/statuses/update.json?include_entities=true", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=UTF-8")
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	sent, sentBody := rec.last(t)
	p := oauthParams(t, sent.Header.Get("Authorization"))
	if got := p["oauth_signature"]; got != "tnnArxj06cWHq44gCs1OSKk%2FjLY%3D" {
		t.Errorf("signature %s, want tnnArxj06cWHq44gCs1OSKk/jLY=", got)
	}
	if sentBody != body {
		t.Errorf("body sent %q, want it unchanged", sentBody)
	}
}
