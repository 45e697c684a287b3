package httpauth

import (
	"net/http"
	"net/url"
	"strings"
)

func newAPIKey(k *APIKey, base http.RoundTripper, origin *url.URL) *signingTransport {
	if k.In == InHeader {
		return newHeaderSigner(base, origin, k.Name, k.APIKey)
	}
	name, key := k.Name, k.APIKey
	return &signingTransport{base: base, origin: origin, sign: func(r *http.Request) error {
		r.URL.RawQuery = withQueryParam(r.URL.RawQuery, name, key)
		return nil
	}}
}

// withQueryParam sets name=value in a raw query. It drops any pair with the
// same name and keeps every other pair exactly as written, since some APIs
// (and OAuth 1.0a signatures) care how the rest of the query is encoded.
func withQueryParam(rawQuery, name, value string) string {
	var kept []string
	for pair := range strings.SplitSeq(rawQuery, "&") {
		if pair == "" {
			continue
		}
		k, _, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil && dk == name {
			continue
		}
		kept = append(kept, pair)
	}
	kept = append(kept, url.QueryEscape(name)+"="+url.QueryEscape(value))
	return strings.Join(kept, "&")
}
