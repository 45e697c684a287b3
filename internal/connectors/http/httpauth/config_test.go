package httpauth

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestConfigJSONRoundTrip(t *testing.T) {
	cases := map[string]string{
		"none":   `{"type":"none"}`,
		"basic":  `{"type":"basic","username":"u","password":"p"}`,
		"bearer": `{"type":"bearer","token":"abc"}`,
		"api":    `{"type":"api_key","in":"query","name":"key","api_key":"k"}`,
		"oauth1": `{"type":"oauth1","consumer_key":"ck","consumer_secret":"cs","token":"t","token_secret":"ts","signature_method":"HMAC-SHA256","realm":"123_SB1"}`,
		"oauth2": `{"type":"oauth2","grant":"client_credentials","token_url":"https://a/t","client_id":"c","client_secret":"s","scopes":["a","b"],"auth_style":"post","audience":"x","extra_params":{"resource":"r"}}`,
		"ntlm":   `{"type":"ntlm","domain":"D","username":"u","password":"p"}`,
		"dynamic": `{"type":"dynamic_token","request":{"method":"POST","path":"/login","headers":{"X-A":"1"},"body":{"user":"u"},"body_format":"form",` +
			`"auth":{"type":"basic","username":"u","password":"p"}},"token":".data.token","expires_in":".expires","header":"X-Token","prefix":""}`,
		"dynamic seconds": `{"type":"dynamic_token","request":{"url":"https://a/t"},"token":".t","expires_in":600}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			var c Config
			if err := json.Unmarshal([]byte(in), &c); err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			out, err := json.Marshal(c)
			if err != nil {
				t.Fatal(err)
			}
			var a, b any
			_ = json.Unmarshal([]byte(in), &a)
			_ = json.Unmarshal(out, &b)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("round trip\n in  %s\n out %s", in, out)
			}
		})
	}
}

func TestConfigJSONRefusesUnknownFields(t *testing.T) {
	var c Config
	err := json.Unmarshal([]byte(`{"type":"basic","username":"u","pasword":"p"}`), &c)
	if err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Fatalf("err = %v, want it to name the unknown field", err)
	}
}

func problemPaths(err error) map[string]string {
	out := map[string]string{}
	var ve *ValidationError
	if errors.As(err, &ve) {
		for _, p := range ve.Problems {
			out[p.Path] = p.Message
		}
	}
	return out
}

func TestValidateListsEveryProblem(t *testing.T) {
	str := func(s string) *string { return &s }
	cases := []struct {
		name string
		cfg  Config
		want []string // paths that must be reported
	}{
		{"unknown type", Config{Type: "kerberos"}, []string{"auth.type"}},
		{"missing settings", Config{Type: TypeBasic}, []string{"auth"}},
		{"basic", Config{Type: TypeBasic, Basic: &Basic{Username: "a:b", Password: "x\ny"}}, []string{"auth.username", "auth.password"}},
		{"basic invalid utf8", Config{Type: TypeBasic, Basic: &Basic{Username: "\xff"}}, []string{"auth.username"}},
		{"bearer", Config{Type: TypeBearer, Bearer: &Bearer{Token: "Bearer abc"}}, []string{"auth.token"}},
		{"api key", Config{Type: TypeAPIKey, APIKey: &APIKey{In: "cookie", Name: "", APIKey: ""}}, []string{"auth.in", "auth.name", "auth.api_key"}},
		{"api key header name", Config{Type: TypeAPIKey, APIKey: &APIKey{In: "header", Name: "X Key", APIKey: "k"}}, []string{"auth.name"}},
		{"oauth1 empty", Config{Type: TypeOAuth1, OAuth1: &OAuth1{}}, []string{"auth.consumer_key", "auth.signature_method"}},
		{"oauth1 hmac", Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", SignatureMethod: HMACSHA256, TokenSecret: "ts", PrivateKey: "x", Realm: `a"b`}},
			[]string{"auth.consumer_secret", "auth.token", "auth.private_key", "auth.realm"}},
		{"oauth1 rsa bad key", Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", SignatureMethod: RSASHA256, PrivateKey: "not pem"}}, []string{"auth.private_key"}},
		{"oauth1 unknown method", Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", SignatureMethod: "HMAC-MD5"}}, []string{"auth.signature_method"}},
		{"oauth2 empty", Config{Type: TypeOAuth2, OAuth2: &OAuth2{}}, []string{"auth.grant", "auth.token_url", "auth.client_id"}},
		{"oauth2 cc", Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantClientCredentials, TokenURL: "ftp://x", ClientID: "c", AuthStyle: "jwt",
			Scopes: []string{"a b"}, ExtraParams: map[string]string{"grant_type": "x"}}},
			[]string{"auth.client_secret", "auth.token_url", "auth.auth_style", "auth.scopes[0]", "auth.extra_params.grant_type"}},
		{"oauth2 refresh", Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantRefreshToken, TokenURL: "https://user:pw@x/t", ClientID: "c"}}, []string{"auth.refresh_token", "auth.token_url"}},
		{"oauth2 code", Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantAuthorizationCode, TokenURL: "https://x/t", ClientID: "c"}}, []string{"auth.auth_url"}},
		{"ntlm", Config{Type: TypeNTLM, NTLM: &NTLM{Domain: "a/b", Username: `D\u`}}, []string{"auth.domain", "auth.username", "auth.password"}},
		{"dynamic empty", Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{}}, []string{"auth.request.url", "auth.token"}},
		{"dynamic", Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{
			Request: TokenRequest{URL: "https://x/t", Path: "/t", Method: "GE T", Headers: map[string]string{"Bad Name": "v", "X-A": "a\r\nb"},
				Body: []byte(`{"a":{"b":1}}`), BodyFormat: BodyForm, Auth: &Config{Type: TypeDynamicToken}},
			Token: ".data |", ExpiresIn: ExpiresIn{Expr: "foo("}, Header: "X Token", Prefix: str("a\nb"),
		}}, []string{"auth.request.url", "auth.request.method", "auth.request.headers", "auth.request.headers.X-A",
			"auth.request.body", "auth.request.auth.type", "auth.token", "auth.expires_in", "auth.header", "auth.prefix"}},
		{"dynamic nested oauth2 refresh", Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{
			Request: TokenRequest{Path: "t", Auth: &Config{Type: TypeOAuth2, OAuth2: &OAuth2{Grant: GrantRefreshToken, TokenURL: "https://x/t", ClientID: "c", RefreshToken: "r"}}},
			Token:   ".t",
		}}, []string{"auth.request.path", "auth.request.auth.grant"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate() = %v, want a ValidationError", err)
			}
			got := problemPaths(err)
			for _, p := range tc.want {
				if _, ok := got[p]; !ok {
					t.Errorf("no problem reported at %s; got %v", p, got)
				}
			}
			for p, msg := range got {
				if !strings.Contains(msg, ":") && !strings.Contains(msg, "remove") && !strings.Contains(msg, "fix") {
					t.Errorf("%s: %q does not say how to fix it", p, msg)
				}
			}
		})
	}
}

