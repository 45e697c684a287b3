package consumer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sluice-dev/sluice/internal/store"
	"github.com/sluice-dev/sluice/internal/store/storetest"
)

func b64std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func bearer(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }

func pemOf(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func jwkKey(t *testing.T, js string) crypto.PublicKey {
	t.Helper()
	var k jwk
	if err := json.Unmarshal([]byte(js), &k); err != nil {
		t.Fatal(err)
	}
	pk, err := k.publicKey()
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// RFC 7515 appendix A: the payload of A.1–A.5 ({"iss":"joe","exp":1300819380,...}).
const (
	rfcPayload  = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
	rfcA1Key    = "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"
	rfcA1Token  = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9." + rfcPayload + ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcA2N      = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"
	rfcA2Token  = "eyJhbGciOiJSUzI1NiJ9." + rfcPayload + ".cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"
	rfcA3X      = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"
	rfcA3Y      = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
	rfcA3Token  = "eyJhbGciOiJFUzI1NiJ9." + rfcPayload + ".DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
	rfcA5Token  = "eyJhbGciOiJub25lIn0." + rfcPayload + "."
	rfc8037D    = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037X    = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037JWS  = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
	rfcA1Expiry = 1300819380
)

// TestRFC7515Vectors: the A.1 (HS256), A.2 (RS256) and A.3 (ES256) tokens
// verify against their published keys while unexpired, and are refused
// after exp; A.5 (alg none) is refused always.
func TestRFC7515Vectors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		f.now = time.Unix(rfcA1Expiry-60, 0)
		hsKey, _ := base64.RawURLEncoding.DecodeString(rfcA1Key)
		// The A.1 key is binary: seal it directly, as the API takes text.
		hs := f.create(t, "a1", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": strings.Repeat("p", 32), "issuer": "joe"})
		row := *hs.Row
		row.Secret, row.SecretTerm, _ = f.keys.SealFor(hsKey, "consumers", row.ID, "secret")
		if err := st.Writer().UpdateConsumer(ctx, &row); err != nil {
			t.Fatal(err)
		}
		rsKey := jwkKey(t, `{"kty":"RSA","n":"`+rfcA2N+`","e":"AQAB"}`)
		f.create(t, "a2", map[string]any{"type": "jwt", "algorithms": []any{"RS256"}, "public_key": pemOf(t, rsKey)})
		ecKey := jwkKey(t, `{"kty":"EC","crv":"P-256","x":"`+rfcA3X+`","y":"`+rfcA3Y+`"}`)
		f.create(t, "a3", map[string]any{"type": "jwt", "algorithms": []any{"ES256"}, "public_key": pemOf(t, ecKey)})

		for name, tok := range map[string]string{"a1": rfcA1Token, "a2": rfcA2Token, "a3": rfcA3Token} {
			c, err := f.call(bearer(tok), "")
			if err != nil || c.Row.Name != name {
				t.Fatalf("%s: %v", name, err)
			}
		}
		_, err := f.call(bearer(rfcA5Token), "")
		refused(t, err, 401)
		f.now = time.Unix(rfcA1Expiry+1, 0)
		for _, tok := range []string{rfcA1Token, rfcA2Token, rfcA3Token} {
			_, err := f.call(bearer(tok), "")
			refused(t, err, 401)
		}
	})
}

// TestRFC8037EdDSA: the RFC 8037 A.4 signature verifies with the A.1 key
// (a signature check: its payload is not a claims set, so as a bearer
// token it is refused), and a JWT signed with the A.1 private key passes.
func TestRFC8037EdDSA(t *testing.T) {
	x, _ := base64.RawURLEncoding.DecodeString(rfc8037X)
	d, _ := base64.RawURLEncoding.DecodeString(rfc8037D)
	pub := ed25519.PublicKey(x)
	priv := ed25519.NewKeyFromSeed(d)
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Fatal("the RFC 8037 seed does not give its public key")
	}
	parts := strings.Split(rfc8037JWS, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := jwt.SigningMethodEdDSA.Verify(parts[0]+"."+parts[1], sig, pub); err != nil {
		t.Fatalf("RFC 8037 A.4: %v", err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		f.create(t, "ed", map[string]any{"type": "jwt", "algorithms": []any{"EdDSA"}, "public_key": pemOf(t, pub)})
		_, err := f.call(bearer(rfc8037JWS), "")
		refused(t, err, 401)
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()}).SignedString(priv)
		if _, err := f.call(bearer(tok), ""); err != nil {
			t.Fatalf("an EdDSA token: %v", err)
		}
	})
}

