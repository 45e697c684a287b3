package consolelog

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// secretHeaders are always redacted, whatever the pipe lists.
var secretHeaders = map[string]bool{
	"Authorization": true, "Proxy-Authorization": true, "Cookie": true, "Set-Cookie": true,
}

// secretName says whether a header, parameter or JSON field name looks
// like it holds a secret: token, secret, password, signature, key, and
// the OAuth parameters (oauth_*, code, client_assertion, ...).
func secretName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "secret", "password", "passwd", "signature", "key", "credential", "session", "auth"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	if strings.HasPrefix(n, "oauth_") {
		return true
	}
	switch n {
	case "code", "code_verifier", "assertion", "client_assertion", "sig", "pwd", "pass":
		return true
	}
	return false
}

// redactHeader copies h with secret headers redacted.
func redactHeader(h http.Header) map[string]any {
	out := make(map[string]any, len(h))
	for k, vs := range h {
		ck := http.CanonicalHeaderKey(k)
		if secretHeaders[ck] || secretName(ck) {
			out[ck] = Redacted
			continue
		}
		if len(vs) == 1 {
			out[ck] = vs[0]
		} else {
			out[ck] = append([]string(nil), vs...)
		}
	}
	return out
}

// redactValues copies query or form values with secret names redacted.
func redactValues(v url.Values) map[string]any {
	out := make(map[string]any, len(v))
	for k, vs := range v {
		switch {
		case secretName(k):
			out[k] = Redacted
		case len(vs) == 1:
			out[k] = vs[0]
		default:
			out[k] = append([]string(nil), vs...)
		}
	}
	return out
}

// redactNames copies v with the values of secret-looking object keys
// redacted, at any depth; untouched parts are shared with v, never
// changed.
func redactNames(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if secretName(k) {
				out[k] = Redacted
			} else {
				out[k] = redactNames(e)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactNames(e)
		}
		return out
	}
	return v
}

// splitPath splits a sensitive path ("$.items[*].card", "customer.email",
// "headers.X-Api-Key") into keys and "[n]" / "[*]" segments; pipeline
// validated its form.
func splitPath(p string) []string {
	p = strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
	var out []string
	for _, part := range strings.Split(p, ".") {
		key, rest, _ := strings.Cut(part, "[")
		if key != "" {
			out = append(out, key)
		}
		for rest != "" {
			idx, after, _ := strings.Cut(rest, "]")
			out = append(out, "["+idx+"]")
			rest = strings.TrimPrefix(after, "[")
		}
	}
	return out
}

// redactPath copies v with the values at path redacted ("*" any key,
// "[*]" any element); parts off the path are shared with v.
func redactPath(v any, path []string) any {
	if len(path) == 0 {
		return Redacted
	}
	seg, rest := path[0], path[1:]
	switch x := v.(type) {
	case map[string]any:
		if strings.HasPrefix(seg, "[") {
			return v
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			if seg == "*" || strings.EqualFold(k, seg) {
				out[k] = redactPath(e, rest)
			} else {
				out[k] = e
			}
		}
		return out
	case []any:
		if !strings.HasPrefix(seg, "[") {
			return v
		}
		idx := strings.TrimSuffix(strings.TrimPrefix(seg, "["), "]")
		out := make([]any, len(x))
		copy(out, x)
		if idx == "*" {
			for i := range out {
				out[i] = redactPath(out[i], rest)
			}
		} else if n, err := strconv.Atoi(idx); err == nil && n >= 0 && n < len(out) {
			out[n] = redactPath(out[n], rest)
		}
		return out
	}
	return v
}

// redactPathAnywhere is redactPath applied from v and from every value
// inside it, so a record's path matches wherever the record sits in a
// body.
func redactPathAnywhere(v any, path []string) any {
	v = redactPath(v, path)
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = redactPathAnywhere(e, path)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = redactPathAnywhere(e, path)
		}
		return out
	}
	return v
}
