package console

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/internal/access"
	"github.com/sluice-dev/sluice/internal/consumer"
	"github.com/sluice-dev/sluice/internal/web/httpx"
)

// authForm is a consumer's auth settings as the forms show them.
type authForm struct {
	Algorithms                              map[string]bool
	PublicKey, JWKSURL, Issuer, Audience    string
	MaxAge, Leeway                          string
	Style, Header, TimestampHeader, MaxSkew string
}

func authFormOf(s consumer.Settings) authForm {
	a := authForm{Algorithms: map[string]bool{}, PublicKey: s.PublicKey, JWKSURL: s.JWKSURL, Issuer: s.Issuer, Audience: s.Audience,
		Style: s.Style, Header: s.Header, TimestampHeader: s.TimestampHeader}
	for _, alg := range s.Algorithms {
		a.Algorithms[alg] = true
	}
	// 0 means "not set" in the service; the form shows it empty.
	for _, x := range []struct {
		n   int
		dst *string
	}{{s.MaxAgeSeconds, &a.MaxAge}, {s.LeewaySeconds, &a.Leeway}, {s.MaxSkewSeconds, &a.MaxSkew}} {
		if x.n > 0 {
			*x.dst = strconv.Itoa(x.n)
		}
	}
	return a
}

// authFormPosted is the auth form as posted, to show it again.
func authFormPosted(f url.Values) authForm {
	a := authForm{Algorithms: map[string]bool{}, PublicKey: f.Get("auth.public_key"), JWKSURL: f.Get("auth.jwks_url"),
		Issuer: f.Get("auth.issuer"), Audience: f.Get("auth.audience"), MaxAge: f.Get("auth.max_age_seconds"),
		Leeway: f.Get("auth.leeway_seconds"), Style: f.Get("auth.style"), Header: f.Get("auth.header"),
		TimestampHeader: f.Get("auth.timestamp_header"), MaxSkew: f.Get("auth.max_skew_seconds")}
	for _, alg := range f["auth.algorithms"] {
		a.Algorithms[alg] = true
	}
	return a
}

// authOf builds the auth object of the API (POST and PATCH
// .../consumers) from a form, so the service checks it exactly as it
// checks the API's: only the fields of the chosen type are sent, empty
// ones are left out (an empty secret is kept on a change). A number that
// is not one is a problem in fields, by the service's path.
func authOf(f url.Values, typ string, fields map[string]string) map[string]any {
	auth := map[string]any{"type": typ}
	text := func(keys ...string) {
		for _, k := range keys {
			if v := strings.TrimSpace(f.Get("auth." + k)); v != "" {
				auth[k] = v
			}
		}
	}
	seconds := func(k, label string) {
		v := strings.TrimSpace(f.Get("auth." + k))
		if v == "" {
			return
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			fields["auth."+k] = label + " must be a whole number of seconds, 0 or more"
			return
		}
		auth[k] = float64(n) // as JSON decodes it
	}
	switch typ {
	case consumer.AuthJWT:
		algs := []any{}
		for _, a := range f["auth.algorithms"] {
			algs = append(algs, a)
		}
		auth["algorithms"] = algs
		// The secret is sent as typed: a password manager's spaces are
		// part of it.
		if v := f.Get("auth.secret"); v != "" {
			auth["secret"] = v
		}
		text("public_key", "jwks_url", "issuer", "audience")
		seconds("max_age_seconds", "Max age")
		seconds("leeway_seconds", "Leeway")
	case consumer.AuthHMAC:
		// The create form offers both types at once, so its HMAC secret
		// has a name of its own.
		for _, k := range []string{"auth.hmac_secret", "auth.secret"} {
			if v := f.Get(k); v != "" {
				auth["secret"] = v
				break
			}
		}
		text("style")
		// Shopify and GitHub send their own header: the generic
		// style's settings would be refused, so they are not sent.
		if f.Get("auth.style") == consumer.StyleGeneric {
			text("header", "timestamp_header")
			seconds("max_skew_seconds", "Maximum skew")
		}
	}
	return auth
}

// authLabels name the auth fields as the forms label them.
var authLabels = map[string]string{"type": "Authentication", "algorithms": "Algorithms", "secret": "Secret", "public_key": "Public key",
	"jwks_url": "JWKS URL", "issuer": "Issuer", "audience": "Audience", "max_age_seconds": "Max age", "leeway_seconds": "Leeway",
	"style": "Style", "header": "Signature header", "timestamp_header": "Timestamp header", "max_skew_seconds": "Maximum skew"}