// TestParseBasicRFC7617: the RFC 7617 §2 and §2.1 examples, a password
// with colons, and malformed credentials.
func TestParseBasicRFC7617(t *testing.T) {
	for _, tc := range []struct {
		token, user, pass string
		ok                bool
	}{
		{"QWxhZGRpbjpvcGVuIHNlc2FtZQ==", "Aladdin", "open sesame", true}, // §2
		{"dGVzdDoxMjPCow==", "test", "123£", true},                       // §2.1, UTF-8
		{b64std("u:pa:ss:"), "u", "pa:ss:", true},
		{b64std("u:"), "u", "", true},
		{"", "", "", false},
		{"!!!!", "", "", false},
		{"QWxhZGRpbjpvcGVuIHNlc2FtZQ", "", "", false}, // unpadded
		{b64std("nocolon"), "", "", false},
		{b64std(":pass"), "", "", false},
		{b64std("u:p\x00ss"), "", "", false},
		{b64std("u\r\n:pass"), "", "", false},
		{b64std("u:p\x7f"), "", "", false},
		{b64std("u:\xff\xfe"), "", "", false},
		{"QWxh ZGRp", "", "", false},
	} {
		user, pass, ok := ParseBasic(tc.token)
		if ok != tc.ok || user != tc.user || pass != tc.pass {
			t.Errorf("ParseBasic(%q) = %q, %q, %v; want %q, %q, %v", tc.token, user, pass, ok, tc.user, tc.pass, tc.ok)
		}
	}
}

