package http

import (
	"net/http"
	"regexp"
	"strings"
)

// secretWords are parts of field, parameter and header names whose values
// are taken out of errors and previews: an answer that echoes a request
// (many APIs do on a 400) may carry a credential.
const secretWords = `[A-Za-z0-9_-]*(?:password|passwd|secret|token|api[_-]?key|apikey|authorization|auth|session|cookie|signature|private[_-]?key|credential)[A-Za-z0-9_-]*`

var (
	// "name": "value" in JSON (also 'name': 'value').
	secretJSON = regexp.MustCompile(`(?i)("` + secretWords + `"\s*:\s*)("(?:[^"\\]|\\.)*"|[^,}\s]+)`)
	// name=value in a query or form text.
	secretPair = regexp.MustCompile(`(?i)\b(` + secretWords + `=)([^&\s"']+)`)
	// Authorization-style values: Bearer xyz, Basic xyz.
	secretScheme = regexp.MustCompile(`(?i)\b(Bearer|Basic|Digest|NTLM|Negotiate)\s+[A-Za-z0-9._~+/=-]{8,}`)
)

// redactPatterns takes secret-looking values out of text that goes into
// an error: JSON fields and query pairs whose names look secret, and
// Authorization-style credentials.
func redactPatterns(s string) string {
	s = secretJSON.ReplaceAllString(s, `$1"[REDACTED]"`)
	s = secretPair.ReplaceAllString(s, `$1[REDACTED]`)
	s = secretScheme.ReplaceAllString(s, `$1 [REDACTED]`)
	return s
}

var secretName = regexp.MustCompile(`(?i)^` + secretWords + `$`)

// secretHeader says whether a header's value is kept out of previews.
func secretHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "set-cookie":
		return true
	}
	return secretName.MatchString(name)
}

// previewHeaders are the headers of a request as a preview shows them:
// credentials never (the auth signer adds them below the client, so they
// are not here anyway), and secret-looking flow headers redacted.
func previewHeaders(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k := range h {
		if secretHeader(k) {
			out[k] = "[REDACTED]"
			continue
		}
		out[k] = h.Get(k)
	}
	return out
}
