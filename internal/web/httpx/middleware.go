package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/sluice-dev/sluice/internal/netguard"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	loggerKey
	clientIPKey
)

// serveWithContext runs next with ctx and then copies the ServeMux pattern
// back: the mux records it on the request it receives, which is our copy,
// and the access log and metrics further out need it as a bounded route
// label.
func serveWithContext(next http.Handler, w http.ResponseWriter, r *http.Request, ctx context.Context) {
	r2 := r.WithContext(ctx)
	next.ServeHTTP(w, r2)
	if r2.Pattern != "" {
		r.Pattern = r2.Pattern
	}
}

// RequestID gives every request a random 128-bit hex ID, returns it in the
// X-Request-Id header and stores it for RequestIDFrom. An inbound
// X-Request-Id is ignored: a client-chosen ID could collide with another
// request's or smuggle text into the logs.
func RequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := newRequestID()
		w.Header().Set("X-Request-Id", id)
		serveWithContext(next, w, r, context.WithValue(r.Context(), requestIDKey, id))
	})
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails; it crashes the program instead
	return hex.EncodeToString(b[:])
}

// RequestIDFrom returns the ID set by RequestID, or "" outside of it.
func RequestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// Logger stores a per-request logger carrying request_id for LoggerFrom, and
// logs one access line per request after the response. The line holds only
// the method, the path, the route pattern, status, size, duration and
// client IP: never the query string, headers, cookies or body, since those
// carry API keys, session cookies and passwords. Path segments matched by a
// wildcard whose name suggests a credential ({token}, {secret}, …) are
// replaced by [REDACTED], so signed download links stay out of the log too.
func Logger(base *slog.Logger) func(http.Handler) http.Handler {
	if base == nil {
		base = slog.Default()
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			// The request's logger is made only when something asks for it
			// (LoggerFrom): most requests log the access line alone, and
			// With copies the handler.
			rl := &lazyLogger{base: base, id: RequestIDFrom(r.Context())}
			rec := recordResponse(w)
			ctx := context.WithValue(r.Context(), loggerKey, rl)
			serveWithContext(next, rec, r, ctx)

			ip := ClientIPFrom(r.Context())
			if !ip.IsValid() {
				ip = (*netguard.TrustedProxies)(nil).ClientIP(r) // the TCP peer
			}
			attrs := [9]slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", logPath(r)),
				slog.String("route", r.Pattern),
				slog.Int("status", rec.status()),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("client_ip", addrString(ip)),
			}
			n := 7
			if rl.id != "" {
				// Where With would have put it: first.
				copy(attrs[1:], attrs[:n])
				attrs[0] = slog.String("request_id", rl.id)
				n++
			}
			base.LogAttrs(ctx, slog.LevelInfo, "http request", attrs[:n]...)
		})
	}
}

// lazyLogger is the request's logger, made on first use.
type lazyLogger struct {
	base *slog.Logger
	id   string
	once sync.Once
	l    *slog.Logger
}

func (rl *lazyLogger) logger() *slog.Logger {
	rl.once.Do(func() {
		rl.l = rl.base
		if rl.id != "" {
			rl.l = rl.base.With("request_id", rl.id)
		}
	})
	return rl.l
}

// LoggerFrom returns the request's logger from Logger, or slog.Default() when
// there is none, so code deep in a handler can always log.
func LoggerFrom(ctx context.Context) *slog.Logger {
	if rl, ok := ctx.Value(loggerKey).(*lazyLogger); ok {
		return rl.logger()
	}
	return slog.Default()
}

// logPath is r.URL.Path with credential-bearing wildcard segments redacted.
func logPath(r *http.Request) string {
	pattern := r.Pattern
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = pattern[i+1:] // drop the method
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // drop the host
	}
	psegs := strings.Split(pattern, "/")
	redact := false
	for _, s := range psegs {
		if name, ok := wildcardName(s); ok && sensitiveName(name) {
			redact = true
			break
		}
	}
	if !redact {
		return r.URL.Path
	}
	// The mux matched on escaped segments, so line up with those.
	segs := strings.Split(r.URL.EscapedPath(), "/")
	for i, s := range psegs {
		name, ok := wildcardName(s)
		if !ok || !sensitiveName(name) || i >= len(segs) {
			continue
		}
		if strings.HasSuffix(s, "...}") {
			segs = append(segs[:i], "[REDACTED]")
			break
		}
		segs[i] = "[REDACTED]"
	}
	return strings.Join(segs, "/")
}