// TestAttacksRefused: every attack of issue 6 gets a typed refusal, never
// a panic and never a success; nothing named in a token header is fetched.
func TestAttacksRefused(t *testing.T) {
	var fetched atomic.Int32
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetched.Add(1)
		w.WriteHeader(404)
	}))
	defer trap.Close()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		var logs strings.Builder
		f.v.Log = slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))
		rsa1, _ := rsa.GenerateKey(rand.Reader, 2048)
		attacker, _ := rsa.GenerateKey(rand.Reader, 2048)
		hsSecret := strings.Repeat("h", 48)
		f.create(t, "rs", map[string]any{"type": "jwt", "algorithms": []any{"RS256"}, "public_key": pemOf(t, &rsa1.PublicKey), "issuer": "shop", "audience": "sluice", "leeway_seconds": 30.0})
		f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": hsSecret, "max_age_seconds": 600.0})
		basic := f.create(t, "basic", map[string]any{"type": "basic"})
		now := f.now
		good := jwt.MapClaims{"iss": "shop", "aud": "sluice", "exp": now.Add(time.Minute).Unix(), "iat": now.Unix()}
		with := func(extra map[string]any, drop ...string) jwt.MapClaims {
			c := jwt.MapClaims{}
			for k, v := range good {
				c[k] = v
			}
			for k, v := range extra {
				c[k] = v
			}
			for _, k := range drop {
				delete(c, k)
			}
			return c
		}
		rs := func(claims jwt.MapClaims, hdr map[string]any, key *rsa.PrivateKey) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
			for k, v := range hdr {
				tok.Header[k] = v
			}
			s, err := tok.SignedString(key)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}
		seg := func(v any) string {
			b, _ := json.Marshal(v)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		if c, err := f.call(bearer(rs(good, nil, rsa1)), ""); err != nil || c.Row.Name != "rs" {
			t.Fatalf("the good token: %v", err)
		}
		pubPEM := pemOf(t, &rsa1.PublicKey)
		hsWithPub, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good).SignedString([]byte(pubPEM))
		attackerJWK := map[string]any{"kty": "RSA", "n": base64.RawURLEncoding.EncodeToString(attacker.N.Bytes()), "e": "AQAB"}
		big := rs(with(map[string]any{"pad": strings.Repeat("x", 9000)}), nil, rsa1)
		hsTok := func(claims jwt.MapClaims) string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(hsSecret))
			return s
		}
		attacks := map[string]map[string]string{
			"HS256 keyed with the RSA public key": bearer(hsWithPub),
			"embedded jwk":                        bearer(rs(good, map[string]any{"jwk": attackerJWK}, attacker)),
			"jku":                                 bearer(rs(good, map[string]any{"jku": trap.URL + "/jwks"}, attacker)),
			"x5u":                                 bearer(rs(good, map[string]any{"x5u": trap.URL + "/cert"}, attacker)),
			"kid path":                            bearer(rs(good, map[string]any{"kid": "../../../../etc/passwd"}, attacker)),
			"kid SQL":                             bearer(rs(good, map[string]any{"kid": "' OR 1=1; DROP TABLE consumers; --"}, attacker)),
			"missing exp":                         bearer(rs(with(nil, "exp"), nil, rsa1)),
			"expired beyond leeway":               bearer(rs(with(map[string]any{"exp": now.Add(-31 * time.Second).Unix()}), nil, rsa1)),
			"nbf in the future":                   bearer(rs(with(map[string]any{"nbf": now.Add(31 * time.Second).Unix()}), nil, rsa1)),
			"iat in the future":                   bearer(rs(with(map[string]any{"iat": now.Add(31 * time.Second).Unix()}), nil, rsa1)),
			"wrong aud":                           bearer(rs(with(map[string]any{"aud": "other"}), nil, rsa1)),
			"wrong iss":                           bearer(rs(with(map[string]any{"iss": "evil"}), nil, rsa1)),
			"unknown crit":                        bearer(rs(good, map[string]any{"crit": []string{"exp-ext"}, "exp-ext": true}, rsa1)),
			"over 8 KiB":                          bearer(big),
			"a wrong signature":                   bearer(rs(good, nil, attacker)),
			"not three parts":                     bearer("abc.def"),
			"garbage header":                      bearer("!!!.e30.x"),
			"header not JSON":                     bearer(base64.RawURLEncoding.EncodeToString([]byte("[1")) + ".e30.x"),
			"HS older than max age":               bearer(hsTok(jwt.MapClaims{"exp": now.Add(time.Minute).Unix(), "iat": now.Add(-11 * time.Minute).Unix()})),
			"HS without iat under max age":        bearer(hsTok(jwt.MapClaims{"exp": now.Add(time.Minute).Unix()})),
			"exp as a string":                     bearer(hsTok(jwt.MapClaims{"exp": "tomorrow", "iat": now.Unix()})),
			"bare Basic":                          {"Authorization": "Basic"},
			"Basic with a space only":             {"Authorization": "Basic "},
			"Basic bad base64":                    {"Authorization": "Basic %%%"},
			"Basic no colon":                      {"Authorization": "Basic " + b64std(basic.Row.Username)},
			"Basic control bytes":                 {"Authorization": "Basic " + b64std(basic.Row.Username+":"+basic.Secret+"\x00")},
			"Basic wrong secret":                  {"Authorization": "Basic " + b64std(basic.Row.Username+":"+basic.Secret+"x")},
			"Basic unknown user":                  {"Authorization": "Basic " + b64std("sc-nobody:"+basic.Secret)},
			"an unknown scheme":                   {"Authorization": "Digest x"},
			"no credentials":                      {},
		}
		for _, alg := range []string{"none", "None", "NONE", "nOnE"} {
			attacks["alg "+alg] = bearer(seg(map[string]string{"alg": alg}) + "." + seg(good) + ".")
			attacks["alg "+alg+" with a signature"] = bearer(seg(map[string]string{"alg": alg}) + "." + seg(good) + ".c2ln")
		}
		i := 0
		for name, h := range attacks {
			i++
			// A fresh address each, so the failure throttle stays out of it.
			remote := fmt.Sprintf("10.0.%d.%d:1", i/250, i%250+1)
			t.Run(name, func(t *testing.T) {
				c, err := f.callFlow(f.flow, remote, h, "")
				if c != nil {
					t.Fatalf("accepted as %q", c.Row.Name)
				}
				refused(t, err, 401)
			})
		}
		if !strings.Contains(logs.String(), "authentication failed") {
			t.Fatal("failed authentications are not logged")
		}
		for name, h := range attacks {
			for _, v := range h {
				cred := strings.TrimPrefix(strings.TrimPrefix(v, "Bearer "), "Basic ")
				if len(cred) > 8 && strings.Contains(logs.String(), cred) {
					t.Fatalf("the log holds the credential of %q", name)
				}
			}
		}
		if n := fetched.Load(); n != 0 {
			t.Fatalf("a URL from a token header was fetched %d times", n)
		}
		// Within the leeway passes; an exp exactly at the edge too.
		if _, err := f.call(bearer(rs(with(map[string]any{"exp": now.Add(-29 * time.Second).Unix()}), nil, rsa1)), ""); err != nil {
			t.Fatalf("within leeway: %v", err)
		}
		// A password containing ':' works (generated secrets have none, so
		// store the hash of such a password by hand); the scheme name is
		// case-insensitive.
		row, _ := st.Reader().ConsumerByID(context.Background(), f.projectID, basic.Row.ID)
		row.SecretHash = hashSecret("pa:ss:word")
		_ = st.Writer().UpdateConsumer(context.Background(), row)
		f.v.Forget(f.projectID) // written behind the Service's back
		if _, err := f.call(map[string]string{"Authorization": "basic " + b64std(basic.Row.Username+":pa:ss:word")}, ""); err != nil {
			t.Fatalf("a password with colons: %v", err)
		}
		after, _ := st.Reader().ConsumerByID(context.Background(), f.projectID, basic.Row.ID)
		if after.FailedAuths != 1 {
			t.Fatalf("basic failures counted %d, want 1 (the wrong secret; malformed headers name no consumer)", after.FailedAuths)
		}
	})
}

