// Package httpx holds the HTTP plumbing shared by the API and the console:
// the single place where errors become status codes, strict JSON decoding,
// the middleware chain and Prometheus metrics.
//
// The middleware is meant to be stacked outermost first like this:
//
//	RequestID → ClientIP(tp) → Logger(log) → metrics.Middleware → Recover →
//	SecurityHeaders(tls) → MaxBody(n) → *http.ServeMux
//
// Logger and Recover need RequestID (and Logger needs ClientIP) outside them
// to have something to report; Recover sits inside Logger and the metrics so
// that a panic is counted and logged as the 500 it turns into. Middleware in
// this package that replaces the request's context copies the matched
// ServeMux pattern back to the request it was given, so the access log and
// metrics outside it can label by route; foreign middleware placed between
// them and the mux may not, and its requests are then labelled "unmatched".
package httpx
