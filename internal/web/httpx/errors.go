package httpx

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/sluice-dev/sluice/internal/store"
)

// StatusClientClosedRequest is the status recorded for a request whose
// client went away before it was answered.
const StatusClientClosedRequest = 499

// Error is an error that already knows how it should look to an API client.
// Handlers return one when they know what went wrong; anything else reaching
// WriteError is treated as a bug and hidden behind a generic 500, so a
// handler can never leak internal detail by accident.
type Error struct {
	Status  int
	Code    string
	Message string
	Details []Detail
	// RetryAfter, when positive, becomes the Retry-After header so a
	// throttled client knows when to come back instead of hammering.
	RetryAfter time.Duration
}

// Detail points at one problem inside a request, usually one field, so a
// client can show the message next to the input that caused it.
type Detail struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// Error returns the status, code and message; it is what ends up in logs
// when an *Error is wrapped by another error.
func (e *Error) Error() string {
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// BadRequest is a 400: the request itself is wrong and retrying it unchanged
// cannot succeed.
func BadRequest(code, msg string, details ...Detail) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Message: msg, Details: details}
}

// Unauthorized is a 401: no valid credentials. The message should stay vague
// so it tells an attacker nothing about which part was wrong.
func Unauthorized(msg string) *Error {
	return &Error{Status: http.StatusUnauthorized, Code: "unauthorized", Message: msg}
}

// Forbidden is a 403: the caller is known but may not do this.
func Forbidden(msg string) *Error {
	return &Error{Status: http.StatusForbidden, Code: "forbidden", Message: msg}
}

// NotFound is a 404. It is also the right answer when a resource exists but
// the caller may not see it, so existence does not leak.
func NotFound(msg string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Message: msg}
}

// Conflict is a 409: the request is valid but clashes with current state,
// such as a name that is already taken.
func Conflict(code, msg string) *Error {
	return &Error{Status: http.StatusConflict, Code: code, Message: msg}
}

// TooManyRequests is a 429 carrying how long the client should wait; WriteError
// turns retryAfter into the Retry-After header.
func TooManyRequests(msg string, retryAfter time.Duration) *Error {
	return &Error{Status: http.StatusTooManyRequests, Code: "too_many_requests", Message: msg, RetryAfter: retryAfter}
}

// Unprocessable is a 422: well-formed JSON whose content fails validation.
func Unprocessable(code, msg string, details ...Detail) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: code, Message: msg, Details: details}
}

// UnsupportedMediaType is a 415: the body is not in a format we accept.
func UnsupportedMediaType(msg string) *Error {
	return &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type", Message: msg}
}

// TooLarge is a 413: the body exceeds the limit that keeps one request from
// exhausting the server's memory.
func TooLarge(msg string) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: msg}
}

// errorBody is the wire shape {"error": {...}} shared by every error answer.
type errorBody struct {
	Error errorPayload `json:"error"`
}

type errorPayload struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Details []Detail `json:"details,omitempty"`
}

// WriteError answers the request with err in the standard error format. It
// is the only place errors become HTTP status codes: *Error values keep
// their own status, store sentinels map to 404 and 409, a request whose
// client went away gets a short 503, and everything else is logged in full
// and answered with an opaque 500 that carries only the request ID, because
// raw error text can hold SQL, file paths or secrets.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	e := classify(r, err)
	if e.RetryAfter > 0 || e.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", strconv.FormatInt(retryAfterSeconds(e.RetryAfter), 10))
	}
	writeJSON(w, e.Status, errorBody{Error: errorPayload{Code: e.Code, Message: e.Message, Details: e.Details}})
}

// Describe is what WriteError would answer for err, for callers that
// render it themselves (the console's pages): the same status and message
// everywhere. Unexpected errors are logged here, as in WriteError.
func Describe(r *http.Request, err error) *Error {
	return classify(r, err)
}

// RetryAfterSeconds is the Retry-After value WriteError sends for d.
func RetryAfterSeconds(d time.Duration) int64 { return retryAfterSeconds(d) }

// retryAfterSeconds rounds up so a client never retries too early, and never
// says 0, which some clients read as "retry immediately".
func retryAfterSeconds(d time.Duration) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

func classify(r *http.Request, err error) *Error {
	var e *Error
	var tooBig *http.MaxBytesError
	switch {
	case err == nil:
		// A nil error here is a handler bug; answering 200 would hide it.
		err = errors.New("httpx: WriteError called with a nil error")
	case errors.As(err, &e) && e != nil:
		return e
	case domainError(err) != nil:
		return domainError(err)
	case errors.As(err, &tooBig):
		// Handlers that read the body themselves behind MaxBody see this.
		return TooLarge(fmt.Sprintf("request body is larger than the %d-byte limit; send a smaller body", tooBig.Limit))
	case errors.Is(err, store.ErrNotFound):
		return NotFound("the requested resource does not exist or you may not see it")
	case errors.Is(err, store.ErrConflict):
		return Conflict("conflict", "the request conflicts with the current state, for example a name that is already in use")
	case errors.Is(err, context.Canceled):
		// The client hung up: nobody will read the answer, so keep it
		// short and the log quiet. 499 (nginx's "client closed request")
		// keeps these out of the 5xx counts, since the server did nothing
		// wrong.
		requestLogger(r).Debug("request canceled", "error", err)
		return &Error{Status: StatusClientClosedRequest, Code: "client_closed_request", Message: "request canceled by the client"}
	}
	return internalError(r, err)
}

func internalError(r *http.Request, err error) *Error {
	attrs := []any{"error", err}
	var ctx context.Context = context.Background()
	if r != nil {
		ctx = r.Context()
		attrs = append(attrs, "method", r.Method, "path", r.URL.Path)
	}
	var p *panicError
	if errors.As(err, &p) {
		attrs = append(attrs, "stack", string(p.stack))
	}
	requestLogger(r).ErrorContext(ctx, "internal error", attrs...)

	msg := "internal error"
	if r != nil {
		if id := RequestIDFrom(r.Context()); id != "" {
			msg = fmt.Sprintf("internal error (request %s)", id)
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: msg}
}

func requestLogger(r *http.Request) *slog.Logger {
	if r == nil {
		return slog.Default()
	}
	return LoggerFrom(r.Context())
}

// WriteJSON answers with v encoded as JSON and the given status. The value is
// encoded before anything is sent, so an encoding failure can still become a
// clean 500 instead of half a body after a 200.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	writeJSON(w, status, v)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		slog.Error("httpx: encode JSON response", "error", err, "type", fmt.Sprintf("%T", v))
		status = http.StatusInternalServerError
		body = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	h := w.Header()
	if !bodyAllowed(status) {
		w.WriteHeader(status)
		return
	}
	body = append(body, '\n')
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body) // the client may be gone; nothing useful to do
}

// bodyAllowed mirrors net/http: these statuses must not carry a body.
func bodyAllowed(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}