// TestForbiddenAndThrottled: a valid consumer calling a flow it may not,
// or from outside its allowlist, gets 403; repeated failures from one
// address get 429 with a Retry-After, while other addresses still pass.
func TestForbiddenAndThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		c := f.create(t, "erp", map[string]any{"type": "basic"})
		h := map[string]string{"Authorization": "Basic " + b64std(c.Row.Username+":"+c.Secret)}
		_, err := f.callFlow(f.flow2, "198.51.100.7:1", h, "")
		refused(t, err, 403)
		if _, err := f.svc.Update(ctx, f.owner, f.projectID, c.Row.ID, Input{AllowedIPs: &[]string{"203.0.113.0/24", "2001:db8::/32"}}, f.cl); err != nil {
			t.Fatal(err)
		}
		_, err = f.callFlow(f.flow, "198.51.100.7:1", h, "")
		refused(t, err, 403)
		if _, err := f.callFlow(f.flow, "203.0.113.9:1", h, ""); err != nil {
			t.Fatalf("from the allowlist: %v", err)
		}
		if _, err := f.callFlow(f.flow, "[2001:db8::5]:1", h, ""); err != nil {
			t.Fatalf("from the IPv6 allowlist: %v", err)
		}
		bad := map[string]string{"Authorization": "Basic " + b64std(c.Row.Username+":wrong")}
		for i := 0; i < 20; i++ {
			_, err := f.callFlow(f.flow, "192.0.2.1:1", bad, "")
			refused(t, err, 401)
		}
		_, err = f.callFlow(f.flow, "192.0.2.1:1", h, "")
		refused(t, err, 429)
		if _, err := f.callFlow(f.flow, "203.0.113.9:1", h, ""); err != nil {
			t.Fatalf("another address: %v", err)
		}
		f.now = f.now.Add(16 * time.Minute)
		if _, err := f.callFlow(f.flow, "203.0.113.9:1", h, ""); err != nil {
			t.Fatalf("after the lockout: %v", err)
		}
	})
}

// TestHMACWebhooks: Shopify, GitHub and generic signatures over the raw
// body verify; a changed body, a wrong secret or a stale timestamp is 401.
func TestHMACWebhooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		secret := strings.Repeat("w", 40)
		f.create(t, "shopify", map[string]any{"type": "hmac", "style": "shopify", "secret": secret})
		gh := f.create(t, "github", map[string]any{"type": "hmac", "style": "github"})
		f.create(t, "generic", map[string]any{"type": "hmac", "style": "generic", "secret": secret, "header": "X-Signature", "timestamp_header": "X-Timestamp", "max_skew_seconds": 120.0})
		if gh.Secret == "" {
			t.Fatal("a generated HMAC secret was not shown")
		}
		body := `{"id":1,"total":"9.99"}`
		mac := func(key, msg string) []byte {
			m := hmac.New(sha256.New, []byte(key))
			m.Write([]byte(msg))
			return m.Sum(nil)
		}
		ts := strconv.FormatInt(f.now.Unix(), 10)
		for name, h := range map[string]map[string]string{
			"shopify":     {HeaderShopify: base64.StdEncoding.EncodeToString(mac(secret, body))},
			"github":      {HeaderGitHub: "sha256=" + hex.EncodeToString(mac(gh.Secret, body))},
			"generic":     {"X-Signature": hex.EncodeToString(mac(secret, ts+"."+body)), "X-Timestamp": ts},
			"generic b64": {"X-Signature": base64.StdEncoding.EncodeToString(mac(secret, ts+"."+body)), "X-Timestamp": ts},
		} {
			c, err := f.call(h, body)
			if err != nil || !strings.HasPrefix(name, c.Row.Name) {
				t.Fatalf("%s: %v", name, err)
			}
		}
		old := strconv.FormatInt(f.now.Add(-3*time.Minute).Unix(), 10)
		for name, h := range map[string]map[string]string{
			"shopify other body":  {HeaderShopify: base64.StdEncoding.EncodeToString(mac(secret, body+" "))},
			"github wrong secret": {HeaderGitHub: "sha256=" + hex.EncodeToString(mac(secret, body))},
			"github no prefix":    {HeaderGitHub: hex.EncodeToString(mac(gh.Secret, body))},
			"generic stale":       {"X-Signature": hex.EncodeToString(mac(secret, old+"."+body)), "X-Timestamp": old},
			"generic no time":     {"X-Signature": hex.EncodeToString(mac(secret, "."+body))},
		} {
			_, err := f.call(h, body)
			if err == nil {
				t.Fatalf("%s accepted", name)
			}
			refused(t, err, 401)
		}
	})
}