func wildcardName(seg string) (string, bool) {
	if len(seg) < 3 || seg[0] != '{' || seg[len(seg)-1] != '}' {
		return "", false
	}
	return strings.TrimSuffix(seg[1:len(seg)-1], "..."), true
}

func sensitiveName(name string) bool {
	name = strings.ToLower(name)
	for _, s := range []string{"token", "secret", "password", "signature"} {
		if strings.Contains(name, s) {
			return true
		}
	}
	return false
}

// Recover turns a panic in a handler into a 500 through WriteError, logged
// at Error level with the stack, so one bad request cannot take the process
// down or leave the client without an answer. http.ErrAbortHandler is
// re-panicked because it is net/http's deliberate way to abort a response.
// When the response had already started, a clean error can no longer be
// sent; the connection is aborted instead so the client sees a failure
// rather than a truncated body that looks complete.
func Recover(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := recordResponse(w)
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			err := &panicError{value: v, stack: debug.Stack()}
			if rec.wroteHeader {
				LoggerFrom(r.Context()).ErrorContext(r.Context(), "panic after the response started",
					"error", err, "method", r.Method, "path", r.URL.Path, "stack", string(err.stack))
				panic(http.ErrAbortHandler)
			}
			WriteError(rec, r, err)
		}()
		next.ServeHTTP(rec, r)
	})
}

// panicError carries a recovered panic to WriteError, which logs the stack
// with the error in a single line.
type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// contentSecurityPolicy allows only same-origin resources: the console ships
// its own scripts and styles, and nothing may frame it or post elsewhere.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// permissionsPolicy switches off browser features the console never uses,
// so injected content could not use them either.
const permissionsPolicy = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

// SecurityHeaders sets the browser hardening headers on every response. HSTS
// is sent only when tls is true, because over plain HTTP it is ignored and
// behind a TLS proxy the proxy should own it. Responses under /api/,
// /call/ and /downloads/ also get Cache-Control: no-store, since they carry
// per-user data that no shared cache may keep; a handler may still override
// it.
func SecurityHeaders(tls bool) func(http.Handler) http.Handler {
	// The values are made once and shared by every response: a header
	// slice of one element is replaced by Set and copied by Add, never
	// written in place.
	preset := http.Header{}
	preset.Set("Content-Security-Policy", contentSecurityPolicy)
	preset.Set("X-Frame-Options", "DENY")
	preset.Set("X-Content-Type-Options", "nosniff")
	// same-origin, not no-referrer: under no-referrer browsers send
	// "Origin: null" on form posts, which the CSRF guard must refuse;
	// other sites still learn nothing.
	preset.Set("Referrer-Policy", "same-origin")
	preset.Set("Cross-Origin-Opener-Policy", "same-origin")
	preset.Set("Permissions-Policy", permissionsPolicy)
	if tls {
		preset.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	noStore := []string{"no-store"}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			for k, v := range preset {
				h[k] = v[:1:1]
			}
			if noStorePath(r.URL.Path) {
				h["Cache-Control"] = noStore[:1:1]
			}
			next.ServeHTTP(w, r)
		})
	}
}

func noStorePath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/call/") || strings.HasPrefix(p, "/downloads/")
}

// MaxBody caps every request body at n bytes, so no handler can be made to
// buffer an unbounded upload, even one that forgets to use DecodeJSON.
// Reading past the cap fails with *http.MaxBytesError, which WriteError
// answers with 413.
func MaxBody(n int64) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, n)
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ClientIP works out the client's address once per request, believing
// X-Forwarded-For only from tp (nil trusts nobody), and stores it for
// ClientIPFrom so allowlists, throttling and logs all agree on it.
func ClientIP(tp *netguard.TrustedProxies) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ip := tp.ClientIP(r)
			serveWithContext(next, w, r, context.WithValue(r.Context(), clientIPKey, ip))
		})
	}
}

// ClientIPFrom returns the address stored by ClientIP, or the zero
// netip.Addr (IsValid false) outside of it or when the peer was unparsable.
func ClientIPFrom(ctx context.Context) netip.Addr {
	ip, _ := ctx.Value(clientIPKey).(netip.Addr)
	return ip
}

// ClientIPStringFrom is ClientIPFrom as text, "" when unknown, for logs and
// audit events.
func ClientIPStringFrom(ctx context.Context) string {
	return addrString(ClientIPFrom(ctx))
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