func TestValidateNeverQuotesSecrets(t *testing.T) {
	cfg := Config{Type: TypeOAuth1, OAuth1: &OAuth1{ConsumerKey: "k", SignatureMethod: RSASHA256,
		PrivateKey: "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1tYXRlcmlhbA==\n-----END PRIVATE KEY-----"}}
	err := cfg.Validate()
	if err == nil || strings.Contains(err.Error(), "c2VjcmV0") {
		t.Fatalf("Validate() = %v: must fail without quoting the key", err)
	}
	b := Config{Type: TypeBearer, Bearer: &Bearer{Token: "sekrit value"}}
	if err := b.Validate(); err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("Validate() = %v: must fail without quoting the token", err)
	}
}

func TestJQSyntaxErrorNamesTheColumn(t *testing.T) {
	_, err := compileJQ(".data | .token[", jqTokenExample)
	if err == nil {
		t.Fatal("want a syntax error")
	}
	msg := err.Error()
	if !strings.Contains(msg, "column") || !strings.Contains(msg, "^") {
		t.Errorf("error %q should name the column and point at it", msg)
	}
	_, err = compileJQ(".a ) .b", jqTokenExample)
	if err == nil || !strings.Contains(err.Error(), "column 4") {
		t.Errorf("error %v: the stray ')' is at column 4", err)
	}
	if _, err := compileJQ("nosuchfn(.a)", jqTokenExample); err == nil || !strings.Contains(err.Error(), "nosuchfn") {
		t.Errorf("compile error %v should name the function", err)
	}
}

func TestSecretFields(t *testing.T) {
	cases := map[Type][]string{
		TypeNone:   nil,
		TypeBasic:  {"password"},
		TypeBearer: {"token"},
		TypeAPIKey: {"api_key"},
		TypeOAuth1: {"consumer_secret", "token", "token_secret", "private_key"},
		TypeOAuth2: {"client_secret", "refresh_token"},
		TypeNTLM:   {"password"},
	}
	for typ, want := range cases {
		if got := (Config{Type: typ}).SecretFields(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %v, want %v", typ, got, want)
		}
	}
	d := Config{Type: TypeDynamicToken, DynamicToken: &DynamicToken{Request: TokenRequest{Auth: &Config{Type: TypeOAuth2}}}}
	want := []string{"request.headers", "request.body", "request.auth.client_secret", "request.auth.refresh_token"}
	if got := d.SecretFields(); !reflect.DeepEqual(got, want) {
		t.Errorf("dynamic: %v, want %v", got, want)
	}
}

// TestSecretFieldsMatchTheTags keeps SecretFields and the "// secret"
// comments honest: every field named secret exists in the JSON of its type.
func TestSecretFieldsMatchTheTags(t *testing.T) {
	samples := map[Type]any{TypeBasic: Basic{}, TypeBearer: Bearer{}, TypeAPIKey: APIKey{}, TypeOAuth1: OAuth1{}, TypeOAuth2: OAuth2{}, TypeNTLM: NTLM{}}
	for typ, v := range samples {
		tags := map[string]bool{}
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
			tags[name] = true
		}
		for _, f := range (Config{Type: typ}).SecretFields() {
			if !tags[f] {
				t.Errorf("%s: secret field %q is not a field of the type", typ, f)
			}
		}
	}
}