// TestJWKS: keys come from the consumer's JWKS URL through the configured
// client, cached; an unknown kid refetches at most once a minute.
func TestJWKS(t *testing.T) {
	ec1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var served atomic.Pointer[[]*ecdsa.PrivateKey]
	served.Store(&[]*ecdsa.PrivateKey{ec1})
	var hits atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		var keys []map[string]string
		for i, k := range *served.Load() {
			pt, _ := k.PublicKey.Bytes()
			keys = append(keys, map[string]string{"kty": "EC", "crv": "P-256", "kid": fmt.Sprint("k", i+1),
				"x": base64.RawURLEncoding.EncodeToString(pt[1:33]), "y": base64.RawURLEncoding.EncodeToString(pt[33:])})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	}))
	defer srv.Close()
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		hits.Store(0)
		served.Store(&[]*ecdsa.PrivateKey{ec1})
		f := newFixture(t, st)
		f.v.JWKSClient = func(ctx context.Context, projectID string) (*http.Client, error) { return srv.Client(), nil }
		f.create(t, "idp", map[string]any{"type": "jwt", "algorithms": []any{"ES256"}, "jwks_url": srv.URL + "/jwks.json"})
		sign := func(kid string, key *ecdsa.PrivateKey) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()})
			tok.Header["kid"] = kid
			s, _ := tok.SignedString(key)
			return s
		}
		for i := 0; i < 3; i++ {
			if _, err := f.call(bearer(sign("k1", ec1)), ""); err != nil {
				t.Fatalf("k1: %v", err)
			}
		}
		if hits.Load() != 1 {
			t.Fatalf("fetched %d times, want 1 (cached)", hits.Load())
		}
		_, err := f.call(bearer(sign("k2", ec2)), "")
		refused(t, err, 401)
		_, err = f.call(bearer(sign("k9", ec2)), "")
		refused(t, err, 401)
		if hits.Load() != 1 {
			t.Fatalf("an unknown kid refetched within a minute: %d fetches", hits.Load())
		}
		served.Store(&[]*ecdsa.PrivateKey{ec1, ec2})
		f.now = f.now.Add(61 * time.Second)
		if _, err := f.call(bearer(sign("k2", ec2)), ""); err != nil {
			t.Fatalf("k2 after rotation: %v", err)
		}
		if hits.Load() != 2 {
			t.Fatalf("fetches %d, want 2", hits.Load())
		}
	})
}

// TestTokenCache: a verified token is remembered by its hash until it
// expires; a change to the consumer or the token's expiry ends that.
func TestTokenCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		ctx := context.Background()
		secret := strings.Repeat("c", 40)
		c := f.create(t, "hs", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": secret, "leeway_seconds": 5.0})
		tok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()}).SignedString([]byte(secret))
		for i := 0; i < 2; i++ {
			if _, err := f.call(bearer(tok), ""); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
		}
		if n := len(f.v.tokens.entries); n != 1 {
			t.Fatalf("%d cached tokens, want 1", n)
		}
		for k := range f.v.tokens.entries {
			if strings.Contains(string(k[:]), tok) {
				t.Fatal("the cache holds the token")
			}
		}
		f.now = f.now.Add(64 * time.Second)
		if _, err := f.call(bearer(tok), ""); err != nil {
			t.Fatalf("within the leeway: %v", err)
		}
		f.now = f.now.Add(2 * time.Second)
		_, err := f.call(bearer(tok), "")
		refused(t, err, 401)

		tok2, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"exp": f.now.Add(time.Minute).Unix()}).SignedString([]byte(secret))
		if _, err := f.callFlow(f.flow, "10.5.5.5:1", bearer(tok2), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Update(ctx, f.owner, f.projectID, c.Row.ID, Input{Auth: map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "issuer": "erp"}}, f.cl); err != nil {
			t.Fatal(err)
		}
		_, err = f.callFlow(f.flow, "10.5.5.5:1", bearer(tok2), "")
		refused(t, err, 401)
	})
}