// authProblems puts a refused consumer change's problems into fields by
// the service's paths ("auth.jwks_url"; "flows[0]" under "flows"), each
// as a sentence that starts with the field's label. It returns the status
// and the message for the top of the form ("" when every problem has its
// field).
func authProblems(r *http.Request, err error, fields map[string]string) (int, string) {
	e := httpx.Describe(r, err)
	placed := 0
	for _, d := range e.Details {
		k := d.Field
		if k == "" {
			continue
		}
		if i := strings.IndexByte(k, '['); i > 0 {
			k = k[:i]
		}
		label := authLabels[strings.TrimPrefix(k, "auth.")]
		if label == "" || !strings.HasPrefix(k, "auth") {
			label = strings.ReplaceAll(k, "_", " ")
			label = strings.ToUpper(label[:1]) + label[1:]
		}
		if k == "auth" {
			label = "Authentication"
		}
		if _, ok := fields[k]; !ok {
			fields[k] = label + " " + d.Message
		}
		placed++
	}
	if placed > 0 && placed == len(e.Details) {
		return e.Status, ""
	}
	return e.Status, e.Message
}

// curlFor is a ready call of a flow with a consumer's generated secret:
// Basic with curl -u; HMAC signed with openssl over exactly the body curl
// sends (the generic style over "<timestamp>.<body>").
func curlFor(v *consumer.Consumer, url string) string {
	const body = `BODY='{"id": 1}'; `
	const send = ` -H 'Content-Type: application/json' --data-binary "$BODY" `
	switch v.Settings.Type {
	case consumer.AuthBasic:
		return fmt.Sprintf("curl -u %s:%s -H 'Content-Type: application/json' -d '{\"id\": 1}' %s", v.Row.Username, v.Secret, url)
	case consumer.AuthHMAC:
		hexSig := fmt.Sprintf("openssl dgst -sha256 -hmac '%s' -r | cut -d' ' -f1", v.Secret)
		switch v.Settings.Style {
		case consumer.StyleShopify:
			return body + fmt.Sprintf(`SIG=$(printf '%%s' "$BODY" | openssl dgst -sha256 -hmac '%s' -binary | base64); `, v.Secret) +
				`curl -H "` + consumer.HeaderShopify + `: $SIG"` + send + url
		case consumer.StyleGitHub:
			return body + `SIG=$(printf '%s' "$BODY" | ` + hexSig + `); curl -H "` + consumer.HeaderGitHub + `: sha256=$SIG"` + send + url
		case consumer.StyleGeneric:
			return body + `TS=$(date +%s); SIG=$(printf '%s.%s' "$TS" "$BODY" | ` + hexSig + `); curl -H "` + v.Settings.TimestampHeader +
				`: $TS" -H "` + v.Settings.Header + `: $SIG"` + send + url
		}
	}
	return ""
}

// consumerAuthSave changes a consumer's auth settings (as PATCH
// .../consumers/{c} with an auth object of the same type): a secret left
// empty is kept; problems are shown beside their fields.
func (c *Console) consumerAuthSave(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(r); err != nil {
		c.Fail(w, r, err)
		return
	}
	g := access.GrantFrom(r.Context())
	v, err := c.Services.Consumers.Get(r.Context(), g.Project.ID, r.PathValue("c"))
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	f := r.PostForm
	fields := map[string]string{}
	msg, status := "Nothing was saved: see the fields below.", http.StatusUnprocessableEntity
	if v.Settings.Type == consumer.AuthBasic {
		// A Basic consumer has nothing to set: its secret is generated.
		fields["auth"] = "A Basic consumer's user name and secret are generated: use Generate a new secret"
	}
	auth := authOf(f, v.Settings.Type, fields)
	if len(fields) == 0 {
		_, err = c.Services.Consumers.Update(r.Context(), principalOf(r), g.Project.ID, v.Row.ID, consumer.Input{Auth: auth}, clientOf(r))
		if err == nil {
			http.Redirect(w, r, "/projects/"+g.Project.ID+"/consumers/"+v.Row.ID+"?notice=auth-saved", http.StatusSeeOther)
			return
		}
		status, msg = authProblems(r, err, fields)
		if msg == "" {
			msg = "Nothing was saved: see the fields below."
		}
	}
	d, _, err := c.consumerPageOf(r, v)
	if err != nil {
		c.Fail(w, r, err)
		return
	}
	d.Auth, d.AuthOpen = authFormPosted(f), true
	for _, id := range v.Flows {
		d.Chosen[id] = true
	}
	c.render(w, r, status, "consumer.html", page{Title: v.Row.Name, Data: d, Error: msg, Fields: fields})
}
