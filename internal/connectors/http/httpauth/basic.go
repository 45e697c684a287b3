package httpauth

import (
	"encoding/base64"
	"net/http"
	"net/url"

	"golang.org/x/text/unicode/norm"
)

// basicCredentials builds the RFC 7617 credentials: base64 of user-id ":"
// password, both in Unicode Normalization Form C and encoded as UTF-8
// (RFC 7617 §2.1, charset="UTF-8"). Validate has refused a ':' in the user
// name and control characters in either.
func basicCredentials(username, password string) string {
	pair := norm.NFC.String(username) + ":" + norm.NFC.String(password)
	return base64.StdEncoding.EncodeToString([]byte(pair))
}

func newBasic(b *Basic, base http.RoundTripper, origin *url.URL) *signingTransport {
	return newHeaderSigner(base, origin, "Authorization", "Basic "+basicCredentials(b.Username, b.Password))
}