// syncWriter serialises writes of concurrent log calls.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// TestRefusalHeaders: a 401 carries the challenge, a 429 a Retry-After.
func TestRefusalHeaders(t *testing.T) {
	h := http.Header{}
	unauthorized("x").Headers(h)
	if h.Get("WWW-Authenticate") != WWWAuthenticate {
		t.Fatalf("401 headers %v", h)
	}
	h = http.Header{}
	(&AuthError{Status: 429, RetryAfter: 1500 * time.Millisecond}).Headers(h)
	if h.Get("Retry-After") != "2" {
		t.Fatalf("429 headers %v", h)
	}
}

// TestRFC7520HS256: the RFC 7520 §4.4 HMAC-SHA256 signature (with a kid)
// verifies with its published key; its payload is prose, not a claims set,
// so presented as a bearer token to a consumer with that key it is refused.
func TestRFC7520HS256(t *testing.T) {
	const (
		key   = "hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"
		token = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9." +
			"SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4." +
			"s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"
	)
	k, _ := base64.RawURLEncoding.DecodeString(key)
	parts := strings.Split(token, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	if err := jwt.SigningMethodHS256.Verify(parts[0]+"."+parts[1], sig, k); err != nil {
		t.Fatalf("RFC 7520 §4.4: %v", err)
	}
	h, err := readHeader(token)
	if err != nil || h.Alg != "HS256" || h.Kid == nil || *h.Kid != "018c0ae5-4d9b-471b-bfd6-eef314bc7037" {
		t.Fatalf("header: %+v %v", h, err)
	}
	storetest.Each(t, func(t *testing.T, st *store.Store) {
		f := newFixture(t, st)
		c := f.create(t, "oct", map[string]any{"type": "jwt", "algorithms": []any{"HS256"}, "secret": strings.Repeat("p", 32)})
		row := *c.Row
		row.Secret, row.SecretTerm, _ = f.keys.SealFor(k, "consumers", row.ID, "secret")
		if err := st.Writer().UpdateConsumer(context.Background(), &row); err != nil {
			t.Fatal(err)
		}
		_, err := f.call(bearer(token), "")
		refused(t, err, 401)
	})
}

// TestWycheproofJWS: the Wycheproof JSON Web Signature vectors of the
// HS256 and ES256 groups (testdata/wycheproof_jws.json), negative cases
// included, through the same steps a bearer token takes: the header read
// (three parts, no alg none, no crit), the consumer's pinned algorithm,
// its key (the JWK parsed as a JWKS key would be), and the signature.
// (Their payload is "foo", not a claims set, so the claim checks that
// follow are left to the other tests.)
func TestWycheproofJWS(t *testing.T) {
	raw, err := os.ReadFile("testdata/wycheproof_jws.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		TestGroups []struct {
			Comment string          `json:"comment"`
			Key     json.RawMessage `json:"key"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				JWS     string `json:"jws"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, g := range doc.TestGroups {
		var key any
		var pinned string
		var oct struct {
			K string `json:"k"`
		}
		_ = json.Unmarshal(g.Key, &oct)
		if oct.K != "" {
			key, _ = base64.RawURLEncoding.DecodeString(oct.K)
			pinned = "HS256"
		} else {
			key = jwkKey(t, string(g.Key))
			pinned = "ES256"
		}
		for _, tc := range g.Tests {
			n++
			ok := func() bool {
				h, err := readHeader(tc.JWS)
				if err != nil || h.Alg != pinned {
					return false
				}
				parts := strings.Split(tc.JWS, ".")
				sig, err := base64.RawURLEncoding.DecodeString(parts[2])
				if err != nil {
					return false
				}
				return jwt.GetSigningMethod(h.Alg).Verify(parts[0]+"."+parts[1], sig, key) == nil
			}()
			if ok != (tc.Result == "valid") {
				t.Errorf("%s tcId %d (%s): verified %v, want %s", g.Comment, tc.TcID, tc.Comment, ok, tc.Result)
			}
		}
	}
	if n != 32 {
		t.Fatalf("ran %d vectors, want 32", n)
	}
}
